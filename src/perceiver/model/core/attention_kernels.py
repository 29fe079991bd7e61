"""How one attention call is computed: the policy, the path it picks, and the kernels behind each path.

:func:`attention` computes softmax attention of ``q (b, h, n_q, d)``, ``k (b, h, n_k, d)`` and ``v (b, h, n_k, e)``
with an optional key padding mask and a right-aligned causal mask. It asks :func:`choose_path` which of three
paths runs; all give the same values up to float rounding, and query rows without any visible key give zeros:

- ``"sdpa"``: ``scaled_dot_product_attention`` with no mask tensor (``is_causal``, or a lower-right ``CausalBias``
  when ``n_q != n_k``), so that the fused kernels (flash, memory-efficient) stay eligible.
- ``"sdpa_masked"``: ``scaled_dot_product_attention`` with a boolean mask, for what the first path cannot express:
  key padding, causal masks with more queries than keys, and rectangular causal masks under ``torch.export``
  (which cannot trace ``CausalBias``).
- ``"unfused"``: two matmuls and a softmax. On the CPU in training it beats the flash kernel's backward for small
  score matrices whose head dims the flash kernel handles badly (see :class:`AttentionPolicy`).

On the SDPA paths head dims may be zero-padded (:func:`padded_head_dims`): zero channels add nothing to ``q.k``,
the scale is passed explicitly, and the output is cut back to the value head dim once, here.

The policy in effect is :func:`attention_policy`; :func:`use_attention_policy` changes it for a block of code, e.g.
``with use_attention_policy(kernel="unfused"): model(x)`` to force a path, or new thresholds for another machine.
"""

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

PATHS = ("sdpa", "sdpa_masked", "unfused")


@dataclass(frozen=True)
class AttentionPolicy:
    """What decides the path of an attention call.

    :param kernel: ``None`` chooses by the rules below; ``"sdpa"`` always takes SDPA (with a mask tensor where the
        call needs one); ``"unfused"`` always takes the unfused path.
    :param pad_head_dims: zero-pad head dims on the SDPA paths to multiples of ``head_dim_multiple`` (and query/key
        and value to one size where that keeps a fused kernel eligible). ``None``: on CUDA always (FlashAttention
        needs aligned, equal head dims; the official checkpoints have 261, 322, or qk 32 / v 160); on the CPU only
        where query/key and value head dims differ (the CPU flash kernel needs them equal, and SDPA's math fallback
        is several times slower).
    :param head_dim_multiple: what head dims are padded to (also the per-head width split-input projections give
        keys and values, see :mod:`perceiver.model.core.split_input`).
    :param unfused_training_max_scores: on the CPU in training with query/key and value head dims that differ, the
        unfused path runs up to this many score elements (``b * h * n_q * n_k``).
    :param unfused_training_max_scores_unaligned: the same where the head dims are equal but not multiples of 8.

    The two thresholds were measured with torch 2.13 on a 2-core x86 CPU (``benchmarks/attention.py``), where the
    flash backward is up to 1.6x slower than two matmuls for such inputs (e.g. language-perceiver's qk 32 / v 64
    heads, the 133 channels of a Fourier image classifier's cross-attention). Other CPUs and torch versions may
    want other values (0 turns the unfused path off); inference and GPUs always take SDPA.
    """

    kernel: Literal["sdpa", "unfused"] | None = None
    pad_head_dims: bool | None = None
    head_dim_multiple: int = 8
    unfused_training_max_scores: int = 2**22
    unfused_training_max_scores_unaligned: int = 2**23

    def __post_init__(self):
        if self.kernel not in (None, "sdpa", "unfused"):
            raise ValueError(f"kernel must be None, 'sdpa' or 'unfused', got {self.kernel!r}")
        if self.pad_head_dims not in (None, True, False):
            raise ValueError(f"pad_head_dims must be None, True or False, got {self.pad_head_dims!r}")
        minimums = {"head_dim_multiple": 1, "unfused_training_max_scores": 0}
        minimums["unfused_training_max_scores_unaligned"] = 0
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


# A module global rather than a ContextVar: torch.compile guards on globals, not on context variables.
_policy = AttentionPolicy()


def attention_policy() -> AttentionPolicy:
    """The policy in effect."""
    return _policy


@contextlib.contextmanager
def use_attention_policy(policy: AttentionPolicy | None = None, **changes) -> Iterator[AttentionPolicy]:
    """Run a block of code under ``policy`` (default: the current one) with ``changes`` to its fields."""
    global _policy
    new = dataclasses.replace(policy or _policy, **changes)
    old, _policy = _policy, new
    try:
        yield new
    finally:
        _policy = old


def choose_path(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pad_mask: torch.Tensor | None = None,
    causal: bool = False,
    policy: AttentionPolicy | None = None,
) -> str:
    """The name of the path :func:`attention` takes for these inputs (one of :data:`PATHS`)."""
    policy = policy or _policy
    if policy.kernel == "unfused" or (policy.kernel is None and _prefers_unfused(q, k, v, policy)):
        return "unfused"
    n_q, n_k = q.shape[-2], k.shape[-2]
    causal = causal and n_q > 1  # one right-aligned query sees every key: nothing to mask
    needs_mask = (
        pad_mask is not None
        or (causal and n_k < n_q)  # some queries see no key: their rows must come out zero
        or (causal and n_q != n_k and torch.compiler.is_exporting())
    )
    return "sdpa_masked" if needs_mask else "sdpa"


def _prefers_unfused(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, policy: AttentionPolicy) -> bool:
    training = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    if q.device.type != "cpu" or not training:
        return False
    scores = q.shape[0] * q.shape[1] * q.shape[-2] * k.shape[-2]
    d_qk, d_v = max(q.shape[-1], k.shape[-1]), v.shape[-1]
    if d_qk != d_v:
        return scores <= policy.unfused_training_max_scores
    return d_qk % 8 != 0 and scores <= policy.unfused_training_max_scores_unaligned


def padded_head_dims(
    d_qk: int, d_v: int, cuda: bool, masked: bool, policy: AttentionPolicy | None = None
) -> tuple[int, int]:
    """Head dims the SDPA paths run on: ``(d_qk, d_v)``, or both rounded up to ``policy.head_dim_multiple`` (and to
    one size where a fused kernel needs equal dims: without a mask on CUDA, always on the CPU, up to 256)."""
    policy = policy or _policy
    pad = policy.pad_head_dims if policy.pad_head_dims is not None else cuda or d_qk != d_v
    if not pad:
        return d_qk, d_v
    multiple = policy.head_dim_multiple
    t_qk, t_v = -(-d_qk // multiple) * multiple, -(-d_v // multiple) * multiple
    if (not masked or not cuda) and max(t_qk, t_v) <= 256:
        t_qk = t_v = max(t_qk, t_v)
    return t_qk, t_v


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pad_mask: torch.Tensor | None = None,
    causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    value_dim: int | None = None,
    policy: AttentionPolicy | None = None,
) -> torch.Tensor:
    """Attention ``(b, h, n_q, value_dim)`` of ``q``, ``k``, ``v`` on the path :func:`choose_path` picks.

    :param pad_mask: ``(b, n_k)`` bool, ``True`` = padding.
    :param causal: right-aligned: query ``i`` sees keys ``j <= i + n_k - n_q``.
    :param scale: of ``q.k`` (default ``q.shape[-1] ** -0.5``, before any padding).
    :param value_dim: the value head dim to return (default ``v.shape[-1]``); smaller when ``v`` arrives
        zero-padded (keys and values of split-input projections). ``k`` may arrive padded too: ``q`` is padded to it.
    """
    policy = policy or _policy
    value_dim = v.shape[-1] if value_dim is None else value_dim
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    path = choose_path(q, k, v, pad_mask, causal, policy)
    n_q, n_k = q.shape[-2], k.shape[-2]
    causal = causal and n_q > 1
    if path == "unfused":
        q = _pad_last(q, k.shape[-1])
        out = _unfused(q, k, v, causal_mask(pad_mask, n_q, n_k, causal, q.device), dropout_p, scale)
    else:
        t_qk, t_v = padded_head_dims(max(q.shape[-1], k.shape[-1]), v.shape[-1], q.is_cuda, path != "sdpa", policy)
        q, k, v = _pad_last(q, t_qk), _pad_last(k, t_qk), _pad_last(v, t_v)
        if path == "sdpa":
            out = _sdpa(q, k, v, causal, dropout_p, scale)
        else:
            out = _sdpa_masked(q, k, v, causal_mask(pad_mask, n_q, n_k, causal, q.device), dropout_p, scale)
    return out if out.shape[-1] == value_dim else out[..., :value_dim]


def causal_mask(
    pad_mask: torch.Tensor | None, n_q: int, n_k: int, causal: bool, device: torch.device
) -> torch.Tensor | None:
    """Boolean mask (``True`` = attend) of shape ``(b or 1, 1, n_q or 1, n_k)`` from a key padding mask and a
    right-aligned causal mask, or ``None`` for no mask."""
    mask = None if pad_mask is None else ~pad_mask[:, None, None, :]
    if causal:
        i = torch.arange(n_q, device=device).unsqueeze(1)
        j = torch.arange(n_k, device=device).unsqueeze(0)
        visible = (j <= i + (n_k - n_q))[None, None]
        mask = visible if mask is None else mask & visible
    return mask


def _pad_last(t: torch.Tensor, size: int) -> torch.Tensor:
    return t if t.shape[-1] >= size else F.pad(t, (0, size - t.shape[-1]))


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, dropout_p: float, scale: float):
    if causal and q.shape[-2] != k.shape[-2]:
        mask = causal_lower_right(q.shape[-2], k.shape[-2])  # keeps the fused kernels eligible
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout_p, scale=scale)


def _sdpa_masked(q, k, v, mask: torch.Tensor | None, dropout_p: float, scale: float) -> torch.Tensor:
    mask, has_key = _open_keyless_rows(mask)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return out if has_key is None else out * has_key.to(out.dtype)


def _unfused(q, k, v, mask: torch.Tensor | None, dropout_p: float, scale: float) -> torch.Tensor:
    scores = torch.matmul(q * scale, k.transpose(-1, -2))
    mask, has_key = _open_keyless_rows(mask)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        probs = F.dropout(probs, p=dropout_p)
    out = torch.matmul(probs, v)
    return out if has_key is None else out * has_key.to(out.dtype)


def _open_keyless_rows(mask: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The mask with rows that see no key opened to every key (finite values and gradients), and which rows see a
    key: their outputs are kept, the others zeroed."""
    if mask is None:
        return None, None
    has_key = mask.any(dim=-1, keepdim=True)
    return mask | ~has_key, has_key
