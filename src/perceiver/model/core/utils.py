"""Small helpers shared by every model: the output container, initialisation, freezing and validation."""

from collections import OrderedDict
from typing import Any

import torch
import torch.nn as nn

from perceiver.validation import (  # noqa: F401 (the model layers' validation helpers, kept importable from here)
    attention_mask_to_pad_mask,
    check_labels,
    check_loader_args,
    check_token_tensor,
    require_divisible,
    require_non_negative,
    require_optional_positive,
    require_positive,
    require_probability,
)


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


def transformers_available() -> bool:
    """Whether ``transformers`` can be imported (the Hugging Face wrappers need it; the backends do not)."""
    import importlib.util

    try:
        return importlib.util.find_spec("transformers") is not None
    except (ImportError, ValueError):
        return False


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
