"""Read Lightning checkpoints of the text models without importing Lightning.

A checkpoint of a ``Lit*`` module holds the backend weights under ``state_dict`` with the prefix ``model.`` and the
module's constructor arguments under ``hyper_parameters`` (``encoder``, ``decoder``, ``num_latents``, ...), the
configs either as dataclass objects or as plain dicts.
"""

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from perceiver.model.core.checkpoint import load_checkpoint_file
from perceiver.model.core.config import PerceiverIOConfig
from perceiver.model.core.huggingface import perceiver_io_config_from_dict

STATE_DICT_PREFIX = "model."


def _as_dict(value: Any, name: str) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "as_dict"):  # jsonargparse Namespace
        return value.as_dict()
    raise ValueError(f"checkpoint hyper_parameters[{name!r}] must be a config or a dict, got {type(value).__name__}")


def load_perceiver_io_checkpoint(
    ckpt_path: str | Path, encoder_cls: type, decoder_cls: type
) -> tuple[PerceiverIOConfig, dict[str, torch.Tensor]]:
    """The backend config and state dict of a Lightning checkpoint of a Perceiver IO text model."""
    # Checkpoints hold pickled configs and Lightning metadata, hence weights_only=False: load only trusted files.
    ckpt = load_checkpoint_file(ckpt_path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(f"{ckpt_path} is not a Lightning checkpoint (needs 'state_dict' and 'hyper_parameters')")
    hparams = ckpt["hyper_parameters"]
    missing = [k for k in ("encoder", "decoder", "num_latents", "num_latent_channels") if k not in hparams]
    if missing:
        raise ValueError(f"{ckpt_path}: hyper_parameters lack {missing}; not a Perceiver IO text model checkpoint")
    data = {f.name: hparams[f.name] for f in dataclasses.fields(PerceiverIOConfig) if f.name in hparams}
    data["encoder"] = _as_dict(hparams["encoder"], "encoder")
    data["decoder"] = _as_dict(hparams["decoder"], "decoder")
    config = perceiver_io_config_from_dict(data, encoder_cls, decoder_cls)

    state_dict = {
        k[len(STATE_DICT_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(STATE_DICT_PREFIX)
    }
    if not state_dict:
        raise ValueError(f"{ckpt_path}: no weights with prefix {STATE_DICT_PREFIX!r} in the checkpoint's state_dict")
    return config, state_dict


__all__ = ["load_perceiver_io_checkpoint"]
