"""Checks of user input shared by the data modules and the models (below both): each raises a ``TypeError`` or
``ValueError`` that names the argument, the value and what is allowed."""

from typing import Any

import torch


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
