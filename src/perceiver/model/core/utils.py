"""Small helpers shared by every model: the output container, initialisation, freezing and validation."""

from collections import OrderedDict
from typing import Any

import torch
import torch.nn as nn


class ModuleOutput(OrderedDict):
    """A dict whose entries are also attributes (``output.last_hidden_state``), returned by every module."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"No attribute {name}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


_checked_calls = 0


class checked_inputs:
    """Within this block the inputs of attention layers count as checked: a model entry point that has validated
    what it was given (shapes, dtypes, pad mask) runs its layers inside it, so that they do not check again. Layers
    called directly (outside any such block) check their own inputs."""

    def __enter__(self) -> None:
        global _checked_calls
        _checked_calls += 1

    def __exit__(self, *exc) -> None:
        global _checked_calls
        _checked_calls -= 1


def inputs_checked() -> bool:
    """Whether a model entry point has checked the inputs (see :class:`checked_inputs`)."""
    return _checked_calls > 0


def init_parameters(module: nn.Module, init_scale: float) -> None:
    """Linear and Embedding weights ~ N(0, init_scale), biases zero; LayerNorms keep their defaults."""
    if isinstance(init_scale, bool) or not isinstance(init_scale, int | float) or not init_scale >= 0.0:
        raise ValueError(f"init_scale must be a number >= 0, got {init_scale!r}")
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, init_scale)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, init_scale)


def freeze(module: nn.Module) -> None:
    for param in module.parameters():
        param.requires_grad = False


def require_positive(**kwargs: int) -> None:
    """Raise a ValueError naming the first argument that is not a positive integer."""
    for name, value in kwargs.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def require_non_negative(**kwargs: int) -> None:
    """Raise a TypeError/ValueError naming the first argument that is not an int >= 0."""
    for name, value in kwargs.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def check_loader_args(batch_size: int, num_workers: int, valid_batch_size: int | None = None) -> None:
    """The data-loader arguments shared by every data module."""
    require_positive(batch_size=batch_size)
    require_optional_positive(valid_batch_size=valid_batch_size)
    require_non_negative(num_workers=num_workers)


def require_optional_positive(**kwargs: int | None) -> None:
    require_positive(**{name: value for name, value in kwargs.items() if value is not None})


def require_probability(**kwargs: float) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def require_divisible(name: str, value: int, num_heads: int) -> None:
    if value % num_heads != 0:
        raise ValueError(f"{name} must be divisible by num_heads, got {name}={value} and num_heads={num_heads}")


def check_token_tensor(x: Any, name: str = "input_ids") -> None:
    """``x`` must be an integer tensor ``(batch_size, length)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch_size, length), got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (batch_size, length), got {tuple(x.shape)}")


def attention_mask_to_pad_mask(attention_mask: Any, input_ids: torch.Tensor) -> torch.Tensor | None:
    """The ``pad_mask`` (True = padding) of a transformers-style ``attention_mask`` (1 = token, 0 = padding, the shape
    of ``input_ids``; bool, integer or floating with values 0 and 1 only)."""
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
    if tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(
            f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
            f"got {tuple(attention_mask.shape)}"
        )
    if attention_mask.is_complex():
        raise TypeError(f"attention_mask must be a bool, integer or floating tensor, got dtype {attention_mask.dtype}")
    if attention_mask.dtype != torch.bool and not ((attention_mask == 0) | (attention_mask == 1)).all():
        raise ValueError("attention_mask must hold only 0 (padding) and 1 (token)")
    return ~attention_mask.bool()


def check_labels(
    labels: Any, num_classes: int, shape: tuple[int, ...], name: str = "labels", ignore_index: int = -100
) -> None:
    """``labels`` must be an integer tensor of ``shape`` with values in ``[0, num_classes)`` or ``ignore_index``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {labels.dtype}")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(labels.shape)}")
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if labels.numel() and bad.any():
        value = labels[bad][0].item()
        raise ValueError(f"{name} must be in [0, {num_classes}) or {ignore_index} (ignored), got {value}")


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` that imports ``name`` from ``exports[name]`` (a module path) on first access, so that
    a task package can re-export its Lightning module without importing Lightning until it is used."""
    import importlib

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


# perceiver-io 0.11 defined Residual here; it lives with the layers now (imported on access: layers import utils)
__getattr__ = lazy_exports(__name__, {"Residual": "perceiver.model.core.layers"})
