"""MaskedLanguageModel: the reference fixture, cropping, padding, untied output, freezing and bad input."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from perceiver.model.text.mlm import (
    MaskedLanguageModel,
    MaskedLanguageModelConfig,
    TextDecoderConfig,
    TextEncoderConfig,
    TokenOutputAdapter,
)
from tests.model.text.utils import FIXTURES

FIXTURE = FIXTURES / "mlm"


def fixture_config() -> MaskedLanguageModelConfig:
    return MaskedLanguageModelConfig(
        TextEncoderConfig(
            vocab_size=262,
            max_seq_len=64,
            num_input_channels=32,
            num_cross_attention_heads=4,
            num_self_attention_heads=4,
            num_self_attention_layers_per_block=2,
            init_scale=0.02,  # perceiver-io 0.11's fixed default, named in its saved config (ours: width-scaled)
        ),
        TextDecoderConfig(
            vocab_size=262, max_seq_len=64, num_cross_attention_heads=4, cross_attention_residual=False, init_scale=0.02
        ),
        num_latents=16,
        num_latent_channels=64,
    )


@pytest.fixture(scope="module")
def reference():
    model = MaskedLanguageModel(fixture_config()).eval()
    model.load_state_dict(torch.load(FIXTURE / "backend_state_dict.pt"))
    return model, torch.load(FIXTURE / "io.pt")


def test_reference_config_matches_fixture():
    import json

    assert dataclasses.asdict(fixture_config()) == json.loads((FIXTURE / "config.json").read_text())


def test_reference_state_dict_keys(reference):
    model, _ = reference
    expected = torch.load(FIXTURE / "backend_state_dict.pt")
    assert list(model.state_dict()) == list(expected)
    assert sum(p.numel() for p in model.parameters()) == 94_022


def test_reference_logits(reference):
    model, io = reference
    with torch.no_grad():
        logits = model(io["inputs"], pad_mask=io["pad_mask"])
    assert logits.shape == (2, 64, 262)
    torch.testing.assert_close(logits, io["logits"], atol=1e-5, rtol=0)


def test_logits_are_cropped_to_the_input_length(reference):
    model, io = reference
    x, pad_mask = io["inputs"][:, :40], io["pad_mask"][:, :40]
    with torch.no_grad():
        logits = model(x, pad_mask=pad_mask)
        # the reference way: decode all max_seq_len output queries, then crop
        x_latent = model.encoder(x, pad_mask=pad_mask)
        full = model.decoder(x_latent, txt_embedding=model.encoder.input_adapter.txt_embedding)
    assert full.shape == (2, 64, 262)
    assert logits.shape == (2, 40, 262)
    torch.testing.assert_close(logits, full[:, :40], atol=1e-6, rtol=0)


def test_padding_is_ignored(reference):
    model, io = reference
    x, pad_mask = io["inputs"].clone(), io["pad_mask"]
    with torch.no_grad():
        before = model(x, pad_mask=pad_mask)
        x[pad_mask] = torch.randint(6, 262, (int(pad_mask.sum()),))
        after = model(x, pad_mask=pad_mask)
    torch.testing.assert_close(before, after, atol=1e-6, rtol=0)


def test_untied_output_adapter():
    config = fixture_config()
    config.decoder.num_output_query_channels = 48
    model = MaskedLanguageModel(config).eval()
    keys = set(model.state_dict())
    assert {"1.output_adapter.linear.weight", "1.output_adapter.linear.bias"} <= keys
    assert "1.output_adapter.bias" not in keys
    assert isinstance(model.decoder.output_adapter, TokenOutputAdapter)
    assert model.decoder.output_query_provider.num_query_channels == 48
    assert model(torch.randint(0, 262, (2, 1))).shape == (2, 1, 262)


def test_tied_output_uses_the_input_embedding(reference):
    model, _ = reference
    x = torch.randint(0, 262, (1, 10))
    with torch.no_grad():
        x_latent = model.encoder(x)
        query = model.decoder.output_query_provider()[:, :10]
        hidden = model.decoder.cross_attn(query, x_latent).last_hidden_state
        expected = hidden @ model.encoder.input_adapter.txt_embedding.weight.T + model.decoder.output_adapter.bias
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=0)


def test_frozen_encoder():
    config = fixture_config()
    config.encoder.freeze = True
    model = MaskedLanguageModel(config)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for n, p in model.decoder.named_parameters())


def test_train_step_reduces_loss():
    model = MaskedLanguageModel(fixture_config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.randint(6, 262, (2, 16))
    losses = []
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_vocab_size_mismatch():
    config = fixture_config()
    config.decoder.vocab_size = 100
    with pytest.raises(ValueError, match=r"decoder.vocab_size \(100\) must equal encoder.vocab_size \(262\)"):
        MaskedLanguageModel(config)


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.tensor([[1, 2, 262]]), r"x_masked holds token ids in \[1..262\], outside the vocabulary \[0..261\]"),
        (torch.tensor([[-1, 2]]), r"outside the vocabulary"),
        (torch.zeros(1, 65, dtype=torch.long), r"x_masked has sequence length 65, longer than max_seq_len \(64\)"),
        (torch.zeros(0, 8, dtype=torch.long), r"x_masked is an empty batch"),
        (torch.zeros(2, 0, dtype=torch.long), r"x_masked has sequence length 0"),
        (torch.zeros(8, dtype=torch.long), r"x_masked must have shape \(batch_size, seq_len\)"),
    ],
)
def test_bad_token_ids(reference, x, match):
    model, _ = reference
    with pytest.raises(ValueError, match=match):
        model(x)


def test_float_token_ids(reference):
    model, _ = reference
    with pytest.raises(TypeError, match="x_masked must hold integer token ids, got dtype torch.float32"):
        model(torch.zeros(1, 4))


def test_bad_pad_mask(reference):
    model, _ = reference
    x = torch.zeros(2, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r"pad_mask must have shape \(batch_size, num_keys\) = \(2, 8\), got \(2, 7\)"):
        model(x, pad_mask=torch.zeros(2, 7, dtype=torch.bool))
    with pytest.raises(TypeError, match="pad_mask must be a bool tensor"):
        model(x, pad_mask=torch.zeros(2, 8))


@pytest.mark.parametrize("untied", [False, True])
def test_loss_decodes_only_labelled_positions_exactly(untied):
    config = fixture_config()
    if untied:
        config.decoder.num_output_query_channels = 48
    model = MaskedLanguageModel(config)
    with torch.no_grad():  # a scale at which logits differ clearly between positions
        for param in model.parameters():
            param.normal_(0.0, 0.2)
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(6, 262, (3, 40), generator=gen)
    labels = torch.where(torch.rand(3, 40, generator=gen) < 0.2, x, -100)
    labels[2] = -100
    labels[2, 39] = x[2, 39]  # one row with a single label, at the last position
    pad_mask = torch.zeros(3, 40, dtype=torch.bool)
    pad_mask[1, 30:] = True
    labels[1, 30:] = -100
    x_masked = torch.where(labels != -100, 3, x)

    expected = F.cross_entropy(model(x_masked, pad_mask=pad_mask).flatten(0, 1), labels.flatten(), ignore_index=-100)
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))
    loss = model.loss(x_masked, labels, pad_mask=pad_mask)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


def test_loss_bad_labels(reference):
    model, _ = reference
    with pytest.raises(ValueError, match=r"labels must have the shape of x_masked \(2, 8\), got \(2, 7\)"):
        model.loss(torch.zeros(2, 8, dtype=torch.long), torch.zeros(2, 7, dtype=torch.long))
