"""Multi-head attention and its pre-norm cross- and self-attention forms.

The modules project, split heads, rotate and cache; how the attention itself is computed (which kernel, masks,
zero-padded head dims) is decided in one place, :mod:`perceiver.model.core.attention_kernels`.
"""

import torch
import torch.nn as nn

from perceiver.model.core.attention_kernels import attention, attention_policy
from perceiver.model.core.kv_cache import FunctionalKVCache, KVCache, check_functional_kv_cache
from perceiver.model.core.position import RotaryPositionEmbedding
from perceiver.model.core.split_input import SplitInput, can_project_split, split_norm_project
from perceiver.model.core.utils import (
    ModuleOutput,
    inputs_checked,
    require_divisible,
    require_optional_positive,
    require_positive,
)


class MultiHeadAttention(nn.Module):
    def __init__(
        self,
        num_heads: int,
        num_q_input_channels: int,
        num_kv_input_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        num_output_channels: int | None = None,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        dropout: float = 0.0,
        qkv_bias: bool = True,
        out_bias: bool = True,
    ):
        """Multi-head attention (Vaswani et al. 2017) with separate query/key and value channel counts.

        :param num_qk_channels: query/key channels over all heads (default: ``num_q_input_channels``).
        :param num_v_channels: value channels over all heads (default: ``num_qk_channels``).
        :param num_output_channels: output channels (default: ``num_q_input_channels``).
        :param max_heads_parallel: compute attention for at most this many heads at a time (default: all).
        :param causal_attention: right-aligned causal mask (query ``i`` sees keys up to ``i + n_k - n_q``).
        :param dropout: dropout on the attention probabilities (training only).
        """
        super().__init__()
        require_positive(
            num_heads=num_heads, num_q_input_channels=num_q_input_channels, num_kv_input_channels=num_kv_input_channels
        )
        require_optional_positive(
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            num_output_channels=num_output_channels,
            max_heads_parallel=max_heads_parallel,
        )
        num_qk_channels = num_qk_channels or num_q_input_channels
        num_v_channels = num_v_channels or num_qk_channels
        num_output_channels = num_output_channels or num_q_input_channels
        require_divisible("num_qk_channels", num_qk_channels, num_heads)
        require_divisible("num_v_channels", num_v_channels, num_heads)

        self.num_heads = num_heads
        self.num_qk_channels = num_qk_channels
        self.num_v_channels = num_v_channels
        self.dp_scale = (num_qk_channels // num_heads) ** -0.5
        self.max_heads_parallel = max_heads_parallel or num_heads
        self.causal_attention = causal_attention
        self.dropout = dropout

        self.q_proj = nn.Linear(num_q_input_channels, num_qk_channels, bias=qkv_bias)
        self.k_proj = nn.Linear(num_kv_input_channels, num_qk_channels, bias=qkv_bias)
        self.v_proj = nn.Linear(num_kv_input_channels, num_v_channels, bias=qkv_bias)
        self.o_proj = nn.Linear(num_v_channels, num_output_channels, bias=out_bias)

    def empty_kv_cache(self, x: torch.Tensor, capacity: int | None = None) -> KVCache | FunctionalKVCache:
        """An empty cache on ``x``'s batch size, dtype and device: with ``capacity``, a preallocated
        :class:`KVCache` for that many keys and values, updated in place; without, the functional form of
        perceiver-io 0.11, empty ``(keys, values)`` of shapes ``(b, 0, num_qk_channels)`` and
        ``(b, 0, num_v_channels)``."""
        if capacity is None:
            b = x.shape[0]
            return x.new_zeros(b, 0, self.num_qk_channels), x.new_zeros(b, 0, self.num_v_channels)
        return KVCache(x.shape[0], capacity, self.num_qk_channels, self.num_v_channels, x.dtype, x.device)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        pad_mask: torch.Tensor | None = None,
        rot_pos_emb_q: RotaryPositionEmbedding | None = None,
        rot_pos_emb_k: RotaryPositionEmbedding | None = None,
        kv_cache: KVCache | FunctionalKVCache | None = None,
        projected_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> ModuleOutput:
        """
        :param x_q: queries ``(b, n_q, c_q)``.
        :param x_kv: keys/values input ``(b, n_kv, c_kv)``; with a cache only the new entries.
        :param pad_mask: ``(b, n_k)`` bool, ``True`` = padding, over all keys (cached ones included).
        :param rot_pos_emb_k: rotary embedding of the keys; with a functional cache it covers all keys (cached ones
            included), with a :class:`KVCache` at least the new ones (right-aligned).
        :param kv_cache: a :class:`KVCache`, updated in place with the projected keys (rotated) and values of
            ``x_kv`` and returned; or the functional form ``(keys, values)`` of earlier calls (projected, not rotated,
            ``(b, n, channels)``), which is left as it is: the output holds a new one with ``x_kv``'s entries added.
        :param projected_kv: keys and values already projected by ``k_proj`` and ``v_proj`` (``x_kv`` is then
            ``None``), e.g. by :func:`~perceiver.model.core.split_input.split_norm_project`.
        """
        if not inputs_checked():
            check_features("x_q", x_q, self.q_proj.in_features)
            if projected_kv is None:
                check_features("x_kv", x_kv, self.k_proj.in_features, batch_size=x_q.shape[0])
        q = once_per_batch(self.q_proj, x_q)
        k, v = (self.k_proj(x_kv), self.v_proj(x_kv)) if projected_kv is None else projected_kv
        q = self._split_heads(q)
        if rot_pos_emb_q is not None:
            q = rot_pos_emb_q.rotate(q)
        if isinstance(kv_cache, KVCache):
            # The cache holds rotated keys: a key's rotation depends only on its own position, so each key is rotated
            # once, when it enters the cache, instead of the whole cache at every decoding step (same values).
            if rot_pos_emb_k is not None:
                k = rot_pos_emb_k.rotate(self._split_heads(k)).transpose(1, 2).flatten(2)
            k, v = kv_cache.update(k, v)
            if k.dtype != q.dtype:  # the cache keeps its own dtype under autocast
                k, v = k.to(q.dtype), v.to(q.dtype)
            k, v = self._split_heads(k), self._split_heads(v)
        else:
            if kv_cache is not None:
                check_functional_kv_cache(kv_cache, k.shape[0], self.num_qk_channels, self.num_v_channels)
                k, v = torch.cat([kv_cache[0], k], dim=1), torch.cat([kv_cache[1], v], dim=1)
                kv_cache = (k, v)
            k, v = self._split_heads(k), self._split_heads(v)
            if rot_pos_emb_k is not None:
                k = rot_pos_emb_k.rotate(k)
        if pad_mask is not None and not inputs_checked():
            check_pad_mask(pad_mask, k.shape[0], k.shape[2])

        dropout_p = self.dropout if self.training else 0.0
        d_v = self.num_v_channels // self.num_heads  # values may arrive with zero-padded head dims: cut back to it

        def attend(h: slice) -> torch.Tensor:
            return attention(q[:, h], k[:, h], v[:, h], pad_mask, self.causal_attention, dropout_p, self.dp_scale, d_v)

        step = self.max_heads_parallel  # heads at a time: a memory knob
        chunks = [attend(slice(h, h + step)) for h in range(0, self.num_heads, step)]
        o = chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)
        o = self.o_proj(o.transpose(1, 2).flatten(2))
        return ModuleOutput(last_hidden_state=o, kv_cache=kv_cache)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """``(b, n, h * d) -> (b, h, n, d)``."""
        return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)


def once_per_batch(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)``, computed on one example when ``x`` is broadcast over the batch (stride 0, as learned latents
    and output queries are) and broadcast back: the same values at a fraction of the cost."""
    if x.dim() == 3 and x.shape[0] > 1 and x.stride(0) == 0:
        return module(x[:1]).expand(x.shape[0], -1, -1)
    return module(x)


def check_features(name: str, x: torch.Tensor, channels: int, batch_size: int | None = None) -> None:
    """``x`` must be a floating tensor ``(batch_size, length, channels)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating point tensor, got dtype {x.dtype}")
    if x.dim() != 3 or x.shape[-1] != channels:
        raise ValueError(f"{name} must have shape (batch_size, length, {channels}), got {tuple(x.shape)}")
    if batch_size is not None and x.shape[0] != batch_size:
        raise ValueError(f"{name} has batch size {x.shape[0]}, expected {batch_size}")


def check_pad_mask(pad_mask: torch.Tensor, batch_size: int, num_keys: int) -> None:
    if pad_mask.dtype != torch.bool:
        raise TypeError(f"pad_mask must be a bool tensor (True = padding), got dtype {pad_mask.dtype}")
    if tuple(pad_mask.shape) != (batch_size, num_keys):
        raise ValueError(
            f"pad_mask must have shape (batch_size, num_keys) = {(batch_size, num_keys)}, got {tuple(pad_mask.shape)}"
        )


class CrossAttention(nn.Module):
    def __init__(self, num_heads: int, num_q_input_channels: int, num_kv_input_channels: int, **kwargs):
        """Pre-layer-norm cross-attention: queries and keys/values are normalised separately. ``kwargs`` are those
        of :class:`MultiHeadAttention` (``num_qk_channels``, ``num_v_channels``, ``max_heads_parallel``,
        ``causal_attention``, ``dropout``, ``qkv_bias``, ``out_bias``)."""
        super().__init__()
        self.q_norm = nn.LayerNorm(num_q_input_channels)
        self.kv_norm = nn.LayerNorm(num_kv_input_channels)
        self.attention = MultiHeadAttention(num_heads, num_q_input_channels, num_kv_input_channels, **kwargs)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor | SplitInput | None = None,
        x_kv_prefix: torch.Tensor | None = None,
        pad_mask: torch.Tensor | None = None,
        rot_pos_emb_q: RotaryPositionEmbedding | None = None,
        rot_pos_emb_k: RotaryPositionEmbedding | None = None,
        kv_cache: KVCache | FunctionalKVCache | None = None,
    ) -> ModuleOutput:
        """With ``x_kv=None`` the keys/values are ``x_kv_prefix`` followed by the queries themselves (the Perceiver
        AR hybrid layer: latents attend to the prefix and to each other)."""
        x_q = once_per_batch(self.q_norm, x_q)
        projected_kv = None
        if x_kv is None:
            if x_kv_prefix is None:
                raise ValueError("Either x_kv or x_kv_prefix must be given")
            # an empty prefix (cached decoding steps): the keys/values are the queries
            x_kv = x_q if x_kv_prefix.shape[1] == 0 else torch.cat([self.kv_norm(x_kv_prefix), x_q], dim=1)
        elif isinstance(x_kv, SplitInput):
            projections = (self.attention.k_proj, self.attention.v_proj)
            if kv_cache is None and can_project_split(self.kv_norm, projections, x_kv):
                # keys and values come out with head dims padded as the fused kernels prefer (no copy)
                num_heads, multiple = self.attention.num_heads, attention_policy().head_dim_multiple
                projected_kv = tuple(split_norm_project(x_kv, self.kv_norm, projections, num_heads, multiple))
                x_kv = None
            else:
                x_kv = self.kv_norm(x_kv.materialize())
        else:
            x_kv = self.kv_norm(x_kv)
        return self.attention(
            x_q,
            x_kv,
            pad_mask=pad_mask,
            rot_pos_emb_q=rot_pos_emb_q,
            rot_pos_emb_k=rot_pos_emb_k,
            kv_cache=kv_cache,
            projected_kv=projected_kv,
        )


class SelfAttention(nn.Module):
    def __init__(self, num_heads: int, num_channels: int, **kwargs):
        """Pre-layer-norm self-attention; ``kwargs`` are those of :class:`MultiHeadAttention`."""
        super().__init__()
        self.norm = nn.LayerNorm(num_channels)
        self.attention = MultiHeadAttention(num_heads, num_channels, num_channels, **kwargs)

    def forward(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor | None = None,
        rot_pos_emb: RotaryPositionEmbedding | None = None,
        kv_cache: KVCache | FunctionalKVCache | None = None,
    ) -> ModuleOutput:
        x = self.norm(x)
        return self.attention(
            x, x, pad_mask=pad_mask, rot_pos_emb_q=rot_pos_emb, rot_pos_emb_k=rot_pos_emb, kv_cache=kv_cache
        )
