"""Perceiver AR: the last positions of a sequence become latents that cross-attend to the whole (causal) sequence,
followed by a stack of causal self-attention on the latents."""

import torch
import torch.nn as nn

from perceiver.model.core.adapter import RotarySupport, TiedTokenOutputAdapter, TokenInputAdapterWithRotarySupport
from perceiver.model.core.attention import check_pad_mask
from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.kv_cache import KVCache, LayerCache, cache_length
from perceiver.model.core.layers import CrossAttentionLayer, SelfAttentionBlock, set_activation_checkpointing
from perceiver.model.core.position import RotaryPositionEmbedding, positions
from perceiver.model.core.utils import (
    ModuleOutput,
    checked_inputs,
    init_parameters,
    inputs_checked,
    require_positive,
    require_probability,
)


class PerceiverAR(nn.Module):
    def __init__(
        self,
        input_adapter: RotarySupport,
        num_heads: int = 8,
        max_heads_parallel: int | None = None,
        num_self_attention_layers: int = 6,
        num_self_attention_rotary_layers: int = 1,
        self_attention_widening_factor: int = 4,
        cross_attention_widening_factor: int = 4,
        cross_attention_dropout: float = 0.5,
        post_attention_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
    ):
        """
        :param input_adapter: embeds token ids and returns rotary frequency encodings of their positions.
        :param cross_attention_dropout: fraction of prefix positions each example drops in training (the kept
            positions keep their order and their rotary positions).
        :param post_attention_dropout: dropout on attention probabilities.
        :param residual_dropout: dropout on each residual branch.
        """
        super().__init__()
        require_positive(num_heads=num_heads, num_self_attention_layers=num_self_attention_layers)
        require_probability(
            cross_attention_dropout=cross_attention_dropout,
            post_attention_dropout=post_attention_dropout,
            residual_dropout=residual_dropout,
        )
        num_channels = input_adapter.num_input_channels
        self.input_adapter = input_adapter
        self.cross_attention_dropout = cross_attention_dropout
        self.cross_attention = CrossAttentionLayer(
            num_heads=num_heads,
            num_q_input_channels=num_channels,
            num_kv_input_channels=num_channels,
            max_heads_parallel=max_heads_parallel,
            causal_attention=True,
            widening_factor=cross_attention_widening_factor,
            dropout=post_attention_dropout,
            residual_dropout=residual_dropout,
            qkv_bias=False,
            out_bias=True,
            mlp_bias=False,
        )
        set_activation_checkpointing(self.cross_attention, activation_checkpointing, activation_offloading)
        self.self_attention = SelfAttentionBlock(
            num_layers=num_self_attention_layers,
            num_heads=num_heads,
            num_channels=num_channels,
            num_rotary_layers=num_self_attention_rotary_layers,
            max_heads_parallel=max_heads_parallel,
            causal_attention=True,
            widening_factor=self_attention_widening_factor,
            dropout=post_attention_dropout,
            residual_dropout=residual_dropout,
            activation_checkpointing=activation_checkpointing,
            activation_offloading=activation_offloading,
            qkv_bias=False,
            out_bias=False,
            mlp_bias=False,
        )

    def empty_kv_cache(self, x: torch.Tensor) -> list[LayerCache]:
        """Empty functional caches (perceiver-io 0.11's form, what ``kv_cache=[]`` starts with) for the batch of
        ``x`` (embedded inputs ``(b, n, c)``): ``[cross-attention, self-attention layer 1, ..., layer L]``."""
        return [self.cross_attention.empty_kv_cache(x)] + self.self_attention.empty_kv_cache(x)

    def preallocated_kv_cache(
        self,
        batch_size: int,
        max_seq_len: int,
        max_latents: int,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> list[KVCache]:
        """Preallocated caches, updated in place (what generation uses): the cross-attention layer's holds up to
        ``max_seq_len`` positions, each self-attention layer's up to ``max_latents``. ``dtype`` and ``device``
        default to those of the model's parameters."""
        require_positive(max_seq_len=max_seq_len, max_latents=max_latents)
        if not isinstance(batch_size, torch.SymInt):  # symbolic while torch.export traces
            require_positive(batch_size=batch_size)
        param = next(self.parameters())
        x = torch.empty(batch_size, 0, 0, dtype=dtype or param.dtype, device=device or param.device)
        return [self.cross_attention.empty_kv_cache(x, max_seq_len)] + self.self_attention.empty_kv_cache(
            x, max_latents
        )

    def forward(
        self,
        x: torch.Tensor,
        prefix_len: int,
        pad_mask: torch.Tensor | None = None,
        kv_cache: list[LayerCache] | None = None,
    ) -> ModuleOutput:
        """
        :param x: token ids ``(b, n)``, left-padded where padded. With a ``kv_cache`` that holds entries, only the
            tokens after the cached ones; they are all latents and ``prefix_len`` is not used.
        :param prefix_len: number of leading positions that are prefix; the other ``n - prefix_len`` are latents.
        :param pad_mask: ``(b, cached + n)`` bool, ``True`` = padding (left padding only).
        :param kv_cache: ``None`` (no caching); ``[]`` or the list an earlier call returned, in perceiver-io 0.11's
            functional form (``(keys, values)`` per layer, never changed in place: the output holds the new list);
            or :meth:`preallocated_kv_cache`, updated in place. Layers: ``[cross-attention, self-attention layer 1,
            ..., layer L]``.
        :return: ``last_hidden_state`` of the latents ``(b, n - prefix_len, c)`` and ``kv_cache``.
        """
        b, n = x.shape
        if kv_cache is not None and len(kv_cache) not in (0, 1 + len(self.self_attention)):
            raise ValueError(
                f"kv_cache must be empty or hold one cache per layer ({1 + len(self.self_attention)}), got "
                f"{len(kv_cache)}"
            )
        num_cached = cache_length(kv_cache[0]) if kv_cache else 0
        self._check_window(x, prefix_len, num_cached)
        if num_cached > 0:
            prefix_len = 0
        elif not isinstance(prefix_len, int) or isinstance(prefix_len, bool):
            raise TypeError(f"prefix_len must be an int, got {type(prefix_len).__name__}")
        elif not 0 <= prefix_len < n:
            raise ValueError(f"prefix_len ({prefix_len}) out of valid range [0..{n})")

        seq_len = num_cached + n
        if pad_mask is not None and not inputs_checked():
            check_pad_mask(pad_mask, b, seq_len)

        if kv_cache is not None and self.training and self.cross_attention_dropout > 0.0 and prefix_len > 0:
            raise ValueError("cross-attention dropout not supported with caching")

        shift = None if pad_mask is None else pad_mask.sum(dim=1, keepdim=True)
        abs_pos = positions(b, seq_len, shift=shift, device=x.device)
        preallocated = bool(kv_cache) and isinstance(kv_cache[0], KVCache)
        if num_cached > 0 and preallocated:
            # preallocated caches hold rotated keys: only the new positions need embeddings and rotary encodings
            # (functional caches hold keys as projected, and all of them are rotated at every call)
            abs_pos = abs_pos[:, num_cached:]
        x_emb, frq_pos_enc = self.input_adapter(x, abs_pos=abs_pos)
        if kv_cache is not None and len(kv_cache) == 0:
            kv_cache = self.empty_kv_cache(x_emb)
        frq_pos_enc = frq_pos_enc.unsqueeze(1)  # (b, 1, seq_len, d): broadcast over heads

        x_prefix, x_latent = x_emb[:, :prefix_len], x_emb[:, prefix_len:]
        num_latents = x_latent.shape[1]
        frq_k, pad_mask_k = frq_pos_enc, pad_mask

        if self.training and prefix_len > 0 and self.cross_attention_dropout > 0.0:
            x_prefix, frq_k, pad_mask_k = self._drop_prefix(x_prefix, frq_pos_enc, pad_mask, prefix_len)

        rot_q = RotaryPositionEmbedding(frq_pos_enc, right_align=True)
        # one embedding for queries and keys where they share the positions: its cos/sin tables are computed once
        rot_k = rot_q if frq_k is frq_pos_enc else RotaryPositionEmbedding(frq_k, right_align=True)

        sa_cache = None if kv_cache is None else kv_cache[1:]
        num_sa_keys = num_latents + (cache_length(sa_cache[0]) if sa_cache else 0)
        pad_mask_sa = None if pad_mask is None else pad_mask[:, seq_len - num_sa_keys :]
        with checked_inputs():  # token ids and pad mask are checked above
            ca_output = self.cross_attention(
                x_latent,
                x_kv_prefix=x_prefix,
                pad_mask=pad_mask_k,
                rot_pos_emb_q=rot_q,
                rot_pos_emb_k=rot_k,
                kv_cache=None if kv_cache is None else kv_cache[0],
            )
            sa_output = self.self_attention(
                ca_output.last_hidden_state, pad_mask=pad_mask_sa, rot_pos_emb=rot_q, kv_cache=sa_cache
            )
        kv_cache = None if kv_cache is None else [ca_output.kv_cache] + sa_output.kv_cache
        return self._output(ModuleOutput(last_hidden_state=sa_output.last_hidden_state, kv_cache=kv_cache))

    def _check_window(self, x: torch.Tensor, prefix_len: int, num_cached: int) -> None:
        """Subclasses with a fixed window check the call against it."""

    def _output(self, output: ModuleOutput) -> ModuleOutput:
        """Subclasses add their outputs (e.g. logits) to the latents' hidden state."""
        return output

    def _drop_prefix(
        self, x_prefix: torch.Tensor, frq_pos_enc: torch.Tensor, pad_mask: torch.Tensor | None, prefix_len: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Keep a random, order-preserving subset of ``prefix_len - int(prefix_len * p)`` prefix positions per
        example, with their rotary encodings and pad-mask entries (gather: static shapes)."""
        b = x_prefix.shape[0]
        num_keep = prefix_len - int(prefix_len * self.cross_attention_dropout)
        keep = torch.rand(b, prefix_len, device=x_prefix.device).topk(num_keep, dim=1).indices.sort(dim=1).values

        x_prefix = x_prefix.gather(1, keep.unsqueeze(-1).expand(-1, -1, x_prefix.shape[-1]))
        frq_prefix = frq_pos_enc[:, :, :prefix_len]
        frq_prefix = frq_prefix.expand(b, -1, -1, -1).gather(
            2, keep[:, None, :, None].expand(-1, 1, -1, frq_prefix.shape[-1])
        )
        frq_k = torch.cat([frq_prefix, frq_pos_enc[:, :, prefix_len:].expand(b, -1, -1, -1)], dim=2)
        if pad_mask is not None:
            pad_mask = torch.cat([pad_mask[:, :prefix_len].gather(1, keep), pad_mask[:, prefix_len:]], dim=1)
        return x_prefix, frq_k, pad_mask


class CausalSequenceModel(PerceiverAR):
    """Perceiver AR over token sequences, with tied output embedding (the base of the causal LM and the
    symbolic audio model)."""

    def __init__(self, config: CausalSequenceModelConfig):
        require_positive(
            num_channels=config.num_channels,
            max_seq_len=config.max_seq_len,
            max_latents=config.max_latents,
            vocab_size=config.vocab_size,
            num_heads=config.num_heads,
        )
        if config.max_latents > config.max_seq_len:
            raise ValueError(f"max_latents ({config.max_latents}) must be <= max_seq_len ({config.max_seq_len})")
        if config.num_channels % config.num_heads != 0:
            raise ValueError(
                f"num_channels must be divisible by num_heads, got num_channels={config.num_channels} "
                f"and num_heads={config.num_heads}"
            )
        head_dim = config.num_channels // config.num_heads
        rotated_channels_per_head = head_dim // 2 if config.abs_pos_emb else head_dim
        # the frequency encoding rotates 2 * ceil(rotated / 2) channels (one more than named when odd)
        if rotated_channels_per_head == 0 or rotated_channels_per_head + rotated_channels_per_head % 2 > head_dim:
            raise ValueError(
                f"rotary embedding cannot rotate {rotated_channels_per_head} channels of heads with {head_dim} "
                f"channels (num_channels={config.num_channels}, num_heads={config.num_heads}, "
                f"abs_pos_emb={config.abs_pos_emb}): use an even num_channels // num_heads or abs_pos_emb=True"
            )
        input_adapter = TokenInputAdapterWithRotarySupport(
            rotated_channels_per_head=rotated_channels_per_head,
            vocab_size=config.vocab_size,
            max_seq_len=config.max_seq_len,
            num_input_channels=config.num_channels,
            abs_pos_emb=config.abs_pos_emb,
        )
        super().__init__(input_adapter=input_adapter, **config.base_kwargs())
        self._config = config
        if config.output_norm:
            self.out_norm = nn.LayerNorm(config.num_channels)
        self.output_adapter = TiedTokenOutputAdapter(vocab_size=config.vocab_size, emb_bias=config.output_bias)
        init_parameters(self, config.init_scale)

    @property
    def config(self) -> CausalSequenceModelConfig:
        return self._config

    @property
    def max_seq_len(self) -> int:
        return self._config.max_seq_len

    @property
    def max_latents(self) -> int:
        return self._config.max_latents

    @property
    def max_prefix_len(self) -> int:
        return self.max_seq_len - self.max_latents

    def preallocated_kv_cache(
        self,
        batch_size: int,
        max_seq_len: int | None = None,
        max_latents: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> list[KVCache]:
        """See :meth:`PerceiverAR.preallocated_kv_cache`; sized for this model's window by default."""
        return super().preallocated_kv_cache(
            batch_size, max_seq_len or self.max_seq_len, max_latents or self.max_latents, dtype, device
        )

    def _check_window(self, x: torch.Tensor, prefix_len: int, num_cached: int) -> None:
        if isinstance(prefix_len, int) and prefix_len > self.max_prefix_len:
            raise ValueError(f"prefix_len ({prefix_len}) exceeds max_prefix_len ({self.max_prefix_len})")
        if num_cached + x.shape[1] > self.max_seq_len:
            raise ValueError(
                f"sequence length {num_cached + x.shape[1]} (cached {num_cached} + input {x.shape[1]}) exceeds "
                f"max_seq_len ({self.max_seq_len})"
            )

    def _output(self, output: ModuleOutput) -> ModuleOutput:
        if self._config.output_norm:
            output.last_hidden_state = self.out_norm(output.last_hidden_state)
        output.logits = self.output_adapter(output.last_hidden_state, txt_embedding=self.input_adapter.txt_embedding)
        return output
