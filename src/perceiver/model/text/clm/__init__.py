"""Causal language model (Perceiver AR). Importing it registers the Hugging Face Auto classes
(``AutoModelForCausalLM``, ``pipeline("text-generation")``)."""

from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.model.text.clm.huggingface import (
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
    convert_checkpoint,
    load_checkpoint,
)

__all__ = [
    "CausalLanguageModel",
    "CausalLanguageModelConfig",
    "PerceiverCausalLanguageModel",
    "PerceiverCausalLanguageModelConfig",
    "convert_checkpoint",
    "load_checkpoint",
]
