"""Hugging Face wrapper of the causal language model: config and model (``generate``, ``text-generation``
pipeline), Auto-class registration and conversion of Lightning checkpoints of perceiver-io 0.11."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from perceiver.model.core.checkpoint import load_checkpoint_file
from perceiver.model.core.huggingface import PerceiverCausalSequenceModel, PerceiverCausalSequenceModelConfig
from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig

STATE_DICT_PREFIX = "model."


class PerceiverCausalLanguageModelConfig(PerceiverCausalSequenceModelConfig):
    model_type = "perceiver-ar-causal-language-model"
    backend_config_class = CausalLanguageModelConfig


class PerceiverCausalLanguageModel(PerceiverCausalSequenceModel):
    config_class = PerceiverCausalLanguageModelConfig
    backend_model_class = CausalLanguageModel

    @staticmethod
    def from_checkpoint(ckpt_path: str | Path) -> "PerceiverCausalLanguageModel":
        """Load a Lightning checkpoint of ``LitCausalLanguageModel`` (a local file or an http(s) URL)."""
        config, state_dict = load_checkpoint(ckpt_path)
        model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config))
        model.backend_model.load_state_dict(state_dict)
        return model


AutoConfig.register(PerceiverCausalLanguageModelConfig.model_type, PerceiverCausalLanguageModelConfig, exist_ok=True)
AutoModelForCausalLM.register(PerceiverCausalLanguageModelConfig, PerceiverCausalLanguageModel, exist_ok=True)


def load_checkpoint(ckpt_path: str | Path) -> tuple[CausalLanguageModelConfig, dict[str, torch.Tensor]]:
    """Backend config (from the hyper-parameters) and backend state dict (keys without ``model.``) of a Lightning
    checkpoint. Only the checkpoint's data is read: no Lightning module is imported or built."""
    path = str(ckpt_path)
    # Lightning checkpoints pickle their hyper-parameters, hence weights_only=False: load trusted files only.
    if path.startswith(("http://", "https://")):
        ckpt = torch.hub.load_state_dict_from_url(path, map_location="cpu", weights_only=False)
    else:
        ckpt = load_checkpoint_file(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint (needs 'state_dict' and 'hyper_parameters')")
    config = CausalLanguageModelConfig.create(**dict(ckpt["hyper_parameters"]))
    state_dict = {
        k[len(STATE_DICT_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(STATE_DICT_PREFIX)
    }
    if not state_dict:
        raise ValueError(f"{path}: no weights with prefix {STATE_DICT_PREFIX!r} in the checkpoint's state_dict")
    return config, state_dict


def convert_checkpoint(save_dir: str | Path, ckpt_url: str | Path, tokenizer_name: str | None = None, **kwargs: Any):
    """Convert a Lightning checkpoint into a Hugging Face folder ``save_dir``, with the tokenizer ``tokenizer_name``
    (a hub id or a local folder) saved to pad on the left, as generation needs.

    :param kwargs: passed to ``save_pretrained`` (e.g. ``push_to_hub=True``).
    """
    model = PerceiverCausalLanguageModel.from_checkpoint(ckpt_url)
    model.save_pretrained(save_dir, **kwargs)
    if tokenizer_name is not None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name, padding_side="left")
        tokenizer.save_pretrained(save_dir, **kwargs)
    return model


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitCausalLanguageModel": "perceiver.model.text.clm.lightning"})
