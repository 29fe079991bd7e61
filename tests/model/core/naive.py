"""An independent, deliberately plain attention used as the reference in the core tests."""

import math

import torch


def naive_rotate(t: torch.Tensor, pos: torch.Tensor, rotate_dim: int) -> torch.Tensor:
    """Rotate interleaved channel pairs ``(x1, x2)`` as complex numbers ``x1 + i x2`` by ``pos * 10000^(-2f/d)``.

    ``t``: (b, h, n, d); ``pos``: (b, n) positions of the rows of ``t``.
    """
    inv_freq = 1.0 / (10000 ** (torch.arange(0, rotate_dim, 2, dtype=torch.float64) / rotate_dim))
    angle = pos.to(torch.float64)[:, None, :, None] * inv_freq  # (b, 1, n, d/2)
    rot = t[..., :rotate_dim].to(torch.float64)
    z = torch.complex(rot[..., 0::2], rot[..., 1::2]) * torch.exp(1j * angle)
    out = torch.stack([z.real, z.imag], dim=-1).flatten(-2).to(t.dtype)
    return torch.cat([out, t[..., rotate_dim:]], dim=-1)


def naive_attention(q, k, v, pad_mask=None, causal=False, scale=None):
    """``q``: (b, h, n_q, d), ``k``: (b, h, n_k, d), ``v``: (b, h, n_k, e); rows with no visible key give zeros."""
    b, _, n_q, d = q.shape
    n_k = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    scores = torch.einsum("bhid,bhjd->bhij", q, k) * scale
    visible = torch.ones(b, 1, n_q, n_k, dtype=torch.bool)
    if pad_mask is not None:
        visible = visible & ~pad_mask[:, None, None, :]
    if causal:
        for i in range(n_q):
            for j in range(n_k):
                if j > i + n_k - n_q:
                    visible[:, :, i, j] = False
    scores = scores.masked_fill(~visible, float("-inf"))
    probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return torch.einsum("bhij,bhje->bhie", probs, v)


def naive_mha(mha, x_q, x_kv, pad_mask=None, pos_q=None, pos_k=None, rotate_dim=0):
    """Multi-head attention with the weights of ``mha`` (a MultiHeadAttention), computed naively."""
    h = mha.num_heads

    def heads(t):
        return t.reshape(t.shape[0], t.shape[1], h, -1).transpose(1, 2)

    q, k, v = heads(mha.q_proj(x_q)), heads(mha.k_proj(x_kv)), heads(mha.v_proj(x_kv))
    if rotate_dim:
        q = naive_rotate(q, pos_q, rotate_dim)
        k = naive_rotate(k, pos_k, rotate_dim)
    o = naive_attention(q, k, v, pad_mask=pad_mask, causal=mha.causal_attention)
    return mha.o_proj(o.transpose(1, 2).reshape(x_q.shape[0], x_q.shape[1], -1))
