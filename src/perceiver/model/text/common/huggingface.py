"""Weight copy of the text encoder from `transformers`' ``PerceiverModel`` (the official checkpoints)."""

from torch import nn

from perceiver.model.core.convert import (  # noqa: F401 (the three copy helpers: perceiver-io 0.11 names)
    copy_cross_attention_layer_params,
    copy_encoder_params,
    copy_latent_provider_params,
    copy_params,
    copy_self_attention_block_params,
)
from perceiver.model.text.common.backend import TextEncoder


def copy_text_encoder_params(src: nn.Module, tgt: TextEncoder) -> None:
    """``src``: the ``perceiver`` module (a ``PerceiverModel`` with a ``PerceiverTextPreprocessor``) of e.g. a
    `transformers` ``PerceiverForMaskedLM``."""
    copy_encoder_params(src, tgt)
    copy_params(src.input_preprocessor.embeddings, tgt.input_adapter.txt_embedding)
    copy_params(src.input_preprocessor.position_embeddings, tgt.input_adapter.pos_embedding)
