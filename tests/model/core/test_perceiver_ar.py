import json
from pathlib import Path

import pytest
import torch

from perceiver.model.core import CausalSequenceModel, CausalSequenceModelConfig, PerceiverAR, positions

FIXTURES = Path(__file__).parents[2] / "fixtures" / "clm"


def ids(n: int) -> torch.Tensor:
    return torch.randint(0, 40, (2, n))


def tiny_config(**overrides) -> CausalSequenceModelConfig:
    fields = dict(
        vocab_size=40, max_seq_len=32, max_latents=8, num_channels=32, num_heads=4, num_self_attention_layers=2
    )
    return CausalSequenceModelConfig(**(fields | overrides))


def test_reference_fixture_loads_strictly_and_reproduces_logits():
    config = CausalSequenceModelConfig(**json.loads((FIXTURES / "config.json").read_text()))
    model = CausalSequenceModel(config).eval()
    state_dict = torch.load(FIXTURES / "backend_state_dict.pt")
    model.load_state_dict(state_dict, strict=True)
    io = torch.load(FIXTURES / "io.pt")
    with torch.no_grad():
        logits = model(io["inputs"], prefix_len=io["prefix_len"], pad_mask=io["pad_mask"]).logits
    assert logits.shape == io["logits"].shape
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_state_dict_keys_follow_the_reference_layout():
    model = CausalSequenceModel(tiny_config(output_norm=True, output_bias=False, abs_pos_emb=False))
    keys = set(model.state_dict())
    assert "out_norm.weight" in keys
    assert "output_adapter.bias" not in keys
    assert "input_adapter.pos_embedding.weight" not in keys
    assert "cross_attention.0.module.attention.o_proj.bias" in keys
    assert "self_attention.1.1.module.3.weight" in keys


def test_left_padding_shifts_positions():
    model = CausalSequenceModel(tiny_config()).eval()
    x = torch.randint(1, 40, (1, 12))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), x], dim=1)
    pad_mask = torch.zeros(1, 15, dtype=torch.bool)
    pad_mask[:, :3] = True
    expected = model(x, prefix_len=6).logits
    # same tokens behind 3 pad tokens, with 3 more prefix positions: the latents see the same context
    actual = model(padded, prefix_len=9, pad_mask=pad_mask).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


def test_positions_shift_and_validation():
    shift = torch.tensor([[0], [2]])
    assert positions(2, 4, shift=shift).tolist() == [[0, 1, 2, 3], [0, 0, 0, 1]]
    with pytest.raises(ValueError, match="shift must have shape"):
        positions(2, 4, shift=torch.tensor([0, 2]))


def test_cross_attention_dropout_keeps_prefix_count_and_is_off_in_eval():
    model = CausalSequenceModel(tiny_config(cross_attention_dropout=0.5))
    x = torch.randint(0, 40, (3, 20))
    model.eval()
    eval_logits = model(x, prefix_len=12).logits
    model.train()
    seen = []

    def hook(module, args, kwargs, output):
        seen.append(kwargs["x_kv_prefix"].shape[1])

    model.cross_attention[0].module.register_forward_hook(hook, with_kwargs=True)
    train_logits = model(x, prefix_len=12).logits
    assert seen == [6]
    assert not torch.allclose(train_logits, eval_logits)
    train_logits.sum().backward()


def test_cross_attention_dropout_zero_equals_eval():
    model = CausalSequenceModel(tiny_config(cross_attention_dropout=0.0))
    x = ids(20)
    train = model.train()(x, prefix_len=12).logits
    torch.testing.assert_close(train, model.eval()(x, prefix_len=12).logits)


def test_bf16_autocast_forward_and_backward_are_finite():
    model = CausalSequenceModel(tiny_config())
    x = ids(20)
    pad_mask = torch.zeros(2, 20, dtype=torch.bool)
    pad_mask[1, :5] = True
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x, prefix_len=10, pad_mask=pad_mask).logits
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), x[:, 10:].flatten())
    loss.backward()
    assert torch.isfinite(logits.float()).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        cache = model.preallocated_kv_cache(2)
        model.eval()(x[:, :12], prefix_len=10, kv_cache=cache)
        step = model(x[:, 12:13], prefix_len=0, kv_cache=cache).logits
    assert torch.isfinite(step.float()).all()


def test_activation_checkpointing_gives_same_gradients():
    plain = CausalSequenceModel(tiny_config(cross_attention_dropout=0.0))
    ckpt = CausalSequenceModel(tiny_config(cross_attention_dropout=0.0, activation_checkpointing=True))
    ckpt.load_state_dict(plain.state_dict())
    x = ids(20)
    plain(x, prefix_len=10).logits.square().sum().backward()
    ckpt(x, prefix_len=10).logits.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m(ids(20), prefix_len=20), ValueError, r"prefix_len \(20\) out of valid range \[0..20\)"),
        (lambda m: m(ids(20), prefix_len=-1), ValueError, r"prefix_len \(-1\) out of valid range"),
        (lambda m: m(ids(30), prefix_len=25), ValueError, r"prefix_len \(25\) exceeds max_prefix_len \(24\)"),
        (lambda m: m(ids(33), prefix_len=20), ValueError, "exceeds max_seq_len"),
        (lambda m: m(torch.full((2, 20), 40), prefix_len=10), ValueError, r"outside the vocabulary \[0..39\]"),
        (lambda m: m(torch.full((2, 20), -1), prefix_len=10), ValueError, "outside the vocabulary"),
        (lambda m: m(torch.rand(2, 20), prefix_len=10), TypeError, "integer token ids"),
        (lambda m: m(ids(20), prefix_len=10, pad_mask=torch.zeros(2, 19).bool()), ValueError, "pad_mask must have"),
        (lambda m: m(ids(20), prefix_len=10.0), TypeError, "prefix_len must be an int"),
    ],
)  # fmt: skip
def test_invalid_forward_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call(CausalSequenceModel(tiny_config()).eval())


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(num_channels=30), "num_channels must be divisible by num_heads"),
        (dict(num_channels=0), "num_channels must be > 0"),
        (dict(max_latents=40), r"max_latents \(40\) must be <= max_seq_len \(32\)"),
        (dict(vocab_size=-1), "vocab_size must be > 0"),
        (dict(num_self_attention_layers=0), "num_self_attention_layers must be > 0"),
        (dict(cross_attention_dropout=2.0), "cross_attention_dropout must be a probability"),
        (dict(num_channels=24, num_heads=8, abs_pos_emb=False), "cannot rotate 3 channels of heads with 3"),
        (dict(num_channels=8, num_heads=8), "cannot rotate 0 channels of heads with 1"),
    ],
)
def test_invalid_configs(overrides, match):
    with pytest.raises(ValueError, match=match):
        CausalSequenceModel(tiny_config(**overrides))


def test_perceiver_ar_is_the_base_class():
    assert issubclass(CausalSequenceModel, PerceiverAR)
    config = CausalSequenceModelConfig.create(num_heads=2, unknown_field=1, num_channels=16)
    assert config.num_heads == 2 and config.num_channels == 16
