"""Learning-rate schedules with linear warmup, stepped once per optimizer step.

A schedule's shape (``training_steps``, ``warmup_steps``, ...) comes from the arguments of the run that builds it;
a checkpoint restores only its position (``last_epoch``). Resuming with a larger ``--trainer.max_steps`` (linked to
``training_steps``) therefore continues on a schedule over the new length instead of the old one's end, where the
learning rate is 0.
"""

import math
import warnings
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def _require_non_negative(**kwargs: int | float) -> None:
    for name, value in kwargs.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


class WarmupSchedule(LambdaLR):
    """Base of the schedules: ``factor(step)`` scales the optimizer's learning rate; ``shape_fields`` name the
    arguments that define the schedule (kept from the current run when a checkpoint is loaded)."""

    shape_fields: tuple[str, ...] = ("warmup_steps",)

    def factor(self, step: int) -> float:
        raise NotImplementedError

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        configured = {name: getattr(self, name) for name in self.shape_fields}
        super().load_state_dict(state_dict)
        changed = {}
        for name, value in configured.items():
            if name == "training_steps" and value <= 0:
                continue  # not known in this run (no max_steps): the checkpoint's value stays
            restored = state_dict.get(name, value)
            if restored != value:
                changed[name] = (restored, value)
            setattr(self, name, value)
        if changed:
            # the optimizer was restored with the old schedule's learning rate: move it onto the new schedule
            lrs = [base_lr * self.factor(self.last_epoch) for base_lr in self.base_lrs]
            for group, lr in zip(self.optimizer.param_groups, lrs):
                group["lr"] = lr
            self._last_lr = lrs
            summary = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in changed.items())
            warnings.warn(
                f"{type(self).__name__} resumed at step {self.last_epoch} with this run's {summary} (the checkpoint "
                f"had the values on the left): the learning rate continues on the new schedule, now "
                f"{lrs[0]:.3g}",
                stacklevel=2,
            )


class ConstantWithWarmupLR(WarmupSchedule):
    """Linear warmup from 0 to the optimizer's learning rate over ``warmup_steps``, then constant."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int = 0, last_epoch: int = -1):
        """
        :param warmup_steps: optimizer steps of linear warmup from 0 to the optimizer's learning rate.
        """
        _require_non_negative(warmup_steps=warmup_steps)
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return 1.0


class CosineWithWarmupLR(WarmupSchedule):
    """Linear warmup over ``warmup_steps``, then cosine decay to ``min_fraction`` of the learning rate at
    ``training_steps`` (``num_cycles=0.5`` is half a cosine period: one monotonic decay).

    ``training_steps <= 0`` means "not known yet": the CLI sets it to the trainer's estimated number of steps
    before training starts (``trainer.max_steps`` is linked to it otherwise)."""

    shape_fields = ("training_steps", "warmup_steps", "num_cycles", "min_fraction")

    def __init__(
        self,
        optimizer: Optimizer,
        training_steps: int = 0,
        warmup_steps: int = 0,
        num_cycles: float = 0.5,
        min_fraction: float = 0.0,
        last_epoch: int = -1,
    ):
        """
        :param training_steps: step at which the decay ends (linked to ``--trainer.max_steps`` by the CLI; <= 0:
            the run's estimated number of steps).
        :param warmup_steps: optimizer steps of linear warmup from 0 to the optimizer's learning rate.
        :param num_cycles: cosine periods from the end of warmup to ``training_steps`` (0.5: one decay).
        :param min_fraction: fraction of the learning rate reached at ``training_steps`` and kept afterwards.
        """
        _require_non_negative(warmup_steps=warmup_steps, num_cycles=num_cycles)
        if not 0.0 <= min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in [0, 1], got {min_fraction}")
        self.training_steps = training_steps
        self.warmup_steps = warmup_steps
        self.num_cycles = num_cycles
        self.min_fraction = min_fraction
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_steps = max(1, self.training_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        cosine = max(0.0, 0.5 * (1.0 + math.cos(2.0 * math.pi * self.num_cycles * progress)))
        return self.min_fraction + (1.0 - self.min_fraction) * cosine
