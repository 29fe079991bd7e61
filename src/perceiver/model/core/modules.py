"""The building blocks under the reference package's module path ``perceiver.model.core.modules`` (with the
configs, adapters and position helpers that module also made importable)."""

from perceiver.model.core.adapter import (
    InputAdapter,
    OutputAdapter,
    QueryProvider,
    RotarySupport,
    TiedTokenOutputAdapter,
    TokenInputAdapterWithRotarySupport,
    TrainableQueryProvider,
)
from perceiver.model.core.attention import CrossAttention, MultiHeadAttention, SelfAttention
from perceiver.model.core.config import CausalSequenceModelConfig
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
from perceiver.model.core.position import RotaryPositionEmbedding, positions
from perceiver.model.core.utils import ModuleOutput, init_parameters

__all__ = [
    "AbstractAttentionLayer",
    "CausalSequenceModel",
    "CausalSequenceModelConfig",
    "CrossAttention",
    "CrossAttentionLayer",
    "KVCache",
    "MLP",
    "ModuleOutput",
    "MultiHeadAttention",
    "InputAdapter",
    "OutputAdapter",
    "PerceiverAR",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "PerceiverIO",
    "QueryProvider",
    "Residual",
    "RotaryPositionEmbedding",
    "RotarySupport",
    "SelfAttention",
    "SelfAttentionBlock",
    "SelfAttentionLayer",
    "TiedTokenOutputAdapter",
    "TokenInputAdapterWithRotarySupport",
    "TrainableQueryProvider",
    "init_parameters",
    "positions",
]
