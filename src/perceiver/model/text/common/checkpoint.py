"""Read Lightning checkpoints of the Perceiver IO text models without importing Lightning.

A checkpoint of a ``Lit*`` module holds the backend weights under ``state_dict`` with the prefix ``model.`` and the
module's constructor arguments under ``hyper_parameters`` (``encoder``, ``decoder``, ``num_latents``, ...), the
configs either as dataclass objects or as plain dicts (see :mod:`perceiver.model.core.checkpoint`).
"""

from pathlib import Path
from typing import Any

import torch

from perceiver.model.core.checkpoint import (
    STATE_DICT_PREFIX,
    backend_state_dict,
    datamodule_hparams,
    perceiver_io_checkpoint_config,
    read_lightning_checkpoint,
)
from perceiver.model.core.config import PerceiverIOConfig


def load_perceiver_io_checkpoint(
    ckpt_path: str | Path, encoder_cls: type, decoder_cls: type
) -> tuple[PerceiverIOConfig, dict[str, torch.Tensor]]:
    """The backend config and state dict of a Lightning checkpoint of a Perceiver IO text model."""
    ckpt = read_lightning_checkpoint(ckpt_path)
    config = perceiver_io_checkpoint_config(ckpt, ckpt_path, encoder_cls, decoder_cls)
    return config, backend_state_dict(ckpt, ckpt_path)


def checkpoint_serving_tokenizer(tokenizer: Any, task: str, ckpt: dict[str, Any], max_seq_len: int) -> Any:
    """The tokenizer to save with a model converted from checkpoint ``ckpt``: ``tokenizer`` (a name, a folder or a
    tokenizer) with the special tokens of the checkpoint's training data options (none, if the checkpoint has no
    data module hyper-parameters: the data modules' defaults), see :mod:`perceiver.data.text.special_tokens`."""
    from perceiver.data.text.special_tokens import serving_tokenizer
    from perceiver.data.text.utils import load_tokenizer

    data = datamodule_hparams(ckpt)
    add_special_tokens, add_eos_token = bool(data.get("add_special_tokens")), bool(data.get("add_eos_token"))
    return serving_tokenizer(load_tokenizer(tokenizer), task, add_special_tokens, add_eos_token, max_seq_len)


__all__ = ["STATE_DICT_PREFIX", "checkpoint_serving_tokenizer", "load_perceiver_io_checkpoint"]
