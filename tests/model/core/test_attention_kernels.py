"""Every attention path against the naive reference, values and gradients, each case asserting the path it runs;
and the rules by which the default policy picks a path."""

import pytest
import torch

from perceiver.model.core.attention_kernels import (
    AttentionPolicy,
    attention,
    attention_policy,
    choose_path,
    padded_head_dims,
    use_attention_policy,
)
from tests.model.core.naive import naive_attention

# (n_q, n_k, d_qk, d_v, causal, padding, kernel forced, path expected, head dims padded)
CASES = [
    (5, 5, 8, 8, False, False, "sdpa", "sdpa", False),
    (4, 9, 8, 8, True, False, "sdpa", "sdpa", False),  # rectangular causal: lower-right CausalBias
    (6, 6, 16, 16, True, False, "sdpa", "sdpa", False),  # square causal: is_causal
    (4, 9, 12, 20, False, False, "sdpa", "sdpa", True),  # qk and v head dims differ: padded to 24 and 24
    (3, 11, 8, 8, False, True, "sdpa", "sdpa_masked", False),
    (7, 7, 5, 13, True, True, "sdpa", "sdpa_masked", True),
    (9, 4, 8, 8, True, False, "sdpa", "sdpa_masked", False),  # more queries than keys: rows without a key
    (5, 8, 261, 261, True, False, "sdpa", "sdpa", "force"),  # the official 261 channels, padded to 264
    (5, 8, 12, 60, False, True, "sdpa", "sdpa_masked", True),
    (5, 5, 8, 8, False, False, "unfused", "unfused", False),
    (4, 9, 12, 20, True, True, "unfused", "unfused", False),
    (9, 4, 8, 16, True, False, "unfused", "unfused", False),
]


def tensors(n_q, n_k, d_qk, d_v, padding, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, h = 2, 3
    q = torch.randn(b, h, n_q, d_qk, generator=g, requires_grad=True)
    k = torch.randn(b, h, n_k, d_qk, generator=g, requires_grad=True)
    v = torch.randn(b, h, n_k, d_v, generator=g, requires_grad=True)
    pad_mask = None
    if padding:
        pad_mask = torch.zeros(b, n_k, dtype=torch.bool)
        pad_mask[1, : n_k // 2] = True  # left padding of example 1
        pad_mask[0, -1] = True
    return q, k, v, pad_mask


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[7]}-{c[0]}x{c[1]}-{c[2]}/{c[3]}-causal{int(c[4])}")
def test_each_path_matches_naive_attention_with_gradients(case):
    n_q, n_k, d_qk, d_v, causal, padding, kernel, path, padded = case
    q, k, v, pad_mask = tensors(n_q, n_k, d_qk, d_v, padding)
    grad_out = torch.randn(2, 3, n_q, d_v)
    policy = AttentionPolicy(kernel=kernel, pad_head_dims=True if padded == "force" else None)
    assert torch.is_grad_enabled() and choose_path(q, k, v, pad_mask, causal, policy) == path
    dims = padded_head_dims(d_qk, d_v, cuda=False, masked=path != "sdpa", policy=policy)
    assert (dims != (d_qk, d_v)) == bool(padded) or path == "unfused"

    out = attention(q, k, v, pad_mask, causal, policy=policy)
    grads = torch.autograd.grad(out, (q, k, v), grad_out)
    expected = naive_attention(q, k, v, pad_mask=pad_mask, causal=causal)
    expected_grads = torch.autograd.grad(expected, (q, k, v), grad_out)
    assert out.shape == (2, 3, n_q, d_v)
    torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, atol=2e-5, rtol=0)


def test_keys_and_values_arriving_zero_padded_give_the_unpadded_result():
    # split-input projections give keys and values with head dims zero-padded (here 5 -> 8 and 6 -> 8)
    q, k, v, pad_mask = tensors(4, 7, 5, 6, padding=True)
    expected = naive_attention(q, k, v, pad_mask=pad_mask)
    k_padded, v_padded = torch.nn.functional.pad(k, (0, 3)), torch.nn.functional.pad(v, (0, 2))
    for kernel in ("sdpa", "unfused"):
        out = attention(q, k_padded, v_padded, pad_mask, scale=5**-0.5, value_dim=6, policy=AttentionPolicy(kernel))
        torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)


def qkv(n_q, n_k, d_qk, d_v, grad=True):
    q = torch.empty(2, 4, n_q, d_qk, requires_grad=grad)
    return q, torch.empty(2, 4, n_k, d_qk), torch.empty(2, 4, n_k, d_v)


def test_default_policy_takes_unfused_only_for_small_cpu_training_attention_that_flash_handles_badly():
    assert attention_policy() == AttentionPolicy()
    assert choose_path(*qkv(64, 128, 32, 64)) == "unfused"  # flash would need padded head dims
    assert choose_path(*qkv(64, 128, 20, 20)) == "unfused"  # head dims not multiples of 8
    assert choose_path(*qkv(64, 128, 32, 32)) == "sdpa"  # flash handles it well
    assert choose_path(*qkv(64, 128, 32, 64, grad=False)) == "sdpa"  # inference
    with torch.no_grad():
        assert choose_path(*qkv(64, 128, 32, 64)) == "sdpa"
    too_many = AttentionPolicy().unfused_training_max_scores // (2 * 4 * 64) + 1
    assert choose_path(*qkv(64, too_many, 32, 64)) == "sdpa"
    pad_mask = torch.zeros(2, 128, dtype=torch.bool)
    assert choose_path(*qkv(64, 128, 32, 32), pad_mask=pad_mask) == "sdpa_masked"
    assert choose_path(*qkv(1, 128, 32, 32, grad=False), causal=True) == "sdpa"  # one query sees every key


def test_thresholds_and_kernel_can_be_overridden_for_a_block_of_code():
    with use_attention_policy(unfused_training_max_scores=0) as policy:
        assert policy.unfused_training_max_scores == 0
        assert choose_path(*qkv(64, 128, 32, 64)) == "sdpa"
        with use_attention_policy(kernel="unfused"):
            assert choose_path(*qkv(64, 128, 32, 32, grad=False)) == "unfused"
        assert attention_policy().kernel is None
    assert attention_policy() == AttentionPolicy()


def test_head_dim_padding_rules():
    assert padded_head_dims(32, 64, cuda=False, masked=False) == (64, 64)  # CPU: differing dims become one size
    assert padded_head_dims(32, 32, cuda=False, masked=False) == (32, 32)  # CPU: equal dims stay
    assert padded_head_dims(261, 261, cuda=True, masked=False) == (264, 264)  # CUDA: always aligned
    assert padded_head_dims(32, 160, cuda=True, masked=True) == (32, 160)  # a mask rules out flash: align only
    assert padded_head_dims(256, 322, cuda=True, masked=False) == (256, 328)  # above 256: no common size
    assert padded_head_dims(30, 60, cuda=True, masked=False, policy=AttentionPolicy(pad_head_dims=False)) == (30, 60)


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(kernel="flash"), "kernel must be None, 'sdpa' or 'unfused'"),
        (dict(pad_head_dims="yes"), "pad_head_dims must be None, True or False"),
        (dict(head_dim_multiple=0), "head_dim_multiple must be an int >= 1"),
        (dict(unfused_training_max_scores=-1), "unfused_training_max_scores must be an int >= 0"),
    ],
)
def test_invalid_policies_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        AttentionPolicy(**changes)
