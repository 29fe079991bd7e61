import math

import pytest
import torch

from perceiver.scripts.lrs import ConstantWithWarmupLR, CosineWithWarmupLR


def lrs(scheduler_cls, steps, **kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = scheduler_cls(optimizer, **kwargs)
    values = []
    for _ in range(steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def test_constant_with_warmup():
    values = lrs(ConstantWithWarmupLR, 8, warmup_steps=4)
    assert values == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert lrs(ConstantWithWarmupLR, 3) == pytest.approx([2.0] * 3)


def test_cosine_with_warmup_reference_formula():
    values = lrs(CosineWithWarmupLR, 14, training_steps=12, warmup_steps=2, min_fraction=0.1)
    assert values[:2] == pytest.approx([1.0, 2.0])
    for step in range(2, 14):
        progress = min(1.0, (step - 2) / 10)
        expected = 2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        assert values[step] == pytest.approx(expected), step
    assert values[-1] == pytest.approx(0.2)


def test_scheduler_state_round_trip():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = CosineWithWarmupLR(optimizer, training_steps=10, warmup_steps=3)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    other = CosineWithWarmupLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), training_steps=10)
    other.load_state_dict(state)
    assert other.last_epoch == 4 and other.warmup_steps == 3


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (ConstantWithWarmupLR, {"warmup_steps": -1}, "warmup_steps must be >= 0, got -1"),
        (CosineWithWarmupLR, {"min_fraction": 1.5}, r"min_fraction must be in \[0, 1\], got 1.5"),
    ],
)
def test_bad_input(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), **kwargs)


def test_rebind_optimizer_keeps_settings_and_schedule():
    from perceiver.scripts.cli import rebind_optimizer

    old_params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.AdamW(old_params, lr=0.5, weight_decay=0.2, betas=(0.8, 0.9))
    scheduler = ConstantWithWarmupLR(optimizer, warmup_steps=4)
    new_params = [torch.nn.Parameter(torch.ones(3))]
    new, moved = rebind_optimizer(optimizer, scheduler, new_params)
    assert new.param_groups[0]["params"] == new_params and moved is scheduler
    assert new.defaults == optimizer.defaults and new.param_groups[0]["lr"] == pytest.approx(0.125)
    for expected in (0.25, 0.375, 0.5, 0.5):
        new.step()
        moved.step()
        assert new.param_groups[0]["lr"] == pytest.approx(expected)
