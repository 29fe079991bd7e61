"""``last.ckpt`` that is always the newest state of a training run.

Lightning's ``ModelCheckpoint(save_last=True)`` refreshes ``last.ckpt`` only when it also writes a monitored
checkpoint, so once the validation loss stops improving ``last.ckpt`` stops moving, and at the end of a run it can
miss the final steps: resuming or extending such a run silently repeats them. :class:`LastCheckpoint` (in the CLI's
default ``trainer.yaml``) writes ``last.ckpt`` after every validation and epoch of ``fit`` and when ``fit`` ends.
"""

import os
from collections.abc import Iterable
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.trainer.states import TrainerFn


class LastCheckpoint(Checkpoint):
    """Writes ``<dirpath>/<filename>.ckpt`` (``last.ckpt``) whenever ``fit`` validated, finished an epoch or ended,
    at most once per optimizer step. ``dirpath`` defaults to that of the trainer's ``ModelCheckpoint`` (else
    ``<default_root_dir>/checkpoints``), where ``--ckpt_path=last`` looks."""

    def __init__(self, dirpath: str | None = None, filename: str = "last"):
        self.dirpath = dirpath
        self.filename = filename
        self._saved_step: int | None = None

    def checkpoint_path(self, trainer: pl.Trainer) -> str:
        dirpath = self.dirpath or getattr(trainer.checkpoint_callback, "dirpath", None)
        if dirpath is None:
            dirpath = os.path.join(trainer.default_root_dir, "checkpoints")
        return os.path.join(dirpath, f"{self.filename}.ckpt")

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking or trainer.fast_dev_run:
            return
        if self._saved_step == trainer.global_step:
            return
        trainer.save_checkpoint(self.checkpoint_path(trainer))
        self._saved_step = trainer.global_step

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)


def newest_last_checkpoint(dirs: Iterable[str | os.PathLike]) -> str | None:
    """The most recently written ``last.ckpt`` (or Lightning's ``last-v<n>.ckpt``) in or below ``dirs``."""
    found = []
    for directory in dirs:
        root = Path(directory)
        if root.is_dir():
            found += [p for p in root.rglob("last*.ckpt") if p.stem == "last" or p.stem.startswith("last-v")]
    return str(max(found, key=lambda p: p.stat().st_mtime)) if found else None


__all__ = ["LastCheckpoint", "newest_last_checkpoint"]
