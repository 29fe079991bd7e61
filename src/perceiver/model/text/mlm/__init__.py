"""Masked language model (Perceiver IO). Importing it registers the Hugging Face Auto classes (``fill-mask``)."""

from perceiver.model.core.adapter import TiedTokenOutputAdapter
from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig, TiedTextOutputAdapter
from perceiver.model.text.mlm.backend import (
    MaskedLanguageModel,
    MaskedLanguageModelConfig,
    TextDecoder,
    TextDecoderConfig,
    TextOutputAdapter,
    TokenOutputAdapter,
)

if transformers_available():
    import perceiver.model.text.mlm.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

__all__ = [
    "LitMaskedLanguageModel",
    "MaskFiller",
    "MaskedLanguageModel",
    "MaskedLanguageModelConfig",
    "PerceiverMaskedLanguageModel",
    "PerceiverMaskedLanguageModelConfig",
    "TextDecoder",
    "TextDecoderConfig",
    "TextEncoder",
    "TextEncoderConfig",
    "TextOutputAdapter",
    "TiedTextOutputAdapter",
    "TiedTokenOutputAdapter",
    "TokenOutputAdapter",
    "convert_checkpoint",
    "convert_config",
    "convert_hf_model",
    "convert_model",
    "copy_text_decoder_params",
]

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "LitMaskedLanguageModel": "perceiver.model.text.mlm.lightning",
        "MaskFiller": "perceiver.model.text.mlm.utils",
        "PerceiverMaskedLanguageModel": "perceiver.model.text.mlm.huggingface",
        "PerceiverMaskedLanguageModelConfig": "perceiver.model.text.mlm.huggingface",
        "convert_checkpoint": "perceiver.model.text.mlm.huggingface",
        "convert_config": "perceiver.model.text.mlm.huggingface",
        "convert_hf_model": "perceiver.model.text.mlm.huggingface",
        "convert_model": "perceiver.model.text.mlm.huggingface",
        "copy_text_decoder_params": "perceiver.model.text.mlm.huggingface",
    },
)
