"""Multi-head attention on ``scaled_dot_product_attention``, and its pre-norm cross- and self-attention forms."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from perceiver.model.core.kv_cache import FunctionalKVCache, KVCache, check_functional_kv_cache
from perceiver.model.core.position import RotaryPositionEmbedding
from perceiver.model.core.split_input import SplitInput, can_project_split, split_norm_project
from perceiver.model.core.utils import ModuleOutput, require_divisible, require_optional_positive, require_positive


def attention_mask(
    pad_mask: torch.Tensor | None, n_q: int, n_k: int, causal: bool, device: torch.device
) -> torch.Tensor | None:
    """Boolean SDPA mask (``True`` = attend) of shape ``(b or 1, 1, n_q or 1, n_k)``, or ``None`` for no mask.

    The causal mask is right-aligned: query ``i`` sees keys ``j <= i + n_k - n_q``.
    """
    mask = None
    if pad_mask is not None:
        mask = ~pad_mask[:, None, None, :]
    if causal:
        i = torch.arange(n_q, device=device).unsqueeze(1)
        j = torch.arange(n_k, device=device).unsqueeze(0)
        causal_mask = (j <= i + (n_k - n_q))[None, None]
        mask = causal_mask if mask is None else mask & causal_mask
    return mask


def masked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    dropout_p: float,
    scale: float,
) -> torch.Tensor:
    """SDPA where query rows without any visible key return zeros instead of NaN."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    mask, has_key = open_keyless_rows(mask)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return out * has_key.to(out.dtype)


def open_keyless_rows(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mask with rows that see no key opened to every key (finite values and gradients), and which rows see a
    key: their outputs are kept, the others zeroed."""
    has_key = mask.any(dim=-1, keepdim=True)
    return mask | ~has_key, has_key


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pad_mask: torch.Tensor | None,
    causal: bool,
    dropout_p: float,
    scale: float,
    pad_head_dims: bool = False,
) -> torch.Tensor:
    """Attention of ``q`` (b, h, n_q, d), ``k`` (b, h, n_k, d), ``v`` (b, h, n_k, e) on SDPA.

    Without padding the causal mask is passed as a lower-right ``CausalBias`` (or ``is_causal`` when square), which
    keeps the fused kernels eligible; with padding an explicit boolean mask is built. ``pad_head_dims`` zero-pads
    the head dims to what fused kernels accept (exact: zeros add nothing to ``q.k``, the scale is explicit). CPU
    training inputs that the flash kernel handles badly take :func:`unfused_attention` (:func:`prefers_unfused`).
    """
    if q.shape[-1] < k.shape[-1]:
        # keys projected with zero-padded head dims (split inputs): pad the queries alike (exact)
        q = F.pad(q, (0, k.shape[-1] - q.shape[-1]))
    n_q, n_k, d_v = q.shape[-2], k.shape[-2], v.shape[-1]
    if causal and n_q == 1 and n_k >= 1:
        causal = False  # a single right-aligned query sees every key: no mask to build (cached decoding steps)
    if prefers_unfused(q, k, v):
        mask = attention_mask(pad_mask, n_q, n_k, causal, q.device)
        return unfused_attention(q, k, v, mask, dropout_p, scale)
    if pad_head_dims:
        # The CPU flash kernel takes a mask too; on CUDA a mask rules FlashAttention out anyway.
        q, k, v = zero_pad_head_dims(q, k, v, same_dims=pad_mask is None or not q.is_cuda)
    # torch.export cannot trace the CausalBias tensor subclass: it takes the explicit mask instead
    if (
        pad_mask is None
        and (not causal or n_k >= n_q)
        and not (causal and n_q != n_k and torch.compiler.is_exporting())
    ):
        if causal and n_q != n_k:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=causal_lower_right(n_q, n_k), dropout_p=dropout_p, scale=scale
            )
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout_p, scale=scale)
    else:
        out = masked_attention(q, k, v, attention_mask(pad_mask, n_q, n_k, causal, q.device), dropout_p, scale)
    return out if out.shape[-1] == d_v else out[..., :d_v]


# Training on the CPU: largest score matrices (elements over batch and heads) for which two matmuls and a softmax
# beat the flash kernel in forward plus backward (torch 2.13, 2 cores), where the flash kernel
# - needs zero-padded head dims (query/key and value head dims differ, e.g. language-perceiver's qk 32 / v 64), or
# - has a slow backward because head dims are not multiples of 8 (up to 1.6x, e.g. the 133 channels of a Fourier
#   image classifier's cross-attention).
# In inference the flash kernel is as fast or faster.
UNFUSED_MAX_SCORES = 2**22
UNFUSED_MAX_SCORES_UNALIGNED = 2**23


def prefers_unfused(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether :func:`unfused_attention` is faster than SDPA's flash kernel for these CPU inputs."""
    training = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    if q.device.type != "cpu" or not training:
        return False
    scores = q.shape[0] * q.shape[1] * q.shape[-2] * k.shape[-2]
    if q.shape[-1] != v.shape[-1]:
        return scores <= UNFUSED_MAX_SCORES
    return (q.shape[-1] % 8 != 0 or v.shape[-1] % 8 != 0) and scores <= UNFUSED_MAX_SCORES_UNALIGNED


def unfused_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float, scale: float
) -> torch.Tensor:
    """Softmax attention as two matmuls; query rows without any visible key give zeros."""
    scores = torch.matmul(q * scale, k.transpose(-1, -2))
    if mask is not None:
        mask, has_key = open_keyless_rows(mask)
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        probs = F.dropout(probs, p=dropout_p)
    out = torch.matmul(probs, v)
    return out if mask is None else out * has_key.to(out.dtype)


def zero_pad_head_dims(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, same_dims: bool, multiple: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-pad head dims to multiples of ``multiple``; with ``same_dims`` (no mask: FlashAttention is eligible,
    which needs equal dims up to 256) query/key and value to one common size."""
    d_qk, d_v = q.shape[-1], v.shape[-1]
    target_qk = -(-d_qk // multiple) * multiple
    target_v = -(-d_v // multiple) * multiple
    if same_dims and max(target_qk, target_v) <= 256:
        target_qk = target_v = max(target_qk, target_v)
    if target_qk != d_qk:
        q = F.pad(q, (0, target_qk - d_qk))
        k = F.pad(k, (0, target_qk - d_qk))
    if target_v != d_v:
        v = F.pad(v, (0, target_v - d_v))
    return q, k, v


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
        # None: zero-pad head dims for fused kernels on CUDA, and on the CPU where qk and v head dims differ;
        # True/False force it (tests, benchmarks)
        self.pad_head_dims: bool | None = None

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
        check_features("x_q", x_q, self.q_proj.in_features)
        q = once_per_batch(self.q_proj, x_q)
        if projected_kv is None:
            check_features("x_kv", x_kv, self.k_proj.in_features, batch_size=x_q.shape[0])
            k, v = self.k_proj(x_kv), self.v_proj(x_kv)
        else:
            k, v = projected_kv
        q = self._split_heads(q)
        if rot_pos_emb_q is not None:
            q = rot_pos_emb_q.rotate(q)
        if isinstance(kv_cache, KVCache):
            # The cache holds rotated keys: a key's rotation depends only on its own position, so each key is rotated
            # once, when it enters the cache, instead of the whole cache at every decoding step (same values).
            if rot_pos_emb_k is not None:
                k = rot_pos_emb_k.rotate(self._split_heads(k)).transpose(1, 2).flatten(2)
            k, v = kv_cache.update(k, v)
            # the cache keeps its own dtype under autocast
            if k.dtype != q.dtype:
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

        if pad_mask is not None:
            check_pad_mask(pad_mask, k.shape[0], k.shape[2])

        dropout_p = self.dropout if self.training else 0.0
        if self.pad_head_dims is not None:
            pad_head_dims = self.pad_head_dims
        else:
            # CPU: only when query/key and value head dims differ (the CPU flash kernel needs them equal; SDPA's math
            # fallback is several times slower, e.g. language-perceiver's qk 32 / v 160)
            pad_head_dims = q.is_cuda or q.shape[-1] != v.shape[-1]

        def attend(h: slice) -> torch.Tensor:
            return attention(
                q[:, h], k[:, h], v[:, h], pad_mask, self.causal_attention, dropout_p, self.dp_scale, pad_head_dims
            )

        if self.max_heads_parallel >= self.num_heads:
            o = attention(q, k, v, pad_mask, self.causal_attention, dropout_p, self.dp_scale, pad_head_dims)
        else:
            step = self.max_heads_parallel
            o = torch.cat([attend(slice(h, h + step)) for h in range(0, self.num_heads, step)], dim=1)

        d_v = self.num_v_channels // self.num_heads
        if o.shape[-1] != d_v:
            o = o[..., :d_v]  # values projected with zero-padded head dims
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
    def __init__(
        self,
        num_heads: int,
        num_q_input_channels: int,
        num_kv_input_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        dropout: float = 0.0,
        qkv_bias: bool = True,
        out_bias: bool = True,
    ):
        """Pre-layer-norm cross-attention: queries and keys/values are normalised separately."""
        super().__init__()
        self.q_norm = nn.LayerNorm(num_q_input_channels)
        self.kv_norm = nn.LayerNorm(num_kv_input_channels)
        self.attention = MultiHeadAttention(
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
                # keys and values come out with head dims padded to multiples of 8, as the flash kernel prefers
                num_heads = self.attention.num_heads
                projected_kv = tuple(split_norm_project(x_kv, self.kv_norm, projections, num_heads, multiple=8))
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
    def __init__(
        self,
        num_heads: int,
        num_channels: int,
        num_qk_channels: int | None = None,
        num_v_channels: int | None = None,
        max_heads_parallel: int | None = None,
        causal_attention: bool = False,
        dropout: float = 0.0,
        qkv_bias: bool = True,
        out_bias: bool = True,
    ):
        """Pre-layer-norm self-attention."""
        super().__init__()
        self.norm = nn.LayerNorm(num_channels)
        self.attention = MultiHeadAttention(
            num_heads=num_heads,
            num_q_input_channels=num_channels,
            num_kv_input_channels=num_channels,
            num_qk_channels=num_qk_channels,
            num_v_channels=num_v_channels,
            max_heads_parallel=max_heads_parallel,
            causal_attention=causal_attention,
            dropout=dropout,
            qkv_bias=qkv_bias,
            out_bias=out_bias,
        )

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
