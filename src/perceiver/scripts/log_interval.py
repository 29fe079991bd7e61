"""How often a training run logs its step metrics (``train_loss``, ``lr``, ...) when ``log_every_n_steps`` is not
given: Lightning's fixed 50 steps log nothing in a short run."""

import math

import lightning.pytorch as pl

MAX_INTERVAL = 50  # Lightning's default: long runs log as before
POINTS_PER_RUN = 50


def log_interval(total_steps: float) -> int:
    """About ``POINTS_PER_RUN`` points over the run, at least one per ``MAX_INTERVAL`` steps."""
    if math.isinf(total_steps) or total_steps <= 0:
        return MAX_INTERVAL
    return max(1, min(MAX_INTERVAL, int(total_steps) // POINTS_PER_RUN))


class LogInterval(pl.Callback):
    """Sets ``trainer.log_every_n_steps`` from the run's number of optimizer steps at the start of ``fit`` (the
    training CLI adds it unless ``--trainer.log_every_n_steps`` is given)."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.log_every_n_steps = 1  # no "fewer batches than the logging interval" warning while Lightning counts
        trainer.log_every_n_steps = log_interval(trainer.estimated_stepping_batches)


__all__ = ["LogInterval", "log_interval"]
