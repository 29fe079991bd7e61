"""Perceiver IO image classifier. Importing this package registers the Auto classes and the pipeline."""

from perceiver.data.vision.image_processor import PerceiverImageClassifierInputProcessor
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.utils import lazy_exports
from perceiver.model.vision.image_classifier.backend import (
    ConvImageInputAdapter,
    ImageClassifier,
    ImageClassifierConfig,
    ImageEncoder,
    ImageEncoderConfig,
    ImageInputAdapter,
    LearnedImageInputAdapter,
)
from perceiver.model.vision.image_classifier.huggingface import (
    PerceiverImageClassifier,
    PerceiverImageClassifierConfig,
    convert_checkpoint,
    convert_config,
    convert_hf_model,
    convert_mnist_classifier_checkpoint,
    convert_model,
)

__all__ = [
    "ClassificationDecoderConfig",
    "LitImageClassifier",
    "ConvImageInputAdapter",
    "ImageClassifier",
    "ImageClassifierConfig",
    "ImageEncoder",
    "ImageEncoderConfig",
    "ImageInputAdapter",
    "LearnedImageInputAdapter",
    "PerceiverImageClassifier",
    "PerceiverImageClassifierConfig",
    "PerceiverImageClassifierInputProcessor",
    "convert_checkpoint",
    "convert_config",
    "convert_hf_model",
    "convert_mnist_classifier_checkpoint",
    "convert_model",
]

# the Lightning module is imported on first access (Lightning takes seconds to import)
__getattr__ = lazy_exports(__name__, {"LitImageClassifier": "perceiver.model.vision.image_classifier.lightning"})
