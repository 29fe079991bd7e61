"""The text encoder shared by the text models."""

from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.common.backend import (
    TextEncoder,
    TextEncoderConfig,
    TextInputAdapter,
    TiedTextOutputAdapter,
    check_text_input,
)

__all__ = [
    "TextEncoder",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "check_text_input",
    "copy_text_encoder_params",
]

# needs transformers (its source models): imported on first access
__getattr__ = lazy_exports(__name__, {"copy_text_encoder_params": "perceiver.model.text.common.huggingface"})
