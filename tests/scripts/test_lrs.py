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


def stepped(training_steps, steps, **kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = CosineWithWarmupLR(optimizer, training_steps=training_steps, warmup_steps=3, **kwargs)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def test_scheduler_state_round_trip(recwarn):
    optimizer, scheduler = stepped(10, 4)
    other_optimizer, other = stepped(10, 0)
    other_optimizer.load_state_dict(optimizer.state_dict())
    other.load_state_dict(scheduler.state_dict())
    assert other.last_epoch == 4 and other.training_steps == 10 and other.warmup_steps == 3
    assert other_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]  # untouched: bit-exact resume
    assert not [w for w in recwarn if "resumed" in str(w.message)]


def test_extended_schedule_continues_over_the_new_length():
    optimizer, scheduler = stepped(10, 10)
    assert optimizer.param_groups[0]["lr"] == 0.0  # the end of the old schedule
    new_optimizer, new = stepped(20, 0)  # the same run resumed with max_steps=20
    new_optimizer.load_state_dict(optimizer.state_dict())
    with pytest.warns(UserWarning, match=r"resumed at step 10 with this run's training_steps 10 -> 20"):
        new.load_state_dict(scheduler.state_dict())
    expected = [0.5 * (1 + math.cos(math.pi * (step - 3) / 17)) for step in range(10, 20)]
    values = []
    for _ in range(10):
        values.append(new_optimizer.param_groups[0]["lr"])
        new_optimizer.step()
        new.step()
    assert values == pytest.approx(expected) and min(values) > 0


def test_unknown_training_steps_keep_the_checkpoint_value():
    optimizer, scheduler = stepped(10, 4)
    _, other = stepped(0, 0)
    other.load_state_dict(scheduler.state_dict())
    assert other.training_steps == 10


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
