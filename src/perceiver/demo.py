"""``make demo``: train small Perceivers on data that ships with Python and scikit-learn, offline, on a laptop CPU.

- ``python -m perceiver.demo`` (or ``clm``): a byte-level Perceiver AR causal language model on CPython's
  documentation texts (``pydoc_data.topics``). Prints the validation loss (nats per byte on held-out topics) as it
  falls, then continues a prompt with the KV cache, and leaves a Lightning checkpoint and a Hugging Face folder
  that ``pipeline("text-generation")`` loads.
- ``python -m perceiver.demo digits``: a Perceiver IO image classifier on scikit-learn's 8x8 digits; prints the
  held-out accuracy.

Training runs for a fixed time budget (``--minutes``); the learning rate follows a cosine over that time, so the
run ends annealed however fast the machine is.
"""

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar  # noqa: E402

PROMPT = 'The "for" statement is used to'


class TimeCosineLR(Callback):
    """Linear warmup over ``warmup_steps``, then a cosine decay to ``min_fraction`` over the wall-clock budget."""

    def __init__(self, lr: float, minutes: float, warmup_steps: int = 100, min_fraction: float = 0.05):
        self.lr = lr
        self.budget_s = minutes * 60.0
        self.warmup_steps = warmup_steps
        self.min_fraction = min_fraction
        self.start = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.monotonic()

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (time.monotonic() - self.start) / self.budget_s)
        return self.min_fraction + (1 - self.min_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        lr = self.lr * self.factor(trainer.global_step)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
        pl_module.log("lr", lr)


class PrintValidation(Callback):
    """Prints each validation result on its own line (the progress bar overwrites itself)."""

    def __init__(self, metric: str, unit: str):
        self.metric = metric
        self.unit = unit
        self.start = time.monotonic()
        self.history: list[tuple[int, float, float]] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training and trainer.state.fn != "fit":
            return
        if self.metric not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.metric])
        elapsed = time.monotonic() - self.start
        self.history.append((trainer.global_step, elapsed, value))
        extra = f" ({value / math.log(2):.3f} bits/byte)" if self.unit == "nats/byte" else ""
        print(
            f"\n  step {trainer.global_step:5d}  {elapsed / 60:5.1f} min  {self.metric} {value:.4f} {self.unit}{extra}"
        )


def _trainer(args: argparse.Namespace, callbacks: list[Callback], val_every: int | None) -> pl.Trainer:
    """``val_every``: validate every this many steps, or after every epoch where ``None``."""
    return pl.Trainer(
        accelerator="cpu" if args.cpu else "auto",
        devices=1,
        max_time={"minutes": args.minutes},
        max_epochs=-1,
        val_check_interval=1.0 if val_every is None else val_every,
        check_val_every_n_epoch=1 if val_every is None else None,
        num_sanity_val_steps=0,
        gradient_clip_val=1.0,
        default_root_dir=str(args.output_dir),
        callbacks=callbacks + [TQDMProgressBar(refresh_rate=10)],
        logger=pl.loggers.CSVLogger(str(args.output_dir), name="logs"),
        enable_model_summary=False,
    )


def demo_clm(args: argparse.Namespace) -> dict[str, Any]:
    from perceiver.data.text import PydocTextDataModule
    from perceiver.model.text.clm.lightning import LitCausalLanguageModel

    class DemoCLM(LitCausalLanguageModel):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.95))

    data = PydocTextDataModule(
        dataset_dir=str(args.output_dir / "data"),
        task="clm",
        max_seq_len=args.max_seq_len,
        padding_side="left",
        random_train_shift=True,
        batch_size=args.batch_size,
        valid_batch_size=64,
        num_workers=0,
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
    print(f"Perceiver AR, {num_params:,} parameters; bundled corpus: CPython documentation texts (pydoc_data)")
    print(f"Training for {args.minutes} min; validation loss in nats per byte on held-out topics (unigram ~3):")

    printer = PrintValidation("val_loss", "nats/byte")
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_last=True, filename="{step:05d}-{val_loss:.3f}")
    trainer = _trainer(args, [TimeCosineLR(args.lr, args.minutes), printer, checkpoint], args.val_every)
    trainer.fit(model, data)
    final = trainer.validate(model, data, verbose=False)[0]["val_loss"]
    printer.history.append((trainer.global_step, time.monotonic() - printer.start, final))
    print(f"\nFinal validation loss: {final:.4f} nats/byte ({final / math.log(2):.3f} bits/byte)")

    tokenizer = data.tokenizer
    prompt_ids = torch.tensor([tokenizer(PROMPT, add_special_tokens=False)["input_ids"]])
    torch.manual_seed(args.seed)
    generated = model.generate_continuation(prompt_ids, args.sample_tokens, do_sample=True, top_k=5, temperature=0.8)
    print(f"\nSample (prompt, then {args.sample_tokens} generated bytes, top-k 5, KV cache):\n")
    print(PROMPT + tokenizer.decode(generated[0, prompt_ids.shape[1] :], skip_special_tokens=True))

    from perceiver.scripts.ready_folder import RunSummary, write_ready_folder

    # the model with the tokenizer its pipeline needs (no [CLS]/[SEP] around prompts, left padding, max_seq_len)
    hf_dir = args.output_dir / "hf"
    summary = RunSummary(trainer.global_step, metrics={"val_loss": final}, metrics_step=trainer.global_step)
    write_ready_folder(hf_dir, model, data, summary)
    print(f"\nCheckpoints: {Path(checkpoint.dirpath)}; Hugging Face model: {hf_dir}")
    print(
        f'  from transformers import pipeline; import perceiver.model.text.clm; pipeline("text-generation", "{hf_dir}")'
    )
    return {"val_loss": final, "history": printer.history, "num_params": num_params, "hf_dir": hf_dir}


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
    print(f"Training for {args.minutes} min; accuracy on 360 held-out digits:")
    printer = PrintValidation("val_acc", "")
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_last=True)
    trainer = _trainer(args, [TimeCosineLR(args.lr, args.minutes, warmup_steps=50), printer, checkpoint], None)
    trainer.fit(model, data)
    result = trainer.validate(model, data, verbose=False)[0]
    print(f"\nFinal held-out accuracy: {result['val_acc']:.4f} (val_loss {result['val_loss']:.4f})")
    return {"val_acc": result["val_acc"], "history": printer.history, "num_params": num_params}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", default="clm", choices=["clm", "digits"])
    parser.add_argument("--minutes", type=float, default=None, help="training time budget")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU is available")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-channels", type=int, default=None)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--num-layers", type=int, default=None)
    parser.add_argument("--max-seq-len", type=int, default=256)
    parser.add_argument("--max-latents", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--cross-attention-dropout", type=float, default=0.1)
    parser.add_argument("--val-every", type=int, default=100, help="validate every this many steps (clm)")
    parser.add_argument("--sample-tokens", type=int, default=300)
    args = parser.parse_args(argv)
    defaults = {
        "clm": dict(minutes=6.5, num_channels=192, num_layers=4, max_latents=128, batch_size=32, lr=2e-3),
        "digits": dict(minutes=3.0, num_channels=64, num_layers=2, max_latents=16, batch_size=64, lr=2e-3),
    }[args.task]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.output_dir is None:
        args.output_dir = Path("logs") / f"demo-{args.task}"
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    pl.seed_everything(args.seed, verbose=False)
    torch.set_float32_matmul_precision("high")
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    return demo_clm(args) if args.task == "clm" else demo_digits(args)


if __name__ == "__main__":
    main()
