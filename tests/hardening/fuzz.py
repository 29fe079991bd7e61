"""Shared pieces of the property-based (hypothesis) tests: the contract check, strategies and case counting.

The contract of every public entry point: a call returns a correct output (finite, the documented shape) or
raises a ``ValueError``/``TypeError`` with a message; any other exception (``IndexError``, a ``RuntimeError`` from
inside torch, ...) fails the test, and so does a call that takes longer than ``CALL_TIMEOUT_S`` (a hang).
"""

import collections
import signal
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Entry point name -> number of fuzz cases run in this session (reported by conftest.py).
CASES: collections.Counter = collections.Counter()
# Entry point -> number of those cases that returned an output (the rest raised a clear ValueError/TypeError).
OUTPUTS: collections.Counter = collections.Counter()
CALL_TIMEOUT_S = 60

settings.register_profile(
    "hardening-default",
    max_examples=12,
    deadline=None,
    derandomize=True,  # the default run is reproducible; the long profile explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "hardening-long",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Every fuzz test runs twice: a bounded default profile and a long one marked slow.
PROFILES = pytest.mark.parametrize(
    "profile", ["hardening-default", pytest.param("hardening-long", marks=pytest.mark.slow)]
)


class CallTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise CallTimeout(f"call took longer than {CALL_TIMEOUT_S} s (hang?)")


def call(entry: str, fn: Callable[[], Any]) -> Any | None:
    """Run ``fn``; return its output, or ``None`` if it raised a ValueError/TypeError with a message. Other
    exceptions propagate and fail the property."""
    CASES[entry] += 1
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_TIMEOUT_S)
    try:
        with torch.no_grad():
            out = fn()
        OUTPUTS[entry] += 1
        return out
    except (ValueError, TypeError) as e:
        assert str(e).strip(), f"{entry}: {type(e).__name__} without a message"
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_finite(name: str, t: torch.Tensor, shape: tuple[int, ...] | None = None) -> None:
    assert isinstance(t, torch.Tensor), f"{name}: not a tensor but {type(t).__name__}"
    if shape is not None:
        assert tuple(t.shape) == tuple(shape), f"{name}: shape {tuple(t.shape)}, documented {tuple(shape)}"
    if t.dtype.is_floating_point:
        assert torch.isfinite(t).all(), f"{name}: non-finite values"


INT_DTYPES = [torch.int64, torch.int32, torch.int16, torch.uint8]
ODD_DTYPES = [torch.float32, torch.float16, torch.bool, torch.complex64]


@st.composite
def token_tensors(draw: Any, vocab_size: int, max_len: int, max_batch: int = 3) -> torch.Tensor:
    """Token id tensors: half valid (``(batch, length)``, int64/int32, ids in ``[0, vocab_size)``), half anything
    near it (0-3 dims, empty, too long, odd dtypes, ids outside the vocabulary)."""
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    if not draw(st.booleans()):
        batch, length = draw(st.integers(1, max_batch)), draw(st.integers(1, max_len))
        dtype = draw(st.sampled_from([torch.int64, torch.int32]))
        return torch.randint(0, vocab_size, (batch, length), generator=gen).to(dtype)
    ndim = draw(st.sampled_from([2, 2, 2, 1, 3, 0]))
    batch = draw(st.integers(0, max_batch))
    length = draw(st.integers(0, max_len + 3))
    shape = {0: (), 1: (length,), 2: (batch, length), 3: (batch, length, 2)}[ndim]
    dtype = draw(st.sampled_from(INT_DTYPES * 2 + ODD_DTYPES))
    low, high = (0, vocab_size - 1) if draw(st.booleans()) else (-3, vocab_size + 3)
    if dtype == torch.uint8:
        low, high = max(low, 0), min(high, 255)
    return torch.randint(low, high + 1, shape, generator=gen).to(dtype)


@st.composite
def attention_masks(draw: Any, input_ids: torch.Tensor) -> torch.Tensor | None:
    """``None``, a valid 0/1 mask of ``input_ids``' shape (left or right padded) or a bad one."""
    kind = draw(st.sampled_from(["valid", "none", "valid", "valid", "shape", "values"]))
    if kind == "none":
        return None
    shape = tuple(input_ids.shape)
    if kind == "shape":
        shape = shape[:-1] + (shape[-1] + 1,) if shape else (1,)
        return torch.ones(shape, dtype=torch.long)
    mask = torch.ones(shape, dtype=draw(st.sampled_from([torch.long, torch.bool, torch.float32])))
    if kind == "values":
        return mask * 2
    if len(shape) == 2 and shape[1] > 0:
        num_pad = draw(st.integers(0, shape[1]))
        if draw(st.booleans()):
            mask[:, :num_pad] = 0  # left padding
        else:
            mask[:, shape[1] - num_pad :] = 0
    return mask


@st.composite
def float_tensors(draw: Any, expected_shape: tuple[int, ...], max_batch: int = 2) -> torch.Tensor:
    """Tensors around ``(batch, *expected_shape)``: the right shape or one dimension off, a dim dropped or added,
    float and integer dtypes, finite values."""
    batch = draw(st.integers(1, max_batch) if not draw(st.booleans()) else st.integers(0, max_batch))
    shape = [batch, *expected_shape]
    change = draw(st.sampled_from(["none", "none", "none", "dim", "drop", "add"]))
    if change == "dim":
        i = draw(st.integers(1, len(shape) - 1))
        shape[i] = max(0, shape[i] + draw(st.sampled_from([-1, 1, 2])))
    elif change == "drop":
        shape.pop(draw(st.integers(0, len(shape) - 1)))
    elif change == "add":
        shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 2)))
    dtype = draw(st.sampled_from([torch.float32] * 4 + [torch.float64, torch.float16, torch.bfloat16, torch.int64]))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    seed = draw(st.integers(0, 2**16))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale
    return x.to(dtype)
