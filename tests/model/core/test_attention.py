import pytest
import torch

from perceiver.model.core import (
    CrossAttention,
    CrossAttentionLayer,
    FrequencyPositionEncoding,
    MultiHeadAttention,
    RotaryPositionEmbedding,
    SelfAttention,
)
from perceiver.model.core.attention_kernels import use_attention_policy
from tests.model.core.naive import naive_mha

CASES = [
    # (heads, n_q, n_k, c_q, c_kv, qk, v, causal, padded, rotate_dim)
    (1, 5, 5, 8, 8, None, None, False, False, 0),
    (2, 3, 11, 8, 12, 16, 24, False, False, 0),
    (4, 7, 7, 16, 16, 16, 32, True, False, 0),
    (2, 4, 9, 8, 8, 8, 8, True, False, 0),
    (3, 6, 13, 9, 5, 12, 6, False, True, 0),
    (2, 5, 10, 8, 8, 8, 16, True, True, 0),
    (2, 6, 6, 16, 16, None, None, True, False, 4),
    (4, 3, 8, 16, 16, 32, 16, True, True, 8),
    (2, 8, 8, 8, 8, None, None, False, True, 2),
]


@pytest.fixture(params=["sdpa", "unfused"])
def kernel(request):
    """Runs a test with each kernel forced (which path a call takes is tested in test_attention_kernels.py)."""
    with use_attention_policy(kernel=request.param):
        yield request.param


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_multi_head_attention_matches_naive(case, seed, kernel):
    heads, n_q, n_k, c_q, c_kv, qk, v, causal, padded, rotate_dim = case
    g = torch.Generator().manual_seed(seed)
    b = 3
    mha = MultiHeadAttention(heads, c_q, c_kv, num_qk_channels=qk, num_v_channels=v, causal_attention=causal).eval()
    x_q = torch.randn(b, n_q, c_q, generator=g)
    x_kv = torch.randn(b, n_k, c_kv, generator=g)
    pad_mask = None
    if padded:
        lengths = torch.randint(1, n_k + 1, (b,), generator=g)
        pad_mask = torch.arange(n_k)[None, :] < (n_k - lengths)[:, None]  # left padding
    rot_q = rot_k = None
    pos_q = pos_k = None
    if rotate_dim:
        pos_k = torch.randint(0, 50, (b, n_k), generator=g)
        pos_q = pos_k[:, n_k - n_q :]
        enc = FrequencyPositionEncoding(rotate_dim)
        rot_q = RotaryPositionEmbedding(enc(pos_q).unsqueeze(1))
        rot_k = RotaryPositionEmbedding(enc(pos_k).unsqueeze(1))
    out = mha(x_q, x_kv, pad_mask=pad_mask, rot_pos_emb_q=rot_q, rot_pos_emb_k=rot_k).last_hidden_state
    expected = naive_mha(mha, x_q, x_kv, pad_mask=pad_mask, pos_q=pos_q, pos_k=pos_k, rotate_dim=rotate_dim)
    assert out.shape == (b, n_q, c_q)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_randomised_shapes_match_naive(kernel):
    g = torch.Generator().manual_seed(42)
    for _ in range(25):
        heads = int(torch.randint(1, 5, (1,), generator=g))
        qk_per_head = int(torch.randint(1, 5, (1,), generator=g)) * 2
        v_per_head = int(torch.randint(1, 9, (1,), generator=g))
        n_k = int(torch.randint(1, 20, (1,), generator=g))
        n_q = int(torch.randint(1, n_k + 1, (1,), generator=g))
        causal = bool(torch.randint(0, 2, (1,), generator=g))
        c_q, c_kv = int(torch.randint(1, 17, (1,), generator=g)), int(torch.randint(1, 17, (1,), generator=g))
        mha = MultiHeadAttention(
            heads, c_q, c_kv, heads * qk_per_head, heads * v_per_head, causal_attention=causal
        ).eval()
        b = 2
        x_q, x_kv = torch.randn(b, n_q, c_q, generator=g), torch.randn(b, n_k, c_kv, generator=g)
        pad_mask = torch.rand(b, n_k, generator=g) < 0.3
        rotate_dim = qk_per_head if bool(torch.randint(0, 2, (1,), generator=g)) else 0
        pos_k = torch.arange(n_k).expand(b, n_k)
        pos_q = pos_k[:, n_k - n_q :]
        kwargs = {}
        if rotate_dim:
            enc = FrequencyPositionEncoding(rotate_dim)
            kwargs = {
                "rot_pos_emb_q": RotaryPositionEmbedding(enc(pos_k).unsqueeze(1), right_align=True),
                "rot_pos_emb_k": RotaryPositionEmbedding(enc(pos_k).unsqueeze(1), right_align=True),
            }
        out = mha(x_q, x_kv, pad_mask=pad_mask, **kwargs).last_hidden_state
        expected = naive_mha(mha, x_q, x_kv, pad_mask, pos_q, pos_k, rotate_dim)
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("v_channels", [8, 16])
def test_fully_masked_rows_give_zeros_and_finite_gradients(v_channels, kernel):
    mha = MultiHeadAttention(2, 8, 8, num_v_channels=v_channels, causal_attention=True)
    x_q = torch.randn(2, 4, 8, requires_grad=True)
    x_kv = torch.randn(2, 6, 8, requires_grad=True)
    pad_mask = torch.zeros(2, 6, dtype=torch.bool)
    pad_mask[0, :4] = True  # query 0 of example 0 sees keys 0..2: all padding
    pad_mask[1, :] = True  # example 1: every key is padding
    out = mha(x_q, x_kv, pad_mask=pad_mask).last_hidden_state
    bias = mha.o_proj.bias
    # a row without keys attends to nothing: its attention output is zero, so only the output bias remains
    torch.testing.assert_close(out[0, 0], bias, atol=0, rtol=0)
    torch.testing.assert_close(out[1], bias.expand(4, -1), atol=0, rtol=0)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for t in [x_q.grad, x_kv.grad, *[p.grad for p in mha.parameters()]]:
        assert torch.isfinite(t).all()


def test_max_heads_parallel_gives_same_result():
    full = MultiHeadAttention(6, 24, 16, num_v_channels=12, causal_attention=True).eval()
    chunked = MultiHeadAttention(6, 24, 16, num_v_channels=12, causal_attention=True, max_heads_parallel=4).eval()
    chunked.load_state_dict(full.state_dict())
    x_q, x_kv = torch.randn(2, 5, 24), torch.randn(2, 9, 16)
    pad_mask = torch.rand(2, 9) < 0.3
    torch.testing.assert_close(
        chunked(x_q, x_kv, pad_mask).last_hidden_state, full(x_q, x_kv, pad_mask).last_hidden_state, atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("residual", [True, False])
def test_batch_broadcast_queries_give_the_same_values_and_gradients(residual):
    layer = CrossAttentionLayer(2, 8, 12, num_v_channels=16, attention_residual=residual)
    latents = torch.randn(1, 5, 8, requires_grad=True)
    x_kv = torch.randn(3, 7, 12)
    pad_mask = torch.rand(3, 7) < 0.3
    out = layer(latents.expand(3, -1, -1), x_kv, pad_mask=pad_mask).last_hidden_state
    (grad,) = torch.autograd.grad(out.square().sum(), latents)
    materialized = latents.detach().repeat(3, 1, 1).requires_grad_()
    expected = layer(materialized, x_kv, pad_mask=pad_mask).last_hidden_state
    expected.square().sum().backward()
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad, materialized.grad.sum(0, keepdim=True), atol=1e-5, rtol=0)


def test_attention_dropout_only_in_training():
    mha = MultiHeadAttention(2, 8, 8, dropout=0.5)
    x = torch.randn(2, 6, 8)
    mha.eval()
    ref = mha(x, x).last_hidden_state
    torch.testing.assert_close(mha(x, x).last_hidden_state, ref)
    mha.train()
    assert not torch.allclose(mha(x, x).last_hidden_state, ref)


def test_default_channel_rules():
    mha = MultiHeadAttention(4, num_q_input_channels=16, num_kv_input_channels=8)
    assert mha.q_proj.weight.shape == (16, 16)  # qk <- q input channels
    assert mha.k_proj.weight.shape == (16, 8)
    assert mha.v_proj.weight.shape == (16, 8)  # v <- qk
    assert mha.o_proj.weight.shape == (16, 16)  # out <- q input channels
    mha = MultiHeadAttention(4, 16, 8, num_qk_channels=8, num_v_channels=32, num_output_channels=12)
    assert mha.o_proj.weight.shape == (12, 32)


def test_cross_attention_hybrid_form_equals_explicit_concatenation():
    ca = CrossAttention(2, 8, 8, causal_attention=True).eval()
    x_q, prefix = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    out = ca(x_q, x_kv_prefix=prefix).last_hidden_state
    kv = torch.cat([ca.kv_norm(prefix), ca.q_norm(x_q)], dim=1)
    expected = naive_mha(ca.attention, ca.q_norm(x_q), kv)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_self_attention_applies_norm_and_rotary():
    sa = SelfAttention(2, 16, causal_attention=True).eval()
    x = torch.randn(2, 7, 16)
    pos = torch.arange(7).expand(2, 7)
    rot = RotaryPositionEmbedding(FrequencyPositionEncoding(4)(pos).unsqueeze(1))
    out = sa(x, rot_pos_emb=rot).last_hidden_state
    xn = sa.norm(x)
    expected = naive_mha(sa.attention, xn, xn, pos_q=pos, pos_k=pos, rotate_dim=4)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_heads=3, num_q_input_channels=8, num_kv_input_channels=8), "num_qk_channels must be divisible"),
        (dict(num_heads=2, num_q_input_channels=8, num_kv_input_channels=8, num_v_channels=5), "num_v_channels"),
        (dict(num_heads=0, num_q_input_channels=8, num_kv_input_channels=8), "num_heads must be > 0"),
        (dict(num_heads=2, num_q_input_channels=-8, num_kv_input_channels=8), "num_q_input_channels"),
    ],
)
def test_invalid_attention_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_pad_mask_validation():
    mha = MultiHeadAttention(2, 8, 8)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"pad_mask must have shape .*\(2, 5\).*\(2, 4\)"):
        mha(x, x, pad_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="pad_mask must be a bool tensor"):
        mha(x, x, pad_mask=torch.zeros(2, 5))


def test_layers_inside_a_model_call_do_not_check_their_inputs_again(monkeypatch):
    from perceiver.model.core import PerceiverEncoder, TokenInputAdapter
    from perceiver.model.core import attention as attention_module

    calls = []
    check = attention_module.check_features

    def counted(name, *args, **kwargs):
        calls.append(name)
        check(name, *args, **kwargs)

    monkeypatch.setattr(attention_module, "check_features", counted)
    encoder = PerceiverEncoder(TokenInputAdapter(20, 8, 16), num_latents=4, num_latent_channels=16)
    encoder(torch.randint(0, 20, (2, 8)), pad_mask=torch.zeros(2, 8, dtype=torch.bool))
    assert calls == []  # the encoder checked its input once, at its entry
    mha = MultiHeadAttention(2, 8, 8)
    mha(torch.randn(2, 3, 8), torch.randn(2, 5, 8))
    assert calls == ["x_q", "x_kv"]  # called directly, a layer checks what it is given

    class WrongAdapter(TokenInputAdapter):  # says 16 channels, returns 12
        def forward(self, x, abs_pos=None):
            return super().forward(x, abs_pos)[..., :12]

    with pytest.raises(ValueError, match=r"adapted input must have shape \(batch_size, length, 16\), got \(2, 8, 12\)"):
        PerceiverEncoder(WrongAdapter(20, 8, 16), num_latents=4, num_latent_channels=16)(torch.randint(0, 20, (2, 8)))
