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


def init_parameters(module: nn.Module, init_scale: float) -> None:
    """Linear and Embedding weights ~ N(0, init_scale), biases zero; LayerNorms keep their defaults."""
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


def require_optional_positive(**kwargs: int | None) -> None:
    require_positive(**{name: value for name, value in kwargs.items() if value is not None})


def require_probability(**kwargs: float) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def require_divisible(name: str, value: int, num_heads: int) -> None:
    if value % num_heads != 0:
        raise ValueError(f"{name} must be divisible by num_heads, got {name}={value} and num_heads={num_heads}")


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` that imports ``name`` from ``exports[name]`` (a module path) on first access, so that
    a task package can re-export its Lightning module without importing Lightning until it is used."""
    import importlib

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
