"""perceiver-io 0.11's functional KV cache: ``kv_cache=[]`` or ``layer.empty_kv_cache(x)`` in, the new cache out
(``(keys, values)`` per layer, projected and not rotated), the cache passed in never changed. Incremental calls
equal one full pass, keys and values included, with left padding."""

import pytest
import torch

from perceiver.model.core import (
    CausalSequenceModel,
    CausalSequenceModelConfig,
    CrossAttentionLayer,
    FrequencyPositionEncoding,
    RotaryPositionEmbedding,
    SelfAttentionBlock,
    positions,
)

ATOL = 1e-6
B, PREFIX, LATENTS, C, HEADS = 2, 6, 8, 32, 4


def left_pad_mask(n: int) -> torch.Tensor:
    pad_mask = torch.zeros(B, n, dtype=torch.bool)
    pad_mask[1, :2] = True
    return pad_mask


def rotary(n: int, pad_mask: torch.Tensor | None = None, dim: int = 3) -> RotaryPositionEmbedding:
    shift = None if pad_mask is None else pad_mask.sum(dim=1, keepdim=True)
    return RotaryPositionEmbedding(FrequencyPositionEncoding(dim)(positions(B, n, shift=shift)), right_align=True)


def test_layer_cache_is_functional_and_incremental_equals_full():
    layer = CrossAttentionLayer(HEADS, C, C, num_qk_channels=16, num_v_channels=24, causal_attention=True).eval()
    x_q, prefix = torch.randn(B, LATENTS, C), torch.randn(B, PREFIX, C)
    n = PREFIX + LATENTS
    pad_mask = left_pad_mask(n)

    empty = layer.empty_kv_cache(x_q)
    assert [tuple(t.shape) for t in empty] == [(B, 0, 16), (B, 0, 24)]
    full = layer(x_q, x_kv_prefix=prefix, pad_mask=pad_mask, rot_pos_emb_q=rotary(n, pad_mask),
                 rot_pos_emb_k=rotary(n, pad_mask), kv_cache=empty)  # fmt: skip
    # keys and values as projected (the independent computation), not rotated
    attention = layer.attention_module
    kv_in = torch.cat([attention.kv_norm(prefix), attention.q_norm(x_q)], dim=1)
    torch.testing.assert_close(full.kv_cache[0], attention.attention.k_proj(kv_in), atol=ATOL, rtol=0)
    torch.testing.assert_close(full.kv_cache[1], attention.attention.v_proj(kv_in), atol=ATOL, rtol=0)

    outputs, cache = [], empty  # the same empty cache a second time: it was not changed
    for i in range(LATENTS):
        m = PREFIX + i + 1
        out = layer(x_q[:, i : i + 1], x_kv_prefix=prefix if i == 0 else prefix[:, :0], pad_mask=pad_mask[:, :m],
                    rot_pos_emb_q=rotary(m), rot_pos_emb_k=rotary(m), kv_cache=cache)  # fmt: skip
        outputs.append(out.last_hidden_state)
        assert cache[0].shape[1] == (0 if i == 0 else m - 1)  # what was passed in keeps its length
        cache = out.kv_cache
    torch.testing.assert_close(torch.cat(outputs, dim=1), full.last_hidden_state, atol=ATOL, rtol=0)
    for got, expected in zip(cache, full.kv_cache):
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_block_cache_starts_from_an_empty_list_each_time():
    block = SelfAttentionBlock(3, HEADS, C, num_qk_channels=16, causal_attention=True, num_rotary_layers=-1).eval()
    x = torch.randn(B, LATENTS, C)
    start = []
    full = block(x, rot_pos_emb=rotary(LATENTS), kv_cache=start)
    assert start == [] and len(full.kv_cache) == 3
    assert [tuple(t.shape) for t in full.kv_cache[0]] == [(B, LATENTS, 16), (B, LATENTS, 16)]

    outputs, cache = [], start
    for i in range(LATENTS):
        out = block(x[:, i : i + 1], rot_pos_emb=rotary(i + 1), kv_cache=cache)
        outputs.append(out.last_hidden_state)
        cache = out.kv_cache
    torch.testing.assert_close(torch.cat(outputs, dim=1), full.last_hidden_state, atol=ATOL, rtol=0)
    for (k, v), (k_full, v_full) in zip(cache, full.kv_cache):
        torch.testing.assert_close(k, k_full, atol=ATOL, rtol=0)
        torch.testing.assert_close(v, v_full, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match=r"one cache per layer \(3\), got 2"):
        block(x, kv_cache=cache[:2])


@pytest.mark.parametrize("abs_pos_emb", [True, False])
def test_model_cache_with_left_padding_equals_full_pass(abs_pos_emb):
    # 48 channels / 8 heads: 6 per head, 3 of them rotated with abs_pos_emb (an odd rotary width)
    config = CausalSequenceModelConfig(vocab_size=30, max_seq_len=PREFIX + LATENTS, max_latents=LATENTS,
                                       num_channels=48, num_self_attention_layers=2, abs_pos_emb=abs_pos_emb,
                                       num_self_attention_rotary_layers=-1, output_norm=True)  # fmt: skip
    model = CausalSequenceModel(config).eval()
    n = PREFIX + LATENTS
    x = torch.randint(0, 30, (B, n))
    pad_mask = left_pad_mask(n)
    start = []
    full = model(x, prefix_len=PREFIX, pad_mask=pad_mask, kv_cache=start)
    assert start == [] and len(full.kv_cache) == 3

    first = PREFIX + 2
    out = model(x[:, :first], prefix_len=PREFIX, pad_mask=pad_mask[:, :first], kv_cache=start)
    logits, cache = [out.logits], out.kv_cache
    for i in range(first, n):
        out = model(x[:, i : i + 1], prefix_len=PREFIX, pad_mask=pad_mask[:, : i + 1], kv_cache=cache)
        logits.append(out.logits)
        cache = out.kv_cache
    torch.testing.assert_close(torch.cat(logits, dim=1), full.logits, atol=ATOL, rtol=0)
    for (k, v), (k_full, v_full) in zip(cache, full.kv_cache):
        assert k.shape == k_full.shape and v.shape == v_full.shape
        torch.testing.assert_close(k, k_full, atol=ATOL, rtol=0)
        torch.testing.assert_close(v, v_full, atol=ATOL, rtol=0)


def test_bad_functional_caches_are_refused():
    layer = CrossAttentionLayer(HEADS, C, C, causal_attention=True)
    x = torch.randn(B, 3, C)
    with pytest.raises(TypeError, match="kv_cache must be a KVCache or a \\(keys, values\\) tuple"):
        layer(x, x_kv_prefix=x[:, :0], kv_cache="cache")
    with pytest.raises(ValueError, match=r"kv_cache keys must have shape \(2, n, 32\), got \(2, 4, 16\)"):
        layer(x, x_kv_prefix=x[:, :0], kv_cache=(torch.zeros(B, 4, 16), torch.zeros(B, 4, C)))
    with pytest.raises(ValueError, match="same length, got 4 and 5"):
        layer(x, x_kv_prefix=x[:, :0], kv_cache=(torch.zeros(B, 4, C), torch.zeros(B, 5, C)))
