"""Music demo: train a small Perceiver AR symbolic audio model on Bach chorales and continue a chorale prompt.

``python -m perceiver.demo_music`` (``make demo-music``) runs offline on CPU in a few minutes:

1. converts music21's Bach chorales to MIDI and tokenizes them (once, cached in ``--data_dir``),
2. trains through the training CLI (``perceiver.scripts.audio.symbolic``) for ``--max_steps`` steps or
   ``--max_minutes`` minutes, whichever comes first, and reports the validation loss before and after,
3. continues the opening of a held-out chorale with the ``symbolic-audio-generation`` pipeline and writes the
   result to ``--output`` (a ``.mid`` file) with a JSON summary next to it.
"""

import argparse
import json
import math
import time
from pathlib import Path

import pretty_midi
import torch

from perceiver.data.audio import VOCAB_SIZE, BachChoralesDataModule, decode_midi, encode_midi, load_midi
from perceiver.scripts.audio.symbolic import main as symbolic_cli


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m perceiver.demo_music", description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", default="out/demo-music/bach-chorales", help="converted chorales and token files")
    p.add_argument("--output", default="out/demo-music/continuation.mid", help="the generated MIDI file")
    p.add_argument("--max_steps", type=int, default=1500)
    p.add_argument("--max_minutes", type=float, default=5.0, help="training time limit")
    p.add_argument(
        "--budget_minutes", type=float, default=8.5, help="limit of the whole run: training gets what is left"
    )
    p.add_argument("--max_seq_len", type=int, default=256)
    p.add_argument("--max_latents", type=int, default=128)
    p.add_argument("--num_channels", type=int, default=128)
    p.add_argument("--num_layers", type=int, default=4)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--val_every", type=int, default=250, help="validate every this many steps")
    p.add_argument("--prompt_tokens", type=int, default=128)
    p.add_argument("--new_tokens", type=int, default=512)
    p.add_argument("--max_chorales", type=int, default=None, help="use only the first chorales (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def cli_args(args: argparse.Namespace, log_dir: Path, train_seconds: int) -> list[str]:
    max_time = f"00:{train_seconds // 3600:02d}:{train_seconds % 3600 // 60:02d}:{train_seconds % 60:02d}"
    return [
        f"--seed_everything={args.seed}",
        "--data=BachChoralesDataModule",
        f"--data.dataset_dir={args.data_dir}",
        f"--data.max_seq_len={args.max_seq_len}",
        f"--data.batch_size={args.batch_size}",
        "--data.num_workers=0",
        "--data.preproc_workers=2",
        *([f"--data.max_chorales={args.max_chorales}"] if args.max_chorales else []),
        f"--model.max_latents={args.max_latents}",
        f"--model.num_channels={args.num_channels}",
        "--model.num_heads=4",
        f"--model.num_self_attention_layers={args.num_layers}",
        "--model.cross_attention_dropout=0.1",
        "--model.post_attention_dropout=0.0",
        "--model.residual_dropout=0.1",
        "--optimizer=AdamW",
        "--optimizer.lr=1e-3",
        "--optimizer.weight_decay=0.01",
        "--lr_scheduler.warmup_steps=40",
        "--lr_scheduler.min_fraction=0.1",
        f"--trainer.max_steps={args.max_steps}",
        f"--trainer.max_time={max_time}",
        "--trainer.max_epochs=-1",
        "--trainer.check_val_every_n_epoch=null",
        f"--trainer.val_check_interval={args.val_every}",
        "--trainer.gradient_clip_val=1.0",
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.log_every_n_steps=50",
        f"--trainer.default_root_dir={log_dir}",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.save_dir={log_dir}",
    ]


def held_out_prompt(data_dir: Path) -> tuple[Path, pretty_midi.PrettyMIDI]:
    """The first validation chorale (never trained on)."""
    path = sorted((data_dir / "valid").glob("*.mid"))[0]
    return path, load_midi(path)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.time()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)

    # Convert and tokenize first (cached), then give training the time the budget leaves (one minute is kept for
    # validation and generation).
    BachChoralesDataModule(
        max_seq_len=args.max_seq_len, dataset_dir=args.data_dir, preproc_workers=2, max_chorales=args.max_chorales
    ).prepare_data()
    prepared = time.time()
    left = args.budget_minutes * 60 - (prepared - start) - 60
    train_seconds = int(max(30, min(args.max_minutes * 60, left)))
    print(f"data ready in {prepared - start:.0f} s ({args.data_dir}); training for at most {train_seconds} s")

    cli = symbolic_cli(cli_args(args, output.parent / "logs", train_seconds), run=False)
    model, data, trainer = cli.model, cli.datamodule, cli.trainer

    initial = trainer.validate(model, datamodule=data, verbose=False)[0]["val_loss"]
    trainer.fit(model, datamodule=data)
    trained = time.time()
    final = trainer.validate(model, datamodule=data, verbose=False)[0]["val_loss"]
    print(
        f"trained {trainer.global_step} steps in {trained - prepared:.0f} s: val_loss {initial:.3f} -> {final:.3f} "
        f"nats (uniform ln({VOCAB_SIZE}) = {math.log(VOCAB_SIZE):.3f})"
    )

    from transformers import pipeline

    import perceiver.model.audio.symbolic  # noqa: F401 (registers the pipeline)

    prompt_path, prompt = held_out_prompt(Path(args.data_dir))
    prompt_ids = encode_midi(prompt)[: args.prompt_tokens]
    prompt_end = decode_midi(prompt_ids).get_end_time()
    hf_model = model.to_hgf_model().eval()
    generator = pipeline("symbolic-audio-generation", model=hf_model, device="cpu")
    torch.manual_seed(args.seed)
    result = generator(
        prompt,
        max_prompt_length=args.prompt_tokens,
        max_new_tokens=args.new_tokens,
        num_latents=min(args.max_latents, len(prompt_ids)),
        do_sample=True,
        top_k=15,
        use_cache=True,
    )
    result["generated_audio_midi"].write(str(output))

    written = pretty_midi.PrettyMIDI(str(output))  # check the file loads
    notes = [n for inst in written.instruments for n in inst.notes]
    notes_after = int(sum(n.start >= prompt_end for n in notes))
    summary = {
        "output": str(output),
        "prompt": prompt_path.name,
        "prompt_tokens": len(prompt_ids),
        "prompt_seconds": round(prompt_end, 2),
        "new_tokens": args.new_tokens,
        "notes": len(notes),
        "notes_after_prompt": notes_after,
        "seconds": round(written.get_end_time(), 2),
        "steps": trainer.global_step,
        "val_loss_initial": round(initial, 4),
        "val_loss_final": round(final, 4),
        "uniform_loss": round(math.log(VOCAB_SIZE), 4),
        "train_seconds": round(trained - prepared, 1),
        "total_seconds": round(time.time() - start, 1),
    }
    output.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(
        f"wrote {output}: {len(notes)} notes, {notes_after} after the {prompt_end:.1f} s prompt "
        f"(from {prompt_path.name}), {written.get_end_time():.1f} s in all; total {summary['total_seconds']:.0f} s"
    )
    return summary


if __name__ == "__main__":
    main()
