"""Text classifier (Perceiver IO). Importing it registers the Hugging Face Auto classes (``text-classification``)."""

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig
from perceiver.model.text.classifier.huggingface import (
    PerceiverTextClassifier,
    PerceiverTextClassifierConfig,
    convert_checkpoint,
    convert_imdb_classifier_checkpoint,
)
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig

__all__ = [
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
