"""The building blocks under the reference package's module path ``perceiver.model.core.modules``."""

from perceiver.model.core.attention import CrossAttention, MultiHeadAttention, SelfAttention
from perceiver.model.core.kv_cache import KVCache
from perceiver.model.core.layers import (
    MLP,
    AbstractAttentionLayer,
    CrossAttentionLayer,
    Residual,
    SelfAttentionBlock,
    SelfAttentionLayer,
)
from perceiver.model.core.perceiver_ar import CausalSequenceModel, PerceiverAR
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder, PerceiverIO
from perceiver.model.core.utils import ModuleOutput

__all__ = [
    "AbstractAttentionLayer",
    "CausalSequenceModel",
    "CrossAttention",
    "CrossAttentionLayer",
    "KVCache",
    "MLP",
    "ModuleOutput",
    "MultiHeadAttention",
    "PerceiverAR",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "PerceiverIO",
    "Residual",
    "SelfAttention",
    "SelfAttentionBlock",
    "SelfAttentionLayer",
]
