"""Incremental attention through the KV cache equals the full pass."""

import pytest
import torch

from perceiver.model.core import (
    CausalSequenceModel,
    CausalSequenceModelConfig,
    CrossAttention,
    FrequencyPositionEncoding,
    KVCache,
    RotaryPositionEmbedding,
    SelfAttention,
)

ATOL = 1e-6


def rotary(pos, dim=4):
    return RotaryPositionEmbedding(FrequencyPositionEncoding(dim)(pos).unsqueeze(1), right_align=True)


@pytest.mark.parametrize("chunk", [1, 3])
def test_self_attention_incremental_equals_full(chunk):
    sa = SelfAttention(2, 16, causal_attention=True).eval()
    b, n = 2, 10
    x = torch.randn(b, n, 16)
    pos = torch.arange(n).expand(b, n)
    full = sa(x, rot_pos_emb=rotary(pos)).last_hidden_state

    cache = KVCache(b, n, 16, 16)
    outs = []
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        # rotary encodings cover every position so far: queries and keys take the right-most ones
        outs.append(sa(x[:, start:end], rot_pos_emb=rotary(pos[:, :end]), kv_cache=cache).last_hidden_state)
    assert cache.length == n
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=ATOL, rtol=0)


@pytest.mark.parametrize("chunk", [1, 2])
def test_cross_attention_with_prefix_and_left_padding_incremental_equals_full(chunk):
    ca = CrossAttention(2, 8, 8, causal_attention=True).eval()
    b, prefix_len, n_latent = 2, 5, 6
    prefix = torch.randn(b, prefix_len, 8)
    latents = torch.randn(b, n_latent, 8)
    pad_mask = torch.zeros(b, prefix_len + n_latent, dtype=torch.bool)
    pad_mask[1, :3] = True  # example 1 is left-padded
    pos = (torch.arange(prefix_len + n_latent) - pad_mask.sum(1, keepdim=True)).clamp(min=0)

    full = ca(latents, x_kv_prefix=prefix, pad_mask=pad_mask, rot_pos_emb_q=rotary(pos), rot_pos_emb_k=rotary(pos))

    cache = ca.attention.empty_kv_cache(latents, prefix_len + n_latent)
    first = 2  # a first call with the prefix and two latents, then the rest in chunks, all latents
    n = prefix_len + first
    outs = [
        ca(latents[:, :first], x_kv_prefix=prefix, pad_mask=pad_mask[:, :n], rot_pos_emb_q=rotary(pos[:, :n]),
           rot_pos_emb_k=rotary(pos[:, :n]), kv_cache=cache).last_hidden_state
    ]  # fmt: skip
    for start in range(first, n_latent, chunk):
        end = min(start + chunk, n_latent)
        n = prefix_len + end
        empty_prefix = prefix[:, :0]
        out = ca(latents[:, start:end], x_kv_prefix=empty_prefix, pad_mask=pad_mask[:, :n],
                 rot_pos_emb_q=rotary(pos[:, :n]), rot_pos_emb_k=rotary(pos[:, :n]), kv_cache=cache)  # fmt: skip
        outs.append(out.last_hidden_state)
    torch.testing.assert_close(torch.cat(outs, dim=1), full.last_hidden_state, atol=ATOL, rtol=0)


def tiny_clm(**overrides):
    config = CausalSequenceModelConfig(
        vocab_size=50, max_seq_len=24, max_latents=10, num_channels=32, num_heads=4, num_self_attention_layers=2,
        **overrides,
    )  # fmt: skip
    return CausalSequenceModel(config).eval()


@pytest.mark.parametrize("form", ["preallocated", "functional"])
@pytest.mark.parametrize("abs_pos_emb", [True, False])
@pytest.mark.parametrize("chunk", [1, 2])
def test_causal_sequence_model_incremental_equals_full(form, abs_pos_emb, chunk):
    model = tiny_clm(abs_pos_emb=abs_pos_emb, num_self_attention_rotary_layers=-1)
    b, n, prefix_len, first = 2, 20, 12, 15
    x = torch.randint(0, 50, (b, n))
    pad_mask = torch.zeros(b, n, dtype=torch.bool)
    pad_mask[1, :4] = True  # left padding
    x[1, :4] = 0

    full = model(x, prefix_len=prefix_len, pad_mask=pad_mask).logits  # logits of positions 12..19

    cache = model.preallocated_kv_cache(b) if form == "preallocated" else []
    out = model(x[:, :first], prefix_len=prefix_len, pad_mask=pad_mask[:, :first], kv_cache=cache)
    logits = [out.logits]
    if form == "preallocated":
        assert out.kv_cache[0] is cache[0]  # updated in place
        assert len(cache) == 3 and cache[0].length == first and cache[1].length == first - prefix_len
    else:
        assert cache == []  # the functional form never changes what it is given
        cache = out.kv_cache
        assert [tuple(k.shape) for k, _ in cache] == [(b, first, 32), (b, first - prefix_len, 32), (b, 3, 32)]
    for start in range(first, n, chunk):
        end = min(start + chunk, n)
        out = model(x[:, start:end], prefix_len=0, pad_mask=pad_mask[:, :end], kv_cache=cache)
        logits.append(out.logits)
        if form == "functional":
            cache = out.kv_cache
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=ATOL, rtol=0)


def test_cache_overflow_and_reorder():
    cache = KVCache(3, 4, 2, 2)
    k = torch.arange(3.0)[:, None, None].expand(3, 3, 2)
    cache.update(k, k)
    with pytest.raises(ValueError, match="KV cache overflow"):
        cache.update(k, k)
    cache.reorder(torch.tensor([2, 2, 0]))
    assert cache.k[:, 0, 0].tolist() == [2.0, 2.0, 0.0]
    cache.reset()
    assert cache.length == 0


def test_cache_buffers_are_preallocated():
    model = tiny_clm()
    x = torch.randint(0, 50, (1, 12))
    cache = model.preallocated_kv_cache(1)
    model(x, prefix_len=8, kv_cache=cache)
    ptrs = [c.k.data_ptr() for c in cache]
    assert cache[0].capacity == 24 and cache[1].capacity == 10
    model(torch.randint(0, 50, (1, 1)), prefix_len=0, kv_cache=cache)
    assert [c.k.data_ptr() for c in cache] == ptrs  # written in place, no reallocation


def test_cross_attention_dropout_with_cache_in_training_raises():
    model = tiny_clm(cross_attention_dropout=0.5).train()
    with pytest.raises(ValueError, match="cross-attention dropout not supported with caching"):
        model(torch.randint(0, 50, (1, 12)), prefix_len=8, kv_cache=[])
