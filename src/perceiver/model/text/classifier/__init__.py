"""Text classifier (Perceiver IO). Importing it registers the Hugging Face Auto classes (``text-classification``)."""

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig

if transformers_available():
    import perceiver.model.text.classifier.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

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

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "LitTextClassifier": "perceiver.model.text.classifier.lightning",
        "PerceiverTextClassifier": "perceiver.model.text.classifier.huggingface",
        "PerceiverTextClassifierConfig": "perceiver.model.text.classifier.huggingface",
        "convert_checkpoint": "perceiver.model.text.classifier.huggingface",
        "convert_imdb_classifier_checkpoint": "perceiver.model.text.classifier.huggingface",
    },
)
