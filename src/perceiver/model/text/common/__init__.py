"""The text encoder shared by the text models."""

from perceiver.model.text.common.backend import (
    TextEncoder,
    TextEncoderConfig,
    TextInputAdapter,
    TiedTextOutputAdapter,
    check_text_input,
)
from perceiver.model.text.common.huggingface import copy_text_encoder_params

__all__ = [
    "TextEncoder",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "check_text_input",
    "copy_text_encoder_params",
]
