"""``make demo``: train small Perceivers on data that ships with Python and scikit-learn, offline, on a laptop CPU.

- ``python -m perceiver.demo`` (or ``clm``): a byte-level Perceiver AR causal language model on CPython's
  documentation texts (``pydoc_data.topics``). Prints the validation loss (nats per byte on held-out topics) as it
  falls, exports a Hugging Face folder, continues a prompt with the ``text-generation`` pipeline and draws the
  loss curve (``loss-curve.png`` in the run's folder).
- ``python -m perceiver.demo digits``: a Perceiver IO image classifier on scikit-learn's 8x8 digits; prints the
  held-out accuracy.

A run takes ``--steps`` steps (default: sized for about 6.5 minutes of training on 2 quiet CPU cores) or stops at
``--minutes`` if that comes first. The learning rate anneals with a cosine over whichever of the two budgets is used
up faster, so a run ends annealed on a slow or busy machine too.
"""

import argparse
import math
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# OpenMP threads that spin while they wait lose several-fold when the cores are shared with other programs (on the
# project's shared 2-core machine a training step took 4 s instead of 1.3 s); sleeping waiters cost little when the
# machine is quiet. An OMP_WAIT_POLICY set by the caller wins. Only effective when torch is imported after this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback, ModelCheckpoint  # noqa: E402

from perceiver.demo_support import (  # noqa: E402
    UNIGRAM_NATS,
    CosineSchedule,
    ProgressPrinter,
    default_precision,
    plot_loss_curve,
    quiet_lightning,
)

PROMPT = 'The "for" statement is used to'


def _trainer(args: argparse.Namespace, callbacks: list[Callback], val_every: int | None) -> pl.Trainer:
    """``val_every``: validate every this many steps, or after every epoch where ``None``."""
    return pl.Trainer(
        accelerator=args.accelerator,
        devices=1,
        precision=args.precision,
        max_steps=args.steps,
        max_time=None if args.minutes is None else {"seconds": args.minutes * 60},
        max_epochs=-1,
        val_check_interval=1.0 if val_every is None else val_every,
        check_val_every_n_epoch=1 if val_every is None else None,
        num_sanity_val_steps=0,
        gradient_clip_val=1.0,
        default_root_dir=str(args.output_dir),
        callbacks=callbacks,
        logger=pl.loggers.CSVLogger(str(args.output_dir), name="logs"),
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def pydoc_clm_data(
    dataset_dir: str | Path,
    max_seq_len: int,
    batch_size: int,
    valid_batch_size: int = 64,
    min_train_seq_len: int | None = None,
) -> Any:
    """The bundled corpus as bytes for causal language modelling: left padding (Perceiver AR), training windows at
    random offsets, no loader workers (the batches are cheap to make). With ``min_train_seq_len``, each training
    batch is cut to a random length in ``[min_train_seq_len, max_seq_len]``."""
    from perceiver.data.text import PydocTextDataModule

    return PydocTextDataModule(
        dataset_dir=str(dataset_dir),
        task="clm",
        max_seq_len=max_seq_len,
        padding_side="left",
        random_train_shift=True,
        random_train_truncation=min_train_seq_len is not None,
        random_min_seq_len=min_train_seq_len or 16,
        batch_size=batch_size,
        valid_batch_size=valid_batch_size,
        num_workers=0,
    )


def demo_clm(args: argparse.Namespace) -> dict[str, Any]:
    from transformers import pipeline

    import perceiver.model.text.clm  # noqa: F401 (registers the Auto classes and the pipeline)
    from perceiver.model.text.clm.lightning import LitCausalLanguageModel

    class DemoCLM(LitCausalLanguageModel):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))

    # Training windows of random length put the latents (the last max_latents positions) at every position, as
    # generation from a short prompt does; with full windows only, positions below max_seq_len - max_latents are
    # never latents, and a model with absolute position embeddings continues short prompts poorly.
    data = pydoc_clm_data(
        args.output_dir / "data", args.max_seq_len, args.batch_size, min_train_seq_len=args.max_latents
    )
    model = DemoCLM(
        vocab_size=data.vocab_size,
        max_seq_len=args.max_seq_len,
        max_latents=args.max_latents,
        num_channels=args.num_channels,
        num_heads=args.num_heads,
        num_self_attention_layers=args.num_layers,
        cross_attention_dropout=args.cross_attention_dropout,
        post_attention_dropout=0.0,
        validation_sample_num_tokens=64,
    )
    num_params = sum(p.numel() for p in model.parameters())
    budget = f"{args.steps} steps" + ("" if args.minutes is None else f" or {args.minutes} min, whichever comes first")
    print(f"Perceiver AR, {num_params:,} parameters; bundled corpus: CPython documentation texts (pydoc_data)")
    print(f"Training for {budget}, precision {args.precision}, {torch.get_num_threads()} threads; validation loss")
    print(f"in nats per byte on held-out topics (a unigram byte model scores about {UNIGRAM_NATS:.0f}):")

    printer = ProgressPrinter("val_loss", "nats/byte", args.steps)
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_last=True, filename="{step:05d}-{val_loss:.3f}")
    schedule = CosineSchedule(args.lr, args.steps, args.minutes)
    trainer = _trainer(args, [schedule, printer, checkpoint], args.val_every)
    trainer.fit(model, data)
    final = trainer.validate(model, data, verbose=False)[0]["val_loss"]
    printer.record(trainer.global_step, final, "final")
    train_minutes = printer.minutes()
    print(f"\nFinal validation loss: {final:.4f} nats/byte ({final / math.log(2):.3f} bits/byte) after "
          f"{trainer.global_step} steps, {train_minutes:.1f} min")  # fmt: skip

    from perceiver.scripts.ready_folder import RunSummary, write_ready_folder

    # the model with the tokenizer its pipeline needs (no [CLS]/[SEP] around prompts, left padding, max_seq_len)
    hf_dir = args.output_dir / "hf"
    summary = RunSummary(trainer.global_step, metrics={"val_loss": final}, metrics_step=trainer.global_step)
    write_ready_folder(hf_dir, model, data, summary)

    # the sample comes through the public path: the exported folder and the text-generation pipeline, which
    # encodes the prompt as every user of the folder gets it encoded
    generator = pipeline("text-generation", model=str(hf_dir))
    torch.manual_seed(args.seed)
    sample = generator(PROMPT, max_new_tokens=args.sample_tokens, num_latents=args.max_latents, do_sample=True,
                       top_k=5, temperature=0.8, return_full_text=False)[0]["generated_text"]  # fmt: skip
    print(f"\nSample (prompt, then {args.sample_tokens} generated bytes, top-k 5, temperature 0.8, KV cache):\n")
    print(PROMPT + sample)

    title = (f"make demo: Perceiver AR, {num_params / 1e6:.1f}M parameters, {trainer.global_step} steps in "
             f"{train_minutes:.1f} min\nfinal validation loss {final:.3f} nats/byte on held-out topics")  # fmt: skip
    curve = plot_loss_curve(printer, args.output_dir / "loss-curve.png", title)
    print(f"\nLoss curve: {curve}" if curve else "")
    print(f"Checkpoints: {Path(checkpoint.dirpath)}; Hugging Face model: {hf_dir}")
    print(
        f'  from transformers import pipeline; import perceiver.model.text.clm; pipeline("text-generation", "{hf_dir}")'
    )
    return {
        "val_loss": final,
        "history": printer.valid,
        "train_history": printer.train,
        "steps": trainer.global_step,
        "minutes": train_minutes,
        "num_params": num_params,
        "hf_dir": hf_dir,
        "sample": sample,
        "loss_curve": curve,
    }


def demo_digits(args: argparse.Namespace) -> dict[str, Any]:
    from perceiver.data.vision.digits import DigitsDataModule
    from perceiver.model.core.config import ClassificationDecoderConfig
    from perceiver.model.vision.image_classifier.backend import ImageEncoderConfig
    from perceiver.model.vision.image_classifier.lightning import LitImageClassifier

    class DemoImageClassifier(LitImageClassifier):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=args.lr, weight_decay=0.05)

    data = DigitsDataModule(batch_size=args.batch_size, random_shift=1)
    encoder = ImageEncoderConfig(
        image_shape=data.image_shape,
        num_frequency_bands=8,
        num_cross_attention_heads=1,
        num_self_attention_heads=4,
        num_self_attention_layers_per_block=args.num_layers,
        dropout=0.1,
        init_scale=0.1,
    )
    decoder = ClassificationDecoderConfig(
        num_classes=data.num_classes, num_output_query_channels=args.num_channels, num_cross_attention_heads=1,
        init_scale=0.1,
    )  # fmt: skip
    model = DemoImageClassifier(encoder, decoder, num_latents=args.max_latents, num_latent_channels=args.num_channels)
    num_params = sum(p.numel() for p in model.parameters())
    print(f"Perceiver IO image classifier, {num_params:,} parameters; data: scikit-learn 8x8 digits (1437 train)")
    print(f"Training for {args.steps} steps or {args.minutes} min; accuracy on 360 held-out digits:")
    printer = ProgressPrinter("val_acc", "", args.steps)
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_last=True)
    schedule = CosineSchedule(args.lr, args.steps, args.minutes, warmup_steps=50)
    trainer = _trainer(args, [schedule, printer, checkpoint], None)
    trainer.fit(model, data)
    result = trainer.validate(model, data, verbose=False)[0]
    print(f"\nFinal held-out accuracy: {result['val_acc']:.4f} (val_loss {result['val_loss']:.4f})")
    return {"val_acc": result["val_acc"], "history": printer.valid, "num_params": num_params}


DEFAULTS = {
    # clm: 1000 steps are about 5 minutes on 2 quiet CPU cores with native bfloat16 (see docs/training-examples.md)
    "clm": dict(steps=1000, minutes=None, num_channels=192, num_layers=4, max_latents=128, batch_size=32, lr=2e-3),
    "digits": dict(steps=5000, minutes=3.0, num_channels=64, num_layers=2, max_latents=16, batch_size=64, lr=2e-3),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", default="clm", choices=["clm", "digits"])
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes of training")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU is available")
    parser.add_argument(
        "--precision", default="auto", choices=["auto", "32-true", "bf16-mixed"],
        help="auto: bf16-mixed where the hardware multiplies bfloat16 natively, else 32-true",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-channels", type=int, default=None)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--num-layers", type=int, default=None)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--max-latents", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--cross-attention-dropout", type=float, default=0.1)
    parser.add_argument("--val-every", type=int, default=200, help="validate every this many steps (clm)")
    parser.add_argument("--sample-tokens", type=int, default=300)
    args = parser.parse_args(argv)
    for key, value in DEFAULTS[args.task].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.steps <= 0:
        parser.error(f"--steps must be > 0, got {args.steps}")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes must be > 0, got {args.minutes}")
    args.accelerator = "cpu" if args.cpu or not torch.cuda.is_available() else "auto"
    if args.precision == "auto":
        args.precision = default_precision(args.accelerator)
    if args.output_dir is None:
        args.output_dir = Path("logs") / f"demo-{args.task}"
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    pl.seed_everything(args.seed, verbose=False)
    torch.set_float32_matmul_precision("high")
    with quiet_lightning():
        return demo_clm(args) if args.task == "clm" else demo_digits(args)


if __name__ == "__main__":
    main()
