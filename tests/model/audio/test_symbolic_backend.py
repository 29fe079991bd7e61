import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from perceiver.data.audio import PAD_TOKEN_ID, VOCAB_SIZE
from perceiver.model.audio.symbolic import SymbolicAudioModel, SymbolicAudioModelConfig
from perceiver.model.core.config import CausalSequenceModelConfig

FIXTURE = Path(__file__).parents[2] / "fixtures" / "symbolic_audio"


def load_fixture_model() -> SymbolicAudioModel:
    config = SymbolicAudioModelConfig(**json.loads((FIXTURE / "config.json").read_text()))
    model = SymbolicAudioModel(config).eval()
    model.load_state_dict(torch.load(FIXTURE / "backend_state_dict.pt"))
    return model


def test_config_defaults():
    config = SymbolicAudioModelConfig()
    assert isinstance(config, CausalSequenceModelConfig)
    assert config.vocab_size == VOCAB_SIZE == PAD_TOKEN_ID + 1
    assert asdict(config) | {"vocab_size": 262} == asdict(CausalSequenceModelConfig())


def test_reference_fixture_logits():
    model = load_fixture_model()
    io = torch.load(FIXTURE / "io.pt")
    with torch.no_grad():
        logits = model(io["inputs"], prefix_len=io["prefix_len"], pad_mask=io["pad_mask"]).logits
    assert logits.shape == (2, 16, VOCAB_SIZE)
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_state_dict_keys_match_reference():
    reference = torch.load(FIXTURE / "backend_state_dict.pt")
    model = load_fixture_model()
    assert list(model.state_dict()) == list(reference)


def test_cached_forward_matches_uncached():
    """Feeding the fixture inputs token by token through the KV cache gives the logits of one full pass."""
    model = load_fixture_model()
    x = torch.load(FIXTURE / "io.pt")["inputs"][:1, :40]
    with torch.no_grad():
        full = model(x, prefix_len=24).logits
        cache = model.preallocated_kv_cache(1)
        out = model(x[:, :25], prefix_len=24, kv_cache=cache)
        steps = [out.logits]
        for i in range(25, 40):
            steps.append(model(x[:, i : i + 1], prefix_len=0, kv_cache=cache).logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


def test_prefix_len_errors():
    model = load_fixture_model()
    x = torch.zeros(1, 64, dtype=torch.long)
    with pytest.raises(ValueError, match=r"prefix_len \(49\) exceeds max_prefix_len \(48\)"):
        model(x, prefix_len=49)
