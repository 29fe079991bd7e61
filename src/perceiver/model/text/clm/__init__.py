"""Causal language model (Perceiver AR). Importing it registers the Hugging Face Auto classes
(``AutoModelForCausalLM``, ``pipeline("text-generation")``)."""

from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig

if transformers_available():
    import perceiver.model.text.clm.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

__all__ = [
    "LitCausalLanguageModel",
    "CausalLanguageModel",
    "CausalLanguageModelConfig",
    "PerceiverCausalLanguageModel",
    "PerceiverCausalLanguageModelConfig",
    "convert_checkpoint",
    "load_checkpoint",
]

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "LitCausalLanguageModel": "perceiver.model.text.clm.lightning",
        "PerceiverCausalLanguageModel": "perceiver.model.text.clm.huggingface",
        "PerceiverCausalLanguageModelConfig": "perceiver.model.text.clm.huggingface",
        "convert_checkpoint": "perceiver.model.text.clm.huggingface",
        "load_checkpoint": "perceiver.model.text.clm.huggingface",
    },
)
