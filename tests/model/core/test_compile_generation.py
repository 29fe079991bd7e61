"""The compiled cached decode step of Perceiver AR generation (``generate_greedy(compile=True)``)."""

import pytest
import torch

from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig
from perceiver.model.core.generation import CompiledDecodeStep, compiled_decode_step, generate_greedy
from perceiver.model.core.kv_cache import KVCache


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model_of() -> CausalSequenceModel:
    config = CausalSequenceModelConfig(
        vocab_size=40, max_seq_len=24, max_latents=6, num_channels=16, num_heads=2, num_self_attention_layers=2,
        init_scale=0.1,
    )  # fmt: skip
    return CausalSequenceModel(config).eval()


def test_compiled_decode_step_is_made_once_per_model():
    model = model_of()
    step = compiled_decode_step(model)
    assert isinstance(step, CompiledDecodeStep)
    assert compiled_decode_step(model) is step
    assert compiled_decode_step(model_of()) is not step
    # kept outside the modules and the state dict
    assert not any("compiled" in key for key in model.state_dict())


def test_compiled_decode_step_rejects_a_non_module():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        compiled_decode_step(lambda x: x)


def test_only_cached_single_token_steps_are_compiled():
    cache = KVCache(1, 8, 4, 4)
    x1, x3 = torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)
    assert not CompiledDecodeStep.is_cached_step(x1, None)
    assert not CompiledDecodeStep.is_cached_step(x1, [])
    assert not CompiledDecodeStep.is_cached_step(x1, [cache])  # empty cache: a full (prompt or refill) pass
    cache.update(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    assert CompiledDecodeStep.is_cached_step(x1, [cache])
    assert not CompiledDecodeStep.is_cached_step(x3, [cache])


@pytest.mark.slow
def test_compiled_generation_equals_eager():
    torch.manual_seed(0)
    model = model_of()
    prompt = torch.randint(0, 40, (2, 9))
    pad_mask = torch.zeros_like(prompt, dtype=torch.bool)
    pad_mask[1, :3] = True
    for mask in (None, pad_mask):
        # 20 new tokens: growing latents, refills and sliding windows
        eager = generate_greedy(model, prompt, 20, num_latents=2, pad_mask=mask)
        compiled = generate_greedy(model, prompt, 20, num_latents=2, pad_mask=mask, compile=True)
        assert torch.equal(compiled.sequences, eager.sequences)
        torch.testing.assert_close(compiled.logits, eager.logits, atol=1e-5, rtol=0)
