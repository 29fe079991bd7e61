"""Weight copy of the text encoder from `transformers`' ``PerceiverModel`` (the official checkpoints), and the
tokenizer class of the text models' folders."""

from torch import nn
from transformers import AutoTokenizer

from perceiver.data.text.tokenizer import TruncatingTokenizer
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


def register_text_tokenizer(config_class: type) -> None:
    """Let ``AutoTokenizer`` (and so ``pipeline``) load the tokenizer of folders of ``config_class`` models: the
    :class:`~perceiver.data.text.tokenizer.TruncatingTokenizer` of ready folders, and a clear error for a folder
    saved without a tokenizer."""
    AutoTokenizer.register(config_class, fast_tokenizer_class=TruncatingTokenizer, exist_ok=True)
