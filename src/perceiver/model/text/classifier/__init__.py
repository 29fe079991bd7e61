"""Text classifier (Perceiver IO). Importing it registers the Hugging Face Auto classes (``text-classification``)."""

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.utils import lazy_exports
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig
from perceiver.model.text.classifier.huggingface import (
    PerceiverTextClassifier,
    PerceiverTextClassifierConfig,
    convert_checkpoint,
    convert_imdb_classifier_checkpoint,
)
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig

__all__ = [
    "LitTextClassifier",
    "ClassificationDecoderConfig",
    "PerceiverTextClassifier",
    "PerceiverTextClassifierConfig",
    "TextClassifier",
    "TextClassifierConfig",
    "TextEncoder",
    "TextEncoderConfig",
    "convert_checkpoint",
    "convert_imdb_classifier_checkpoint",
]

# the Lightning module is imported on first access (Lightning takes seconds to import)
__getattr__ = lazy_exports(__name__, {"LitTextClassifier": "perceiver.model.text.classifier.lightning"})
