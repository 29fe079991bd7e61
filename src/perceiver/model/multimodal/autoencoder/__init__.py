"""Perceiver IO multimodal (video, audio, label) autoencoder. Importing registers ``AutoConfig`` and ``AutoModel``."""

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
from perceiver.model.multimodal.autoencoder.huggingface import (
    PerceiverMultimodalAutoencoder,
    PerceiverMultimodalAutoencoderConfig,
    PerceiverMultimodalAutoencoderOutput,
    convert_config,
    convert_hf_model,
    convert_model,
)

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
