"""Bases of the Hugging Face wrappers of the Perceiver IO tasks (masked LM, text and image classifiers, optical flow,
multimodal autoencoder): the backend config's dataclasses, loading a task's Lightning checkpoint, the result of
``forward``, and the conversion of `transformers` source models."""

import os
import typing
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from perceiver.model.core.checkpoint import (
    backend_state_dict,
    perceiver_io_checkpoint_config,
    read_lightning_checkpoint,
)
from perceiver.model.core.config import DecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.config_dict import perceiver_io_config_from_dict
from perceiver.model.core.hf_base import PerceiverBackendConfig, PerceiverPreTrainedModel


class PerceiverIOBackendConfig(PerceiverBackendConfig):
    """A wrapper config whose backend config is a ``backend_config_class``: the task's ``PerceiverIOConfig[E, D]``
    (subclasses set it, ``model_type`` and ``default_backend_config``)."""

    backend_config_class = PerceiverIOConfig[EncoderConfig, DecoderConfig]

    @classmethod
    def encoder_decoder_classes(cls) -> tuple[type, type]:
        """The encoder and decoder config dataclasses ``E`` and ``D`` of ``backend_config_class``."""
        classes = typing.get_args(cls.backend_config_class)
        if len(classes) != 2:
            raise TypeError(
                f"{cls.__name__}.backend_config_class must be PerceiverIOConfig[EncoderConfigClass, "
                f"DecoderConfigClass], got {cls.backend_config_class!r}"
            )
        return classes

    @classmethod
    def backend_config_from_dict(cls, data: dict[str, Any]) -> PerceiverIOConfig:
        return perceiver_io_config_from_dict(data, *cls.encoder_decoder_classes())


class PerceiverIOPreTrainedModel(PerceiverPreTrainedModel):
    """A wrapper of a Perceiver IO backend; ``config_class`` is a :class:`PerceiverIOBackendConfig`."""

    config_class: type[PerceiverIOBackendConfig]

    def _in_model_precision(self, x: Any) -> Any:
        # as transformers' models: floating point inputs are cast to the model's dtype
        if isinstance(x, torch.Tensor) and x.dtype.is_floating_point:
            return x.to(self.dtype)
        return x

    def _output(
        self, output_class: type, logits: torch.Tensor, loss: torch.Tensor | None, return_dict: bool | None
    ) -> Any:
        """``output_class(loss=loss, logits=logits)``, or with ``return_dict=False`` (default:
        ``config.return_dict``) the tuple ``(loss, logits)``, ``(logits,)`` without a loss."""
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if not return_dict:
            return (logits,) if loss is None else (loss, logits)
        return output_class(loss=loss, logits=logits)


class PerceiverIOTrainedModel(PerceiverIOPreTrainedModel):
    """A wrapper of a Perceiver IO task that trains with a Lightning module here (masked LM, text and image
    classifiers): it loads that module's checkpoints."""

    @classmethod
    def from_checkpoint(cls, ckpt_path: str | os.PathLike) -> "PerceiverIOTrainedModel":
        """Load a Lightning checkpoint of the task's ``Lit*`` module (a local file or an http(s) URL)."""
        return cls._from_checkpoint(read_lightning_checkpoint(ckpt_path), ckpt_path)

    @classmethod
    def _from_checkpoint(
        cls, ckpt: dict[str, Any], ckpt_path: str | os.PathLike, **config_kwargs: Any
    ) -> "PerceiverIOTrainedModel":
        """The wrapper of the read checkpoint ``ckpt``; ``config_kwargs`` go to the wrapper config."""
        backend_config = perceiver_io_checkpoint_config(ckpt, ckpt_path, *cls.config_class.encoder_decoder_classes())
        model = cls(cls.config_class(backend_config, **config_kwargs))
        model.backend_model.load_state_dict(backend_state_dict(ckpt, ckpt_path))
        return model


def converted_model(
    wrapper_class: type[PerceiverIOPreTrainedModel],
    backend_config: PerceiverIOConfig,
    src: nn.Module,
    copy_params: Callable[[nn.Module, nn.Module], None],
    source_labels: bool = False,
) -> PerceiverIOPreTrainedModel:
    """A ``wrapper_class`` model of ``backend_config`` in eval mode, its backend's weights copied from the
    `transformers` model ``src`` by ``copy_params(src, backend)``; with ``source_labels``, with ``src``'s class
    names (``id2label``)."""
    config_kwargs = {}
    if source_labels:
        config_kwargs = {"id2label": dict(src.config.id2label), "label2id": dict(src.config.label2id)}
    model = wrapper_class(wrapper_class.config_class(backend_config, **config_kwargs)).eval()
    copy_params(src, model.backend_model)
    return model


def convert_source_model(
    save_dir: str | os.PathLike,
    source_repo_id: str | os.PathLike,
    load_source: Callable[[Any], nn.Module],
    convert: Callable[[nn.Module], PerceiverPreTrainedModel],
    push_to_hub: bool = False,
    **kwargs: Any,
) -> PerceiverPreTrainedModel:
    """Load a `transformers` model by ``load_source(source_repo_id)`` (a hub id or a local folder), convert it with
    ``convert`` and save the result to ``save_dir``; ``kwargs`` go to ``save_pretrained``."""
    model = convert(load_source(source_repo_id).eval())
    model.save_pretrained(save_dir, push_to_hub=push_to_hub, **kwargs)
    return model
