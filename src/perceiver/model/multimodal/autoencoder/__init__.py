"""Perceiver IO multimodal (video, audio, label) autoencoder. Importing registers ``AutoConfig`` and ``AutoModel``."""

from perceiver.model.core.utils import lazy_exports, transformers_available
from perceiver.model.multimodal.autoencoder.backend import (
    MultimodalAutoencoder,
    MultimodalAutoencoderConfig,
    MultimodalDecoder,
    MultimodalDecoderConfig,
    MultimodalEncoderConfig,
    MultimodalInputAdapter,
    MultimodalOutputAdapter,
    MultimodalQueryProvider,
)

if transformers_available():
    import perceiver.model.multimodal.autoencoder.huggingface  # noqa: F401 (registers the Auto classes and the pipeline)

__all__ = [
    "MultimodalAutoencoder",
    "MultimodalAutoencoderConfig",
    "MultimodalDecoder",
    "MultimodalDecoderConfig",
    "MultimodalEncoderConfig",
    "MultimodalInputAdapter",
    "MultimodalOutputAdapter",
    "MultimodalQueryProvider",
    "PerceiverMultimodalAutoencoder",
    "PerceiverMultimodalAutoencoderConfig",
    "PerceiverMultimodalAutoencoderOutput",
    "convert_config",
    "convert_hf_model",
    "convert_model",
]

# Lightning and Hugging Face names are imported on first access: Lightning is slow to import, and transformers is
# only needed by the wrappers, so that the backends work without it
__getattr__ = lazy_exports(
    __name__,
    {
        "PerceiverMultimodalAutoencoder": "perceiver.model.multimodal.autoencoder.huggingface",
        "PerceiverMultimodalAutoencoderConfig": "perceiver.model.multimodal.autoencoder.huggingface",
        "PerceiverMultimodalAutoencoderOutput": "perceiver.model.multimodal.autoencoder.huggingface",
        "convert_config": "perceiver.model.multimodal.autoencoder.huggingface",
        "convert_hf_model": "perceiver.model.multimodal.autoencoder.huggingface",
        "convert_model": "perceiver.model.multimodal.autoencoder.huggingface",
    },
)
