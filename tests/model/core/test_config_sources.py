"""The config dataclasses are the one source of a model's fields. The building block ``PerceiverAR`` and the
Lightning modules keep perceiver-io 0.11's flat signatures (its code and CLI configs call them that way), so these
tests hold those signatures to the dataclasses: the same names, and defaults that differ only where the reference's
do."""

import dataclasses
import inspect

import pytest

from perceiver.model.core.config import CausalSequenceModelConfig, PerceiverARConfig, PerceiverIOConfig
from perceiver.model.core.lightning import LitCausalSequenceModel, LitPerceiverIO
from perceiver.model.core.perceiver_ar import PerceiverAR

# perceiver-io 0.11's block and Lightning module default to 6 self-attention layers, its config to 8
REFERENCE_DEFAULT_DIFFERENCES = {"num_self_attention_layers": 6}
# linked from the data module by the CLI, so the Lightning module has no default for them
REQUIRED_IN_LIGHTNING = {"vocab_size", "max_seq_len"}
LIGHTNING_ONLY = {"params", "compile", "max_grad_norm", "validation_sample_prompt", "validation_sample_record"}


def signature_defaults(function, skip: set[str]) -> dict[str, object]:
    parameters = inspect.signature(function).parameters.values()
    return {
        p.name: p.default for p in parameters if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def field_defaults(config_class: type) -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(config_class)}


def test_perceiver_ar_block_takes_exactly_the_perceiver_ar_config_fields():
    block = signature_defaults(PerceiverAR.__init__, {"self", "input_adapter"})
    config = field_defaults(PerceiverARConfig)
    assert block.keys() == config.keys()
    differing = {name: block[name] for name in config if block[name] != config[name]}
    assert differing == REFERENCE_DEFAULT_DIFFERENCES


def test_causal_sequence_lightning_module_takes_exactly_the_config_fields():
    module = signature_defaults(LitCausalSequenceModel.__init__, {"self"})
    config = field_defaults(CausalSequenceModelConfig)
    assert module.keys() - LIGHTNING_ONLY == config.keys()
    assert {name for name in config if module[name] is inspect.Parameter.empty} == REQUIRED_IN_LIGHTNING
    differing = {name: module[name] for name in config.keys() - REQUIRED_IN_LIGHTNING if module[name] != config[name]}
    assert differing == REFERENCE_DEFAULT_DIFFERENCES


def test_perceiver_io_lightning_module_takes_exactly_the_config_fields():
    module = signature_defaults(LitPerceiverIO.__init__, {"self"})
    config = field_defaults(PerceiverIOConfig)
    assert module.keys() - {"params", "compile"} == config.keys()
    for name, default in config.items():
        if default is not dataclasses.MISSING:
            assert module[name] == default, name


@pytest.mark.parametrize("num_self_attention_layers", [None, 3])
def test_lightning_module_builds_its_backend_from_the_config_it_was_given(num_self_attention_layers):
    from perceiver.model.text.clm import CausalLanguageModelConfig, LitCausalLanguageModel

    fields = {} if num_self_attention_layers is None else {"num_self_attention_layers": num_self_attention_layers}
    config = CausalLanguageModelConfig(
        vocab_size=50, max_seq_len=16, max_latents=8, num_channels=16, num_heads=2, **fields
    )
    module = LitCausalLanguageModel.create(config)
    assert module.backend_config == config
    assert len(module.model.self_attention) == config.num_self_attention_layers
