"""Causal language model (Perceiver AR). Importing it registers the Hugging Face Auto classes
(``AutoModelForCausalLM``, ``pipeline("text-generation")``)."""

from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.model.text.clm.huggingface import (
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
    convert_checkpoint,
    load_checkpoint,
)

__all__ = [
    "LitCausalLanguageModel",
    "CausalLanguageModel",
    "CausalLanguageModelConfig",
    "PerceiverCausalLanguageModel",
    "PerceiverCausalLanguageModelConfig",
    "convert_checkpoint",
    "load_checkpoint",
]

# the Lightning module is imported on first access (Lightning takes seconds to import)
__getattr__ = lazy_exports(__name__, {"LitCausalLanguageModel": "perceiver.model.text.clm.lightning"})
