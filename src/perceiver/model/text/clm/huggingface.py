"""Hugging Face wrapper of the causal language model: config and model (``generate``, ``text-generation``
pipeline), Auto-class registration and conversion of Lightning checkpoints of perceiver-io 0.11."""

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from perceiver.data.text.special_tokens import generation_token_ids
from perceiver.model.core.checkpoint import (
    STATE_DICT_PREFIX,
    backend_state_dict,
    datamodule_hparams,
    read_lightning_checkpoint,
)
from perceiver.model.core.folder import save_model_folder
from perceiver.model.core.huggingface import PerceiverCausalSequenceModel, PerceiverCausalSequenceModelConfig
from perceiver.model.core.pipelines import serve_empty_batches
from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.model.text.common.checkpoint import checkpoint_serving_tokenizer
from perceiver.model.text.common.huggingface import register_text_tokenizer

__all__ = [
    "PerceiverCausalLanguageModel",
    "PerceiverCausalLanguageModelConfig",
    "STATE_DICT_PREFIX",
    "convert_checkpoint",
    "load_checkpoint",
]


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
register_text_tokenizer(PerceiverCausalLanguageModelConfig)
serve_empty_batches("text-generation")


def load_checkpoint(ckpt_path: str | Path) -> tuple[CausalLanguageModelConfig, dict[str, torch.Tensor]]:
    """Backend config (from the hyper-parameters) and backend state dict (keys without ``model.``) of a Lightning
    checkpoint. Only the checkpoint's data is read: no Lightning module is imported or built."""
    return _checkpoint_config_and_weights(read_lightning_checkpoint(ckpt_path), ckpt_path)


def _checkpoint_config_and_weights(
    ckpt: dict[str, Any], ckpt_path: str | Path
) -> tuple[CausalLanguageModelConfig, dict[str, torch.Tensor]]:
    config = CausalLanguageModelConfig.create(**dict(ckpt["hyper_parameters"]))
    return config, backend_state_dict(ckpt, ckpt_path)


def convert_checkpoint(save_dir: str | Path, ckpt_url: str | Path, tokenizer_name: str | None = None, **kwargs: Any):
    """Convert a Lightning checkpoint into a Hugging Face folder ``save_dir``, with the tokenizer ``tokenizer_name``
    (a hub id, a local folder or a tokenizer) saved as generation needs: padding on the left, the model's
    ``max_seq_len`` (longer prompts keep their end) and the special tokens of the checkpoint's training data before
    a prompt, none after it (see :mod:`perceiver.data.text.special_tokens`).

    :param kwargs: passed to ``save_pretrained`` (e.g. ``push_to_hub=True``).
    """
    ckpt = read_lightning_checkpoint(ckpt_url)
    config, state_dict = _checkpoint_config_and_weights(ckpt, ckpt_url)
    model = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config))
    model.backend_model.load_state_dict(state_dict)
    tokenizer = None
    if tokenizer_name is not None:
        tokenizer = checkpoint_serving_tokenizer(tokenizer_name, "clm", ckpt, config.max_seq_len)
        add_eos_token = bool(datamodule_hparams(ckpt).get("add_eos_token"))
        for name, value in generation_token_ids(tokenizer, add_eos_token).items():
            setattr(model.generation_config, name, value)
    save_model_folder(save_dir, model, tokenizer, **kwargs)
    return model


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitCausalLanguageModel": "perceiver.model.text.clm.lightning"})
