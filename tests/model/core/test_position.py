import math

import pytest
import torch

from perceiver.model.core import FourierPositionEncoding, FrequencyPositionEncoding, RotaryPositionEmbedding
from tests.model.core.naive import naive_rotate


def test_fourier_features_match_a_naive_loop():
    shape, bands = (3, 5), 4
    enc = FourierPositionEncoding(shape, bands)
    assert enc.position_encoding.shape == (15, enc.num_position_encoding_channels())
    assert enc.num_position_encoding_channels() == 2 * (2 * bands + 1)
    for idx in range(15):
        r, c = divmod(idx, 5)
        pos = [-1 + 2 * r / 2, -1 + 2 * c / 4]
        freqs = [[1 + f * (s / 2 - 1) / (bands - 1) for f in range(bands)] for s in shape]
        sin = [math.sin(math.pi * p * f) for p, fs in zip(pos, freqs) for f in fs]
        cos = [math.cos(math.pi * p * f) for p, fs in zip(pos, freqs) for f in fs]
        torch.testing.assert_close(enc.position_encoding[idx], torch.tensor(pos + sin + cos), atol=1e-6, rtol=0)
    assert enc(3).shape == (3, 15, 18)


def test_rotary_right_alignment_and_pass_through_channels():
    pos = torch.arange(9).expand(2, 9)
    enc = FrequencyPositionEncoding(4)(pos).unsqueeze(1)
    t = torch.randn(2, 3, 4, 8)
    right = RotaryPositionEmbedding(enc, right_align=True).rotate(t)
    left = RotaryPositionEmbedding(enc).rotate(t)
    torch.testing.assert_close(right, naive_rotate(t, pos[:, -4:], 4), atol=1e-6, rtol=0)
    torch.testing.assert_close(left, naive_rotate(t, pos[:, :4], 4), atol=1e-6, rtol=0)
    torch.testing.assert_close(right[..., 4:], t[..., 4:], atol=0, rtol=0)


@pytest.mark.parametrize("head_dim", [4, 7, 10])
def test_rotary_tables_serve_every_length_head_dim_and_dtype(head_dim):
    pos = torch.arange(6).expand(2, 6)
    rot = RotaryPositionEmbedding(FrequencyPositionEncoding(4)(pos).unsqueeze(1), right_align=True)
    for n in (6, 1, 3):
        t = torch.randn(2, 3, n, head_dim)
        out = rot.rotate(t)
        torch.testing.assert_close(out, naive_rotate(t, pos[:, 6 - n :], 4), atol=1e-6, rtol=0)
        torch.testing.assert_close(out[..., 4:], t[..., 4:], atol=0, rtol=0)
    t16 = torch.randn(2, 3, 6, head_dim, dtype=torch.bfloat16)
    out16 = rot.rotate(t16)
    assert out16.dtype == torch.bfloat16
    torch.testing.assert_close(out16.float(), naive_rotate(t16.float(), pos, 4), atol=3e-2, rtol=0)


def test_frequency_encoding_repeats_each_frequency_twice():
    enc = FrequencyPositionEncoding(6)
    out = enc(torch.tensor([[0, 1, 2]]))
    assert out.shape == (1, 3, 6)
    freqs = torch.tensor([1.0, 10000 ** (-2 / 6), 10000 ** (-4 / 6)])
    torch.testing.assert_close(out[0, 1], freqs.repeat_interleave(2))
    torch.testing.assert_close(out[0, 2], 2 * freqs.repeat_interleave(2))
    for dim in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="dim must be a positive int"):
            FrequencyPositionEncoding(dim)
