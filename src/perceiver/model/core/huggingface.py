"""The Hugging Face side of the core, under perceiver-io 0.11's module path: wrapper base classes
(:mod:`~perceiver.model.core.hf_base`), the Perceiver AR wrapper with ``generate``
(:mod:`~perceiver.model.core.hf_causal`), config dicts (:mod:`~perceiver.model.core.config_dict`) and, as in 0.11,
the weight-copy helpers of conversions (:mod:`~perceiver.model.core.convert`) and the blocks they copy into."""

from perceiver.model.core.attention import MultiHeadAttention
from perceiver.model.core.config_dict import dataclass_from_dict, perceiver_io_config_from_dict
from perceiver.model.core.convert import (
    copy_attention_params,
    copy_classification_decoder_params,
    copy_cross_attention_layer_params,
    copy_latent_provider_params,
    copy_mlp_params,
    copy_param,
    copy_params,
    copy_self_attention_block_params,
    copy_self_attention_layer_params,
)
from perceiver.model.core.hf_base import WEIGHT_FILE_PREFIXES, PerceiverBackendConfig, PerceiverPreTrainedModel
from perceiver.model.core.hf_causal import (
    CACHE_NAME,
    PerceiverARCache,
    PerceiverCausalSequenceModel,
    PerceiverCausalSequenceModelConfig,
    PerceiverCausalSequenceModelOutput,
)
from perceiver.model.core.kv_cache import KVCache
from perceiver.model.core.layers import MLP, CrossAttentionLayer, SelfAttentionLayer
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder

__all__ = [
    "CACHE_NAME",
    "MLP",
    "WEIGHT_FILE_PREFIXES",
    "CrossAttentionLayer",
    "KVCache",
    "MultiHeadAttention",
    "PerceiverARCache",
    "PerceiverBackendConfig",
    "PerceiverCausalSequenceModel",
    "PerceiverCausalSequenceModelConfig",
    "PerceiverCausalSequenceModelOutput",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "PerceiverPreTrainedModel",
    "SelfAttentionLayer",
    "copy_attention_params",
    "copy_classification_decoder_params",
    "copy_cross_attention_layer_params",
    "copy_latent_provider_params",
    "copy_mlp_params",
    "copy_param",
    "copy_params",
    "copy_self_attention_block_params",
    "copy_self_attention_layer_params",
    "dataclass_from_dict",
    "perceiver_io_config_from_dict",
]
