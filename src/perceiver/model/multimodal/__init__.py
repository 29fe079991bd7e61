"""Multimodal models: the Perceiver IO video + audio + label autoencoder (``autoencoder`` subpackage)."""

from perceiver.model.multimodal.autoencoder import (
    MultimodalAutoencoder,
    MultimodalAutoencoderConfig,
    MultimodalDecoder,
    MultimodalDecoderConfig,
    MultimodalEncoderConfig,
    MultimodalInputAdapter,
    MultimodalOutputAdapter,
    MultimodalQueryProvider,
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
