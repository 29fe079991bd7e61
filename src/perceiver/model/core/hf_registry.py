"""Which Hugging Face wrapper serves which backend model: each task's wrapper registers itself when its module is
imported (with its task package), so that code below the wrappers (the Lightning modules) can hand a trained
backend to ``transformers`` without importing the wrappers, or ``transformers``, itself."""

from typing import Any

import torch.nn as nn

_WRAPPERS: dict[type, type] = {}


def register_hf_wrapper(backend_class: type, wrapper_class: type) -> None:
    """``wrapper_class`` (a ``PerceiverPreTrainedModel``) wraps models of ``backend_class`` and its subclasses."""
    _WRAPPERS[backend_class] = wrapper_class


def to_hf_model(backend_model: nn.Module) -> Any:
    """The Hugging Face wrapper of ``backend_model``, sharing its weights (``save_pretrained``, pipelines,
    ``generate``); the most specific wrapper registered for the backend's class is used."""
    for cls in type(backend_model).__mro__:
        if cls in _WRAPPERS:
            return _WRAPPERS[cls].from_backend(backend_model)
    raise ValueError(
        f"no Hugging Face wrapper is registered for {type(backend_model).__name__}: import its task package "
        f"({type(backend_model).__module__.rsplit('.', 1)[0]}), which registers it (transformers must be installed)"
    )
