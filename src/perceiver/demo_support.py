"""What the demos need around training: a learning-rate schedule over a step or time budget, plain progress lines,
the loss curve as a picture, quiet logging, and the precision to train in."""

import contextlib
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

UNIGRAM_NATS = 3.0  # about what a unigram byte model scores on the demo corpus


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX); read from ``cpuinfo``
    where it exists (Linux), else assumed not."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def default_precision(accelerator: str) -> str:
    """``bf16-mixed`` on a CUDA GPU with bfloat16 and on CPUs with native bfloat16 matrix products (the demo model
    trains about 1.8x faster there), else ``32-true``."""
    if accelerator != "cpu" and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    return "bf16-mixed" if cpu_has_native_bf16() else "32-true"


class CosineSchedule(Callback):
    """Linear warmup over ``warmup_steps``, then a cosine decay to ``min_fraction`` of ``lr``. The decay's progress is
    the larger of the step fraction (of ``steps``) and the time fraction (of ``minutes``, where given)."""

    def __init__(
        self, lr: float, steps: int, minutes: float | None, warmup_steps: int = 100, min_fraction: float = 0.05
    ):
        self.lr = lr
        self.steps = steps
        self.budget_s = None if minutes is None else minutes * 60.0
        self.warmup_steps = warmup_steps
        self.min_fraction = min_fraction
        self.start = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.monotonic()

    def progress(self, step: int) -> float:
        fraction = step / self.steps
        if self.budget_s is not None:
            fraction = max(fraction, (time.monotonic() - self.start) / self.budget_s)
        return min(1.0, fraction)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return self.min_fraction + (1 - self.min_fraction) * 0.5 * (1 + math.cos(math.pi * self.progress(step)))

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, idx: int) -> None:
        lr = self.lr * self.factor(trainer.global_step)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr


class ProgressPrinter(Callback):
    """Plain progress lines instead of a progress bar: one every ``every_s`` seconds of training, and one per
    validation. Keeps the history of training and validation losses for the loss curve."""

    def __init__(self, metric: str, unit: str, steps: int, every_s: float = 30.0):
        self.metric = metric
        self.unit = unit
        self.steps = steps
        self.every_s = every_s
        self.start = time.monotonic()
        self.last_print = self.start
        self.train: list[tuple[int, float]] = []
        self.valid: list[tuple[int, float, float]] = []  # step, minutes, value

    def minutes(self) -> float:
        return (time.monotonic() - self.start) / 60

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = self.last_print = time.monotonic()
        self.start_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           idx: int) -> None:  # fmt: skip
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.train.append((trainer.global_step, float(loss)))
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            rate = (trainer.global_step - self.start_step) / (now - self.start)
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            print(f"  step {trainer.global_step:5d}/{self.steps}  {self.minutes():5.1f} min  train_loss "
                  f"{float(loss):.3f}  lr {lr:.1e}  {rate:.2f} steps/s", flush=True)  # fmt: skip

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or self.metric not in trainer.callback_metrics:
            return
        self.record(trainer.global_step, float(trainer.callback_metrics[self.metric]), "validation")

    def record(self, step: int, value: float, label: str) -> None:
        self.valid.append((step, self.minutes(), value))
        extra = f" ({value / math.log(2):.3f} bits/byte)" if self.unit == "nats/byte" else ""
        print(f"  step {step:5d}  {self.minutes():5.1f} min  {label} {self.metric} {value:.4f} {self.unit}{extra}",
              flush=True)  # fmt: skip


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep the console to the demo's own lines (no Lightning banners, tips or deprecation notes, no progress bars)
    while the block runs; the logging settings of the process come back afterwards."""
    import logging

    from datasets.utils import logging as datasets_logging
    from transformers.utils import logging as transformers_logging

    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    levels = {name: logging.getLogger(name).level for name in names}
    datasets_bars, verbosity = datasets_logging.is_progress_bar_enabled(), transformers_logging.get_verbosity()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(treespec|LeafSpec|many workers|litlogger|logging interval).*")
        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)
        datasets_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            if datasets_bars:
                datasets_logging.enable_progress_bar()
            transformers_logging.enable_progress_bar()
            transformers_logging.set_verbosity(verbosity)


def plot_loss_curve(printer: ProgressPrinter, path: Path, title: str) -> Path | None:
    """Training loss (smoothed over 25 steps) and validation loss against steps, as a PNG; ``None`` without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss curve (pip install matplotlib)")
        return None
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 3.8))
    if printer.train:
        steps, losses = (np.array(v) for v in zip(*printer.train))
        width = min(25, len(losses))
        smooth = np.convolve(losses, np.ones(width) / width, mode="valid")
        ax.plot(steps[width - 1 :], smooth, label="training loss (25-step mean)", alpha=0.8)
    if printer.valid:
        ax.plot([s for s, _, _ in printer.valid], [v for _, _, v in printer.valid], "o-", label="validation loss")
    ax.axhline(UNIGRAM_NATS, color="gray", linestyle=":", label="unigram byte model")
    ax.set_xlabel("step")
    ax.set_ylabel("nats per byte")
    ax.set_ylim(bottom=0.8, top=3.6)
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
