"""Perceiver and Perceiver IO: an encoder from inputs to latents, a decoder from latents to outputs."""

import torch
import torch.nn as nn

from perceiver.model.core.adapter import InputAdapter, OutputAdapter, QueryProvider, TrainableQueryProvider
from perceiver.model.core.attention import check_features, check_pad_mask
from perceiver.model.core.config import resolve_init_scale
from perceiver.model.core.layers import CrossAttentionLayer, SelfAttentionBlock, set_activation_checkpointing
from perceiver.model.core.split_input import SplitInput
from perceiver.model.core.utils import checked_inputs, init_parameters, require_positive, require_probability


class PerceiverEncoder(nn.Module):
    def __init__(
        self,
        input_adapter: InputAdapter,
        num_latents: int,
        num_latent_channels: int,
        num_cross_attention_heads: int = 4,
        num_cross_attention_qk_channels: int | None = None,
        num_cross_attention_v_channels: int | None = None,
        num_cross_attention_layers: int = 1,
        first_cross_attention_layer_shared: bool = False,
        cross_attention_widening_factor: int = 1,
        num_self_attention_heads: int = 4,
        num_self_attention_qk_channels: int | None = None,
        num_self_attention_v_channels: int | None = None,
        num_self_attention_layers_per_block: int = 6,
        num_self_attention_blocks: int = 1,
        first_self_attention_block_shared: bool = True,
        self_attention_widening_factor: int = 1,
        dropout: float = 0.0,
        residual_dropout: float = 0.0,
        init_scale: float | None = None,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
    ):
        """Cross-attends latents to the adapted input, then refines them with blocks of self-attention.

        With ``num_cross_attention_layers > 1`` the encoder is the original Perceiver: block ``i`` of self-attention
        is preceded by a cross-attention to the input for ``i < num_cross_attention_layers``. Weight sharing: the
        cross-attention layers 2.. share one set of weights (which is the first layer's own if
        ``first_cross_attention_layer_shared``), and likewise the self-attention blocks 2.. (the first block's if
        ``first_self_attention_block_shared``).
        """
        super().__init__()
        require_positive(num_latents=num_latents, num_latent_channels=num_latent_channels)
        if num_cross_attention_layers <= 0:
            raise ValueError("num_cross_attention_layers must be > 0")
        if num_self_attention_blocks <= 0:
            raise ValueError("num_self_attention_blocks must be > 0")
        if num_cross_attention_layers > num_self_attention_blocks:
            raise ValueError("num_cross_attention_layers must be <= num_self_attention_blocks")
        require_probability(dropout=dropout, residual_dropout=residual_dropout)
        for name, value in (
            ("first_cross_attention_layer_shared", first_cross_attention_layer_shared),
            ("first_self_attention_block_shared", first_self_attention_block_shared),
        ):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__} ({value!r})")

        init_scale = resolve_init_scale(init_scale, num_latent_channels)
        self.latent_provider = TrainableQueryProvider(num_latents, num_latent_channels, init_scale=init_scale)
        self.input_adapter = input_adapter
        self.num_cross_attention_layers = num_cross_attention_layers
        self.num_self_attention_blocks = num_self_attention_blocks
        self.extra_cross_attention_layer = num_cross_attention_layers > 1 and not first_cross_attention_layer_shared
        self.extra_self_attention_block = num_self_attention_blocks > 1 and not first_self_attention_block_shared

        def cross_attn() -> CrossAttentionLayer:
            layer = CrossAttentionLayer(
                num_heads=num_cross_attention_heads,
                num_q_input_channels=num_latent_channels,
                num_kv_input_channels=input_adapter.num_input_channels,
                num_qk_channels=num_cross_attention_qk_channels,
                num_v_channels=num_cross_attention_v_channels,
                widening_factor=cross_attention_widening_factor,
                dropout=dropout,
                residual_dropout=residual_dropout,
            )
            set_activation_checkpointing(layer, activation_checkpointing, activation_offloading)
            return layer

        def self_attn() -> SelfAttentionBlock:
            return SelfAttentionBlock(
                num_layers=num_self_attention_layers_per_block,
                num_heads=num_self_attention_heads,
                num_channels=num_latent_channels,
                num_qk_channels=num_self_attention_qk_channels,
                num_v_channels=num_self_attention_v_channels,
                widening_factor=self_attention_widening_factor,
                dropout=dropout,
                residual_dropout=residual_dropout,
                activation_checkpointing=activation_checkpointing,
                activation_offloading=activation_offloading,
            )

        self.cross_attn_1 = cross_attn()
        self.self_attn_1 = self_attn()
        if self.extra_cross_attention_layer:
            self.cross_attn_n = cross_attn()
        if self.extra_self_attention_block:
            self.self_attn_n = self_attn()

        init_parameters(self, init_scale)
        self.latent_provider._init_parameters(init_scale)

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor | None = None, return_adapted_input: bool = False, **kwargs
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``pad_mask``: ``(b, m)`` bool over the adapted input, ``True`` = padding. ``kwargs`` go to the input
        adapter (e.g. ``interpolate_pos_encoding`` for learned image position embeddings)."""
        if self.input_adapter.supports_split_input:
            x_adapted = self.input_adapter(x, split=True, **kwargs)
        else:
            x_adapted = self.input_adapter(x, **kwargs)
        channels = self.cross_attn_1.attention_module.kv_norm.normalized_shape[0]
        if isinstance(x_adapted, SplitInput):
            if x_adapted.shape[-1] != channels:
                raise ValueError(f"adapted input must have {channels} channels, got shape {tuple(x_adapted.shape)}")
        else:
            check_features("adapted input", x_adapted, channels)
        if pad_mask is not None:
            check_pad_mask(pad_mask, x_adapted.shape[0], x_adapted.shape[1])
        with checked_inputs():
            x_latent = self._encode(x_adapted, pad_mask)
        if return_adapted_input:
            return x_latent, x_adapted.materialize() if isinstance(x_adapted, SplitInput) else x_adapted
        return x_latent

    def _encode(self, x_adapted: torch.Tensor | SplitInput, pad_mask: torch.Tensor | None) -> torch.Tensor:
        x_latent = self.latent_provider().expand(x_adapted.shape[0], -1, -1)

        cross_attn_n = self.cross_attn_n if self.extra_cross_attention_layer else self.cross_attn_1
        self_attn_n = self.self_attn_n if self.extra_self_attention_block else self.self_attn_1

        x_latent = self.cross_attn_1(x_latent, x_adapted, pad_mask=pad_mask).last_hidden_state
        x_latent = self.self_attn_1(x_latent).last_hidden_state
        for i in range(1, self.num_self_attention_blocks):
            if i < self.num_cross_attention_layers:
                x_latent = cross_attn_n(x_latent, x_adapted, pad_mask=pad_mask).last_hidden_state
            x_latent = self_attn_n(x_latent).last_hidden_state
        return x_latent


class PerceiverDecoder(nn.Module):
    def __init__(
        self,
        output_adapter: OutputAdapter,
        output_query_provider: QueryProvider,
        num_latent_channels: int,
        num_cross_attention_heads: int = 4,
        num_cross_attention_qk_channels: int | None = None,
        num_cross_attention_v_channels: int | None = None,
        cross_attention_widening_factor: int = 1,
        cross_attention_residual: bool = True,
        dropout: float = 0.0,
        init_scale: float | None = None,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
    ):
        """Cross-attends output queries to the latents and turns the result into task output."""
        super().__init__()
        require_positive(num_latent_channels=num_latent_channels)
        init_scale = resolve_init_scale(init_scale, num_latent_channels)
        require_probability(dropout=dropout)
        self.output_query_provider = output_query_provider
        self.output_adapter = output_adapter
        self.cross_attn = CrossAttentionLayer(
            num_heads=num_cross_attention_heads,
            num_q_input_channels=output_query_provider.num_query_channels,
            num_kv_input_channels=num_latent_channels,
            num_qk_channels=num_cross_attention_qk_channels,
            num_v_channels=num_cross_attention_v_channels,
            widening_factor=cross_attention_widening_factor,
            dropout=dropout,
            attention_residual=cross_attention_residual,
        )
        set_activation_checkpointing(self.cross_attn, activation_checkpointing, activation_offloading)
        init_parameters(self, init_scale)
        if isinstance(output_query_provider, TrainableQueryProvider):
            output_query_provider._init_parameters(init_scale)

    def forward(
        self,
        x_latent: torch.Tensor,
        x_adapted: torch.Tensor | None = None,
        query_positions: slice | torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """
        :param x_adapted: the adapted encoder input, for query providers that build queries from it.
        :param query_positions: decode only these output queries (a slice, ``(k,)`` indices, or ``(b, k)`` indices
            per example); output queries attend to the latents independently of each other, so this equals
            decoding all of them and selecting the outputs.
        :param kwargs: go to the output adapter (e.g. ``txt_embedding`` for tied token outputs).
        """
        b = x_latent.shape[0]
        check_features("x_latent", x_latent, self.cross_attn.attention_module.kv_norm.normalized_shape[0])
        output_query = self.output_query_provider(x_adapted)
        if isinstance(query_positions, torch.Tensor) and query_positions.dim() == 2:
            output_query = output_query.expand(b, -1, -1).gather(
                1, query_positions.unsqueeze(-1).expand(-1, -1, output_query.shape[-1])
            )
        elif query_positions is not None:
            output_query = output_query[:, query_positions]
        if output_query.shape[0] != b:
            output_query = output_query.expand(b, -1, -1)
        check_features("output query", output_query, self.output_query_provider.num_query_channels, batch_size=b)
        with checked_inputs():
            output = self.cross_attn(output_query, x_latent).last_hidden_state
        return self.output_adapter(output, **kwargs)


class PerceiverIO(nn.Sequential):
    def __init__(self, encoder: PerceiverEncoder, decoder: PerceiverDecoder):
        super().__init__(encoder, decoder)

    @property
    def encoder(self) -> PerceiverEncoder:
        return self[0]

    @property
    def decoder(self) -> PerceiverDecoder:
        return self[1]
