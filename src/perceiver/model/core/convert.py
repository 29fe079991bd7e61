"""Copy weights from `transformers`' Perceiver modules (the official DeepMind checkpoints) into ours.

Every copy checks that the shapes line up before writing, so a wrong mapping fails loudly instead of loading
garbage. Task packages build on these helpers for their ``convert_model`` functions.
"""

import torch
import torch.nn as nn

from perceiver.model.core.attention import MultiHeadAttention
from perceiver.model.core.layers import MLP, AbstractAttentionLayer, CrossAttentionLayer, SelfAttentionBlock
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder


def copy_param(src: torch.Tensor, tgt: torch.Tensor, name: str = "parameter") -> None:
    if tuple(src.shape) != tuple(tgt.shape):
        raise ValueError(f"cannot copy {name}: source shape {tuple(src.shape)} != target shape {tuple(tgt.shape)}")
    with torch.no_grad():
        tgt.copy_(src)


def copy_params(src: nn.Module, tgt: nn.Module) -> None:
    """Copy a module whose parameters have the same names and shapes (Linear, LayerNorm, Embedding, ...)."""
    src_params = dict(src.named_parameters())
    tgt_params = dict(tgt.named_parameters())
    if src_params.keys() != tgt_params.keys():
        raise ValueError(f"parameter names differ: {sorted(src_params)} vs {sorted(tgt_params)}")
    for name, param in src_params.items():
        copy_param(param, tgt_params[name], name)


def copy_attention_params(src: nn.Module, tgt: MultiHeadAttention) -> None:
    """``src``: a `transformers` ``PerceiverAttention`` (``self.{query,key,value}``, ``output.dense``)."""
    copy_params(src.self.query, tgt.q_proj)
    copy_params(src.self.key, tgt.k_proj)
    copy_params(src.self.value, tgt.v_proj)
    copy_params(src.output.dense, tgt.o_proj)


def copy_mlp_params(src_layer: nn.Module, tgt: MLP) -> None:
    """``src_layer``: a `transformers` ``PerceiverLayer`` (``layernorm``, ``mlp.dense1``, ``mlp.dense2``)."""
    copy_params(src_layer.layernorm, tgt[0])
    copy_params(src_layer.mlp.dense1, tgt[1])
    copy_params(src_layer.mlp.dense2, tgt[3])


def copy_cross_attention_layer_params(src: nn.Module, tgt: CrossAttentionLayer, query_residual: bool = True) -> None:
    """``src``: a cross-attending `transformers` ``PerceiverLayer``."""
    if src.attention.use_query_residual != query_residual:
        raise ValueError(
            f"query residual mismatch: source use_query_residual={src.attention.use_query_residual}, "
            f"target attention_residual={query_residual}"
        )
    attn = tgt.attention_module
    copy_params(src.attention.self.layernorm1, attn.q_norm)
    copy_params(src.attention.self.layernorm2, attn.kv_norm)
    copy_attention_params(src.attention, attn.attention)
    copy_mlp_params(src, tgt[1].module)


def copy_self_attention_layer_params(src: nn.Module, tgt: AbstractAttentionLayer) -> None:
    attn = tgt.attention_module
    copy_params(src.attention.self.layernorm1, attn.norm)
    copy_attention_params(src.attention, attn.attention)
    copy_mlp_params(src, tgt[1].module)


def copy_self_attention_block_params(src: nn.ModuleList, tgt: SelfAttentionBlock) -> None:
    if len(src) != len(tgt):
        raise ValueError(f"number of self-attention layers differs: source {len(src)}, target {len(tgt)}")
    for src_layer, tgt_layer in zip(src, tgt, strict=True):
        copy_self_attention_layer_params(src_layer, tgt_layer)


def copy_latent_provider_params(src: nn.Module, tgt: PerceiverEncoder) -> None:
    """The latent array of a `transformers` ``PerceiverModel``."""
    copy_param(src.embeddings.latents, tgt.latent_provider._query, "latents")


def copy_classification_decoder_params(src: nn.Module, tgt: PerceiverDecoder, query_residual: bool = True) -> None:
    """The classification decoder of a `transformers` ``PerceiverModel``: its cross-attention, output query and
    final linear layer."""
    decoder = src.decoder.decoder
    copy_cross_attention_layer_params(decoder.decoding_cross_attention, tgt.cross_attn, query_residual=query_residual)
    copy_params(decoder.final_layer, tgt.output_adapter.linear)
    copy_param(decoder.output_position_encodings.position_embeddings, tgt.output_query_provider._query, "query")


def copy_encoder_params(src: nn.Module, tgt: PerceiverEncoder) -> None:
    """``src``: a `transformers` ``PerceiverModel``: latents, the encoder's cross-attention and its (shared)
    self-attention block. The input adapter is task-specific and copied by the caller."""
    copy_latent_provider_params(src, tgt)
    copy_cross_attention_layer_params(src.encoder.cross_attention, tgt.cross_attn_1, query_residual=True)
    copy_self_attention_block_params(src.encoder.self_attends, tgt.self_attn_1)


def hf_encoder_kwargs(config) -> dict:
    """``EncoderConfig`` fields of a `transformers` ``PerceiverConfig``: heads, channels, blocks, dropout, init."""
    return dict(
        num_cross_attention_heads=config.num_cross_attention_heads,
        num_cross_attention_qk_channels=config.qk_channels,
        num_cross_attention_v_channels=config.v_channels,
        cross_attention_widening_factor=config.cross_attention_widening_factor,
        num_self_attention_heads=config.num_self_attention_heads,
        num_self_attention_qk_channels=config.qk_channels,
        num_self_attention_v_channels=config.v_channels,
        num_self_attention_layers_per_block=config.num_self_attends_per_block,
        num_self_attention_blocks=config.num_blocks,
        self_attention_widening_factor=config.self_attention_widening_factor,
        dropout=config.attention_probs_dropout_prob,
        init_scale=config.initializer_range,
    )


def hf_decoder_kwargs(config) -> dict:
    """``DecoderConfig`` fields of a `transformers` ``PerceiverConfig`` that every converted decoder takes."""
    return dict(dropout=config.attention_probs_dropout_prob, init_scale=config.initializer_range)


def hf_latent_kwargs(config) -> dict:
    """The latent array of a `transformers` ``PerceiverConfig``: ``PerceiverIOConfig``'s latent fields."""
    return dict(num_latents=config.num_latents, num_latent_channels=config.d_latents)
