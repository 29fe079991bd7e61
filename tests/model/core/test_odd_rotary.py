"""Odd rotary widths (rotated channels per head not even), as perceiver-io 0.11 builds them: ``ceil(dim / 2)``
frequencies, each used for one pair, so ``2 * ceil(dim / 2)`` channels rotate."""

import math
from pathlib import Path

import pytest
import torch

from perceiver.model.core import (
    CausalSequenceModel,
    CausalSequenceModelConfig,
    FrequencyPositionEncoding,
    RotaryPositionEmbedding,
)
from perceiver.model.text.clm import PerceiverCausalLanguageModel, PerceiverCausalLanguageModelConfig

FIXTURES = Path(__file__).parents[2] / "fixtures" / "odd_rotary"


@pytest.mark.parametrize("dim", [1, 2, 3, 5, 8])
def test_frequency_encoding_follows_the_reference_formula(dim):
    pos = torch.tensor([[0, 1, 7]])
    out = FrequencyPositionEncoding(dim)(pos)
    pairs = (dim + 1) // 2
    assert out.shape == (1, 3, 2 * pairs)
    for n, p in enumerate(pos[0].tolist()):
        expected = [p / 10000 ** (2 * i / dim) for i in range(pairs) for _ in range(2)]
        torch.testing.assert_close(out[0, n], torch.tensor(expected), atol=1e-6, rtol=1e-6)


def test_rotation_of_a_two_channel_head_by_one_frequency():
    # dim=1: one pair rotated by the position itself (frequency 1), the whole of a 2-channel head
    pos = torch.arange(5).expand(2, 5)
    rot = RotaryPositionEmbedding(FrequencyPositionEncoding(1)(pos))
    t = torch.randn(2, 3, 5, 2)
    out = rot.rotate(t)
    for n in range(5):
        c, s = math.cos(n), math.sin(n)
        x1, x2 = t[..., n, 0], t[..., n, 1]
        torch.testing.assert_close(out[..., n, 0], x1 * c - x2 * s, atol=1e-6, rtol=0)
        torch.testing.assert_close(out[..., n, 1], x2 * c + x1 * s, atol=1e-6, rtol=0)


def test_rotation_wider_than_the_head_is_refused():
    rot = RotaryPositionEmbedding(FrequencyPositionEncoding(3)(torch.arange(4).expand(1, 4)))
    with pytest.raises(ValueError, match="rotates 4 channels but heads have only 3"):
        rot.rotate(torch.randn(1, 2, 4, 3))


@pytest.mark.parametrize("name", ["head_dim_2", "head_dim_6"])
def test_models_saved_by_the_reference_load_and_reproduce_its_outputs(name):
    saved = torch.load(FIXTURES / f"{name}.pt")
    config = CausalSequenceModelConfig(**saved["config"])
    model = CausalSequenceModel(config).eval()
    model.load_state_dict(saved["state_dict"], strict=True)
    with torch.no_grad():
        logits = model(saved["inputs"], prefix_len=saved["prefix_len"], pad_mask=saved["pad_mask"]).logits
    torch.testing.assert_close(logits, saved["logits"], atol=1e-5, rtol=0)

    wrapper = PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config), backend_model=model).eval()
    n = saved["generate_prompt_len"]
    prompt, mask = saved["inputs"][:, :n], (~saved["pad_mask"][:, :n]).long()
    # the first new tokens, while the latents grow up to max_latents (later steps follow our exact schedule)
    steps = config.max_latents - saved["generate_num_latents"]
    kwargs = dict(max_new_tokens=steps, num_latents=saved["generate_num_latents"], do_sample=False, pad_token_id=0)
    for use_cache in (True, False):
        out = wrapper.generate(input_ids=prompt, attention_mask=mask, use_cache=use_cache, **kwargs)
        assert torch.equal(out, saved["generated"][:, : n + steps])
