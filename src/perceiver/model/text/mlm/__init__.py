"""Masked language model (Perceiver IO). Importing it registers the Hugging Face Auto classes (``fill-mask``)."""

from perceiver.model.core.adapter import TiedTokenOutputAdapter
from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig, TiedTextOutputAdapter
from perceiver.model.text.mlm.backend import (
    MaskedLanguageModel,
    MaskedLanguageModelConfig,
    TextDecoder,
    TextDecoderConfig,
    TextOutputAdapter,
    TokenOutputAdapter,
)
from perceiver.model.text.mlm.huggingface import (
    PerceiverMaskedLanguageModel,
    PerceiverMaskedLanguageModelConfig,
    convert_checkpoint,
    convert_config,
    convert_hf_model,
    convert_model,
    copy_text_decoder_params,
)
from perceiver.model.text.mlm.utils import MaskFiller

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

# the Lightning module is imported on first access (Lightning takes seconds to import)
__getattr__ = lazy_exports(__name__, {"LitMaskedLanguageModel": "perceiver.model.text.mlm.lightning"})
