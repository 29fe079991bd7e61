import dataclasses
import json

import pytest
import torch

from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig
from perceiver.model.text.clm import CausalLanguageModel, CausalLanguageModelConfig

from .conftest import FIXTURES, tiny_config


def test_config_fields_and_defaults_are_the_reference_ones():
    config = CausalLanguageModelConfig()
    assert isinstance(config, CausalSequenceModelConfig)
    assert dataclasses.asdict(config) == {
        "num_heads": 8,
        "max_heads_parallel": None,
        "num_self_attention_layers": 8,
        "num_self_attention_rotary_layers": 1,
        "self_attention_widening_factor": 4,
        "cross_attention_widening_factor": 4,
        "cross_attention_dropout": 0.5,
        "post_attention_dropout": 0.0,
        "residual_dropout": 0.0,
        "activation_checkpointing": False,
        "activation_offloading": False,
        "vocab_size": 262,
        "max_seq_len": 4096,
        "max_latents": 512,
        "num_channels": 512,
        "output_norm": False,
        "output_bias": True,
        "abs_pos_emb": True,
        "init_scale": 0.02,
    }
    created = CausalLanguageModelConfig.create(max_latents=8, validation_sample_prompt=None, params=None)
    assert isinstance(created, CausalLanguageModelConfig) and created.max_latents == 8


def test_reference_backend_state_dict_loads_and_reproduces_logits():
    config = CausalLanguageModelConfig(**json.loads((FIXTURES / "config.json").read_text()))
    model = CausalLanguageModel(config).eval()
    assert isinstance(model, CausalSequenceModel)
    model.load_state_dict(torch.load(FIXTURES / "backend_state_dict.pt"), strict=True)
    io = torch.load(FIXTURES / "io.pt")
    with torch.no_grad():
        logits = model(io["inputs"], prefix_len=io["prefix_len"], pad_mask=io["pad_mask"]).logits
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_activation_checkpointing_gives_the_same_gradients():
    torch.manual_seed(1)
    plain = CausalLanguageModel(tiny_config(cross_attention_dropout=0.0))
    checkpointed = CausalLanguageModel(tiny_config(cross_attention_dropout=0.0, activation_checkpointing=True))
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randint(0, 40, (2, 20))
    grads = []
    for model in (plain, checkpointed):
        model.train()
        model(x, prefix_len=14).logits.square().mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("prefix_len", [-1, 20, 21])
def test_prefix_len_out_of_range(prefix_len):
    model = CausalLanguageModel(tiny_config()).eval()
    with pytest.raises(ValueError, match=rf"prefix_len \({prefix_len}\) (out of valid range \[0..20\)|exceeds)"):
        model(torch.randint(0, 40, (1, 20)), prefix_len=prefix_len)
