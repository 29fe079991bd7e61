"""Perceiver IO image classifier. Importing this package registers the Auto classes and the pipeline."""

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.vision.image_classifier.backend import (
    ConvImageInputAdapter,
    ImageClassifier,
    ImageClassifierConfig,
    ImageEncoder,
    ImageEncoderConfig,
    ImageInputAdapter,
    LearnedImageInputAdapter,
)

if transformers_available():
    import perceiver.model.vision.image_classifier.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

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

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "LitImageClassifier": "perceiver.model.vision.image_classifier.lightning",
        "PerceiverImageClassifierInputProcessor": "perceiver.data.vision.image_processor",
        "PerceiverImageClassifier": "perceiver.model.vision.image_classifier.huggingface",
        "PerceiverImageClassifierConfig": "perceiver.model.vision.image_classifier.huggingface",
        "convert_checkpoint": "perceiver.model.vision.image_classifier.huggingface",
        "convert_config": "perceiver.model.vision.image_classifier.huggingface",
        "convert_hf_model": "perceiver.model.vision.image_classifier.huggingface",
        "convert_mnist_classifier_checkpoint": "perceiver.model.vision.image_classifier.huggingface",
        "convert_model": "perceiver.model.vision.image_classifier.huggingface",
    },
)
