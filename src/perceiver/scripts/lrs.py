"""Learning-rate schedules with linear warmup, stepped once per optimizer step."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def _require_non_negative(**kwargs: int | float) -> None:
    for name, value in kwargs.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


class ConstantWithWarmupLR(LambdaLR):
    """Linear warmup from 0 to the optimizer's learning rate over ``warmup_steps``, then constant."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int = 0, last_epoch: int = -1):
        _require_non_negative(warmup_steps=warmup_steps)
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return 1.0


class CosineWithWarmupLR(LambdaLR):
    """Linear warmup over ``warmup_steps``, then cosine decay to ``min_fraction`` of the learning rate at
    ``training_steps`` (``num_cycles=0.5`` is half a cosine period: one monotonic decay).

    ``training_steps <= 0`` means "not known yet": the CLI sets it to the trainer's estimated number of steps
    before training starts (``trainer.max_steps`` is linked to it otherwise)."""

    def __init__(
        self,
        optimizer: Optimizer,
        training_steps: int = 0,
        warmup_steps: int = 0,
        num_cycles: float = 0.5,
        min_fraction: float = 0.0,
        last_epoch: int = -1,
    ):
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
