"""Transformer layers of the Perceiver family: MLP, residual, cross- and self-attention layers and blocks."""

import contextlib

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from perceiver.model.core.attention import CrossAttention, SelfAttention
from perceiver.model.core.kv_cache import LayerCache
from perceiver.model.core.position import RotaryPositionEmbedding
from perceiver.model.core.utils import ModuleOutput, require_positive


class MLP(nn.Sequential):
    """Pre-layer-norm feed-forward block: LayerNorm -> Linear(c, w*c) -> GELU -> Linear(w*c, c)."""

    def __init__(self, num_channels: int, widening_factor: int, bias: bool = True):
        require_positive(num_channels=num_channels, widening_factor=widening_factor)
        super().__init__(
            nn.LayerNorm(num_channels),
            nn.Linear(num_channels, widening_factor * num_channels, bias=bias),
            nn.GELU(),
            nn.Linear(widening_factor * num_channels, num_channels, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> ModuleOutput:
        norm, widen, activation, narrow = self
        return ModuleOutput(last_hidden_state=narrow(activation(widen(norm(x)))))


class Residual(nn.Module):
    """Adds the (dropped-out) output of ``module`` to its first input."""

    def __init__(self, module: nn.Module, dropout: float = 0.0):
        super().__init__()
        self.module = module
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, *args, **kwargs) -> ModuleOutput:
        output = self.module(*args, **kwargs)
        residual = output.last_hidden_state
        if self.training and self.dropout.p > 0.0:
            residual = self.dropout(residual)
        output.last_hidden_state = residual + args[0]
        return output


class AbstractAttentionLayer(nn.Sequential):
    """An attention sublayer followed by a residual MLP, with optional activation checkpointing."""

    activation_checkpointing: bool = False
    activation_offloading: bool = False

    def empty_kv_cache(self, x: torch.Tensor, capacity: int | None = None) -> LayerCache:
        """See :meth:`~perceiver.model.core.attention.MultiHeadAttention.empty_kv_cache`."""
        return self.attention_module.attention.empty_kv_cache(x, capacity)

    @property
    def attention_module(self) -> CrossAttention | SelfAttention:
        first = self[0]
        return first.module if isinstance(first, Residual) else first

    def forward(self, *args, kv_cache: LayerCache | None = None, **kwargs) -> ModuleOutput:
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            if kv_cache is not None:
                raise ValueError("kv_cache cannot be used with activation checkpointing in training mode")
            offload = torch.autograd.graph.save_on_cpu() if self.activation_offloading else contextlib.nullcontext()
            with offload:
                return checkpoint(self._forward, *args, use_reentrant=False, **kwargs)
        return self._forward(*args, kv_cache=kv_cache, **kwargs)

    def _forward(self, *args, kv_cache: LayerCache | None = None, **kwargs) -> ModuleOutput:
        attn_output = self[0](*args, kv_cache=kv_cache, **kwargs)
        mlp_output = self[1](attn_output.last_hidden_state)
        return ModuleOutput(last_hidden_state=mlp_output.last_hidden_state, kv_cache=attn_output.kv_cache)


class CrossAttentionLayer(AbstractAttentionLayer):
    def __init__(
        self,
        num_heads: int,
        num_q_input_channels: int,
        num_kv_input_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        widening_factor: int = 1,
        dropout: float = 0.0,
        residual_dropout: float = 0.0,
        attention_residual: bool = True,
        qkv_bias: bool = True,
        out_bias: bool = True,
        mlp_bias: bool = True,
    ):
        """Cross-attention and MLP, each with a residual connection (the attention one optional:
        ``attention_residual=False`` is the "no query residual" decoder of the masked LM and optical flow)."""
        cross_attn = CrossAttention(
            num_heads=num_heads,
            num_q_input_channels=num_q_input_channels,
            num_kv_input_channels=num_kv_input_channels,
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            max_heads_parallel=max_heads_parallel,
            causal_attention=causal_attention,
            dropout=dropout,
            qkv_bias=qkv_bias,
            out_bias=out_bias,
        )
        super().__init__(
            Residual(cross_attn, residual_dropout) if attention_residual else cross_attn,
            Residual(MLP(num_q_input_channels, widening_factor, bias=mlp_bias), residual_dropout),
        )


class SelfAttentionLayer(AbstractAttentionLayer):
    def __init__(
        self,
        num_heads: int,
        num_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        widening_factor: int = 1,
        dropout: float = 0.0,
        residual_dropout: float = 0.0,
        qkv_bias: bool = True,
        out_bias: bool = True,
        mlp_bias: bool = True,
    ):
        self_attn = SelfAttention(
            num_heads=num_heads,
            num_channels=num_channels,
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            max_heads_parallel=max_heads_parallel,
            causal_attention=causal_attention,
            dropout=dropout,
            qkv_bias=qkv_bias,
            out_bias=out_bias,
        )
        super().__init__(
            Residual(self_attn, residual_dropout),
            Residual(MLP(num_channels, widening_factor, bias=mlp_bias), residual_dropout),
        )


class SelfAttentionBlock(nn.Sequential):
    def __init__(
        self,
        num_layers: int,
        num_heads: int,
        num_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        num_rotary_layers: int = 1,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        widening_factor: int = 1,
        dropout: float = 0.0,
        residual_dropout: float = 0.0,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
        qkv_bias: bool = True,
        out_bias: bool = True,
        mlp_bias: bool = True,
    ):
        """A stack of ``num_layers`` self-attention layers. Rotary embedding, when given, is applied in the first
        ``num_rotary_layers`` layers (``-1`` = all)."""
        require_positive(num_layers=num_layers)
        if num_rotary_layers < -1:
            raise ValueError(f"num_rotary_layers must be >= -1 (-1 = all layers), got {num_rotary_layers}")
        layers = [
            SelfAttentionLayer(
                num_heads=num_heads,
                num_channels=num_channels,
                num_qk_channels=num_qk_channels,
                num_v_channels=num_v_channels,
                max_heads_parallel=max_heads_parallel,
                causal_attention=causal_attention,
                widening_factor=widening_factor,
                dropout=dropout,
                residual_dropout=residual_dropout,
                qkv_bias=qkv_bias,
                out_bias=out_bias,
                mlp_bias=mlp_bias,
            )
            for _ in range(num_layers)
        ]
        for layer in layers:
            set_activation_checkpointing(layer, activation_checkpointing, activation_offloading)
        self.num_rotary_layers = num_rotary_layers
        super().__init__(*layers)

    def empty_kv_cache(self, x: torch.Tensor, capacity: int | None = None) -> list[LayerCache]:
        """One empty cache per layer (see :meth:`AbstractAttentionLayer.empty_kv_cache`)."""
        return [layer.empty_kv_cache(x, capacity) for layer in self]

    def forward(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor | None = None,
        rot_pos_emb: RotaryPositionEmbedding | None = None,
        kv_cache: list[LayerCache] | None = None,
    ) -> ModuleOutput:
        """``kv_cache``: ``None`` (no cache), ``[]`` (start functional caches, as perceiver-io 0.11) or one cache per
        layer; the output's ``kv_cache`` is the list of the layers' caches after this call (preallocated
        :class:`~perceiver.model.core.kv_cache.KVCache` objects updated in place, functional ones new)."""
        if kv_cache is not None:
            if len(kv_cache) == 0:
                kv_cache = self.empty_kv_cache(x)
            elif len(kv_cache) != len(self):
                raise ValueError(f"kv_cache must hold one cache per layer ({len(self)}), got {len(kv_cache)}")
        updated = None if kv_cache is None else []
        for i, layer in enumerate(self):
            rotate = self.num_rotary_layers == -1 or i < self.num_rotary_layers
            output = layer(
                x,
                pad_mask=pad_mask,
                rot_pos_emb=rot_pos_emb if rotate else None,
                kv_cache=None if kv_cache is None else kv_cache[i],
            )
            x = output.last_hidden_state
            if updated is not None:
                updated.append(output.kv_cache)
        return ModuleOutput(last_hidden_state=x, kv_cache=updated)


def set_activation_checkpointing(layer: AbstractAttentionLayer, enabled: bool, offload: bool = False) -> None:
    """Recompute the layer's activations in the backward pass (``torch.utils.checkpoint``), optionally keeping
    the saved inputs on the CPU."""
    layer.activation_checkpointing = enabled
    layer.activation_offloading = offload
