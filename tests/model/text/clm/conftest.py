from pathlib import Path

import pytest
import torch

from perceiver.model.text.clm import (
    CausalLanguageModelConfig,
    PerceiverCausalLanguageModel,
    PerceiverCausalLanguageModelConfig,
)

FIXTURES = Path(__file__).parents[3] / "fixtures" / "clm"


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one thread avoids OpenMP spin-waits on the shared 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**overrides) -> CausalLanguageModelConfig:
    # init_scale 0.1: logits of order 1 with clear top-1 margins, so greedy tokens are not decided by rounding
    fields = dict(
        vocab_size=40,
        max_seq_len=24,
        max_latents=6,
        num_channels=16,
        num_heads=2,
        num_self_attention_layers=2,
        init_scale=0.1,
    )
    return CausalLanguageModelConfig(**(fields | overrides))


def tiny_model(**overrides) -> PerceiverCausalLanguageModel:
    return PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(tiny_config(**overrides))).eval()
