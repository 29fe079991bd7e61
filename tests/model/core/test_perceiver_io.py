import itertools

import pytest
import torch
import torch.nn as nn

from perceiver.model.core import (
    ClassificationOutputAdapter,
    CrossAttentionLayer,
    InputAdapter,
    PerceiverDecoder,
    PerceiverEncoder,
    PerceiverIO,
    SelfAttentionBlock,
    TrainableQueryProvider,
)


class VectorInputAdapter(InputAdapter):
    def __init__(self, channels: int):
        super().__init__(channels)

    def forward(self, x):
        return x


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def encoder(**kwargs):
    defaults = dict(
        input_adapter=VectorInputAdapter(6),
        num_latents=4,
        num_latent_channels=8,
        num_cross_attention_heads=2,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=2,
    )
    return PerceiverEncoder(**(defaults | kwargs))


SHARING = list(itertools.product([1, 2, 3], [False, True], [3, 4], [False, True]))


@pytest.mark.parametrize("num_ca, ca_shared, num_blocks, sa_shared", SHARING)
def test_weight_sharing_parameter_counts(num_ca, ca_shared, num_blocks, sa_shared):
    enc = encoder(
        num_cross_attention_layers=num_ca,
        first_cross_attention_layer_shared=ca_shared,
        num_self_attention_blocks=num_blocks,
        first_self_attention_block_shared=sa_shared,
    )
    ca_params = num_params(CrossAttentionLayer(2, 8, 6))
    sa_params = num_params(SelfAttentionBlock(2, 2, 8))
    num_ca_modules = 1 + int(num_ca > 1 and not ca_shared)
    num_sa_modules = 1 + int(num_blocks > 1 and not sa_shared)
    expected = 4 * 8 + num_ca_modules * ca_params + num_sa_modules * sa_params
    assert num_params(enc) == expected
    assert hasattr(enc, "cross_attn_n") == (num_ca_modules == 2)
    assert hasattr(enc, "self_attn_n") == (num_sa_modules == 2)


@pytest.mark.parametrize("num_ca, ca_shared, num_blocks, sa_shared", SHARING)
def test_shared_layers_are_the_same_module(num_ca, ca_shared, num_blocks, sa_shared):
    enc = encoder(
        num_cross_attention_layers=num_ca,
        first_cross_attention_layer_shared=ca_shared,
        num_self_attention_blocks=num_blocks,
        first_self_attention_block_shared=sa_shared,
    )
    calls = []
    for name, module in enc.named_children():
        if name.startswith(("cross_attn", "self_attn")):
            module.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
    enc(torch.randn(2, 5, 6))

    ca_n = "cross_attn_1" if num_ca == 1 or ca_shared else "cross_attn_n"
    sa_n = "self_attn_1" if num_blocks == 1 or sa_shared else "self_attn_n"
    expected = ["cross_attn_1", "self_attn_1"]
    for i in range(1, num_blocks):
        expected += ([ca_n] if i < num_ca else []) + [sa_n]
    assert calls == expected


def test_original_perceiver_forward_matches_manual_composition():
    enc = encoder(num_cross_attention_layers=2, num_self_attention_blocks=3, first_self_attention_block_shared=False)
    enc.eval()
    x = torch.randn(2, 5, 6)
    pad_mask = torch.zeros(2, 5, dtype=torch.bool)
    pad_mask[0, -2:] = True
    z = enc.latent_provider().expand(2, -1, -1)
    z = enc.cross_attn_1(z, x, pad_mask=pad_mask).last_hidden_state
    z = enc.self_attn_1(z).last_hidden_state
    z = enc.cross_attn_n(z, x, pad_mask=pad_mask).last_hidden_state
    z = enc.self_attn_n(z).last_hidden_state
    z = enc.self_attn_n(z).last_hidden_state
    torch.testing.assert_close(enc(x, pad_mask=pad_mask), z)


def test_perceiver_io_classifier_shapes_and_gradients():
    enc = encoder()
    dec = PerceiverDecoder(
        output_adapter=ClassificationOutputAdapter(num_classes=3, num_output_query_channels=8),
        output_query_provider=TrainableQueryProvider(1, 8),
        num_latent_channels=8,
        num_cross_attention_heads=2,
    )
    model = PerceiverIO(enc, dec)
    assert model.encoder is enc and model.decoder is dec
    logits = model(torch.randn(3, 5, 6))
    assert logits.shape == (3, 3)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_decoder_without_query_residual():
    layer = CrossAttentionLayer(2, 8, 6, attention_residual=False)
    assert isinstance(layer[0], nn.Module) and not hasattr(layer[0], "module")
    x_q, x_kv = torch.randn(2, 3, 8), torch.randn(2, 4, 6)
    attn_out = layer[0](x_q, x_kv).last_hidden_state  # no x_q added
    expected = attn_out + layer[1].module(attn_out).last_hidden_state
    torch.testing.assert_close(layer(x_q, x_kv).last_hidden_state, expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_cross_attention_layers=0), "num_cross_attention_layers must be > 0"),
        (dict(num_self_attention_blocks=0), "num_self_attention_blocks must be > 0"),
        (dict(num_cross_attention_layers=3, num_self_attention_blocks=2), "must be <= num_self_attention_blocks"),
        (dict(num_latents=0), "num_latents must be > 0"),
        (dict(num_latent_channels=-4), "num_latent_channels must be > 0"),
        (dict(num_self_attention_heads=3), "divisible by num_heads"),
        (dict(num_self_attention_layers_per_block=0), "num_layers must be > 0"),
        (dict(dropout=1.5), "dropout must be a probability"),
    ],
)
def test_invalid_encoder_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        encoder(**kwargs)


def test_encoder_pad_mask_of_wrong_shape():
    with pytest.raises(ValueError, match="pad_mask must have shape"):
        encoder()(torch.randn(2, 5, 6), pad_mask=torch.zeros(2, 4, dtype=torch.bool))


def test_activation_checkpointing_gives_same_gradients():
    torch.manual_seed(1)
    plain = encoder(num_cross_attention_layers=2, num_self_attention_blocks=2)
    ckpt = encoder(num_cross_attention_layers=2, num_self_attention_blocks=2, activation_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 6)
    plain(x).square().sum().backward()
    ckpt(x).square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@pytest.mark.parametrize("offload", [False, True])
def test_activation_checkpointing_is_used_in_training_only(monkeypatch, offload):
    import perceiver.model.core.layers as layers

    calls = []
    original = layers.checkpoint
    monkeypatch.setattr(layers, "checkpoint", lambda *a, **k: calls.append(1) or original(*a, **k))
    enc = encoder(activation_checkpointing=True, activation_offloading=offload)
    enc(torch.randn(2, 5, 6)).sum().backward()
    assert len(calls) == 3  # one cross-attention layer and two self-attention layers
    enc.eval()
    enc(torch.randn(2, 5, 6))
    assert len(calls) == 3
