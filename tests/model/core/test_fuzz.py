"""Property-based tests: random shapes, dtypes and values give a correct output or a ValueError/TypeError."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perceiver.model.core import (
    CausalSequenceModel,
    CausalSequenceModelConfig,
    CrossAttentionLayer,
    MultiHeadAttention,
    PerceiverEncoder,
    SelfAttentionBlock,
)
from tests.model.core.test_perceiver_io import VectorInputAdapter

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool]
sizes = st.integers(min_value=-2, max_value=9)


def outcome(fn):
    """Run ``fn``; return its result, or None if it raised a clear user error."""
    try:
        return fn()
    except (ValueError, TypeError) as e:
        assert str(e), "errors must say what is wrong"
        return None


@FUZZ
@given(
    heads=sizes,
    c_q=sizes,
    c_kv=sizes,
    qk=st.one_of(st.none(), sizes),
    v=st.one_of(st.none(), sizes),
    max_heads_parallel=st.one_of(st.none(), sizes),
    causal=st.booleans(),
)
def test_attention_constructor(heads, c_q, c_kv, qk, v, max_heads_parallel, causal):
    mha = outcome(lambda: MultiHeadAttention(heads, c_q, c_kv, qk, v, max_heads_parallel=max_heads_parallel))
    if mha is not None:
        assert heads > 0 and mha.num_qk_channels % heads == 0 and mha.num_v_channels % heads == 0


@FUZZ
@given(
    b=st.integers(0, 3),
    n_q=st.integers(0, 6),
    n_k=st.integers(0, 6),
    c_q=st.sampled_from([4, 8]),
    c_kv=st.sampled_from([4, 8]),
    dtype=st.sampled_from(DTYPES),
    mask_len=st.integers(0, 7),
    mask_dtype=st.sampled_from([torch.bool, torch.int64, None]),
    causal=st.booleans(),
)
def test_attention_forward(b, n_q, n_k, c_q, c_kv, dtype, mask_len, mask_dtype, causal):
    mha = MultiHeadAttention(2, 8, 4, causal_attention=causal).to(dtype if dtype.is_floating_point else torch.float32)
    x_q = torch.randn(b, n_q, c_q).to(dtype)
    x_kv = torch.randn(b, n_k, c_kv).to(dtype)
    pad_mask = None if mask_dtype is None else (torch.rand(b, mask_len) < 0.5).to(mask_dtype)
    out = outcome(lambda: mha(x_q, x_kv, pad_mask=pad_mask).last_hidden_state)
    if out is not None:
        assert out.shape == (b, n_q, 8)
        assert torch.isfinite(out.float()).all()


@FUZZ
@given(
    num_latents=sizes,
    channels=sizes,
    num_ca=sizes,
    num_blocks=sizes,
    layers=sizes,
    heads=sizes,
    dropout=st.floats(-0.5, 1.5),
)
def test_encoder_constructor(num_latents, channels, num_ca, num_blocks, layers, heads, dropout):
    enc = outcome(
        lambda: PerceiverEncoder(
            VectorInputAdapter(4),
            num_latents=num_latents,
            num_latent_channels=channels,
            num_cross_attention_layers=num_ca,
            num_self_attention_blocks=num_blocks,
            num_self_attention_layers_per_block=layers,
            num_cross_attention_heads=heads,
            num_self_attention_heads=heads,
            dropout=dropout,
        )
    )
    if enc is not None:
        out = enc(torch.randn(2, 3, 4))
        assert out.shape == (2, num_latents, channels) and torch.isfinite(out).all()


MODEL = CausalSequenceModel(
    CausalSequenceModelConfig(
        vocab_size=20, max_seq_len=16, max_latents=6, num_channels=16, num_heads=2, num_self_attention_layers=1
    )  # fmt: skip
).eval()


@FUZZ
@given(
    b=st.integers(0, 3),
    n=st.integers(0, 20),
    prefix_len=st.one_of(st.integers(-3, 20), st.floats(0, 5), st.none()),
    low=st.integers(-2, 19),
    high=st.integers(1, 22),
    dtype=st.sampled_from([torch.int64, torch.int32, torch.float32, torch.bool]),
    pad=st.integers(0, 20),
    mask_len=st.integers(0, 20),
)
def test_causal_sequence_model_forward(b, n, prefix_len, low, high, dtype, pad, mask_len):
    x = torch.randint(min(low, high - 1), high, (b, n)).to(dtype)
    pad_mask = torch.arange(mask_len).expand(b, mask_len) < pad  # left padding
    with torch.no_grad():
        out = outcome(lambda: MODEL(x, prefix_len=prefix_len, pad_mask=pad_mask).logits)
    if out is not None:
        assert out.shape == (b, n - prefix_len, 20)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("cls", [CrossAttentionLayer, SelfAttentionBlock])
def test_layer_constructors_reject_non_positive_sizes(cls):
    with pytest.raises(ValueError):
        cls(0, 8, 8)
