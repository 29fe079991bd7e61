"""Shared pieces of the Hugging Face wrappers: configs that nest a backend dataclass config, and a model base.

A wrapper config stores its backend config as the plain dict ``model_config`` (``config.json`` keeps the layout of
perceiver-io 0.11, so its saved models load); ``backend_config`` rebuilds the dataclasses.
"""

import dataclasses
import typing
from typing import Any

from transformers import PretrainedConfig, PreTrainedModel

from perceiver.model.core.config import PerceiverIOConfig


def dataclass_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``asdict`` output: unknown keys are ignored, lists become tuples where the
    field is a tuple, nested dataclass fields are rebuilt."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value = data[field.name]
        hint = hints.get(field.name)
        if isinstance(value, list) and "tuple" in str(hint).lower():
            value = tuple(value)
        elif isinstance(value, dict) and dataclasses.is_dataclass(hint):
            value = dataclass_from_dict(hint, value)
        kwargs[field.name] = value
    return cls(**kwargs)


def perceiver_io_config_from_dict(data: dict[str, Any], encoder_cls: type, decoder_cls: type) -> PerceiverIOConfig:
    rest = {k: v for k, v in data.items() if k not in ("encoder", "decoder")}
    return dataclass_from_dict(PerceiverIOConfig, rest | {
        "encoder": dataclass_from_dict(encoder_cls, data["encoder"]),
        "decoder": dataclass_from_dict(decoder_cls, data["decoder"]),
    })  # fmt: skip


class PerceiverBackendConfig(PretrainedConfig):
    """Base of the wrapper configs. Subclasses set ``model_type`` and implement ``default_backend_config`` and
    ``backend_config_from_dict``."""

    def __init__(self, backend_config: Any = None, **kwargs: Any):
        model_config = kwargs.pop("model_config", None)
        if backend_config is not None:
            model_config = dataclasses.asdict(backend_config)
        elif model_config is None:
            model_config = dataclasses.asdict(self.default_backend_config())
        self.model_config = model_config
        super().__init__(**kwargs)

    @classmethod
    def default_backend_config(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def backend_config_from_dict(cls, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    @property
    def backend_config(self) -> Any:
        return self.backend_config_from_dict(self.model_config)


class PerceiverPreTrainedModel(PreTrainedModel):
    """Base of the wrapper models: the backend is ``self.backend_model`` and initialises its own weights."""

    base_model_prefix = "backend_model"

    def _init_weights(self, module: Any) -> None:
        # The backend initialises itself (init_scale); loading fills in saved weights.
        pass
