import pytest
import torch
import torch.nn as nn

from perceiver.model.core import CrossAttentionLayer
from perceiver.model.core.position import fourier_features
from perceiver.model.core.split_input import SplitInput, can_project_split, split_norm_project


def split_input(b=3, n=20, c1=3, generator=None, offset=0.0) -> SplitInput:
    per_example = torch.randn(b, n, c1, generator=generator) + offset
    shared = fourier_features((4, 5), num_frequency_bands=3)  # (20, 14), bounded like real position encodings
    return SplitInput(per_example, shared[:n])


def reference(x: SplitInput, norm: nn.LayerNorm, projections) -> list[torch.Tensor]:
    normed = norm(x.materialize())
    return [proj(normed) for proj in projections]


@pytest.mark.parametrize("c1, offset", [(3, 0.0), (7, 0.0), (3, 50.0)])
@pytest.mark.parametrize("norm_bias, proj_bias", [(True, True), (False, True), (True, False), (False, False)])
def test_split_projection_equals_norm_then_linear(c1, offset, norm_bias, proj_bias):
    g = torch.Generator().manual_seed(0)
    x = split_input(c1=c1, generator=g, offset=offset)
    channels = x.shape[-1]
    norm = nn.LayerNorm(channels, bias=norm_bias)
    projections = (nn.Linear(channels, 16, bias=proj_bias), nn.Linear(channels, 9, bias=proj_bias))
    with torch.no_grad():
        norm.weight.normal_()
        if norm_bias:
            norm.bias.normal_()
    assert can_project_split(norm, projections, x)
    for out, expected in zip(split_norm_project(x, norm, projections), reference(x, norm, projections)):
        torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-5)


def test_split_projection_gradients_equal_the_direct_path():
    g = torch.Generator().manual_seed(1)
    x = split_input(generator=g)
    norm, proj = nn.LayerNorm(x.shape[-1]), nn.Linear(x.shape[-1], 12)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    params = [norm.weight, norm.bias, proj.weight, proj.bias]
    target = torch.randn(3, 20, 12, generator=g)
    grads = torch.autograd.grad((split_norm_project(x, norm, (proj,))[0] * target).sum(), params)
    expected = torch.autograd.grad((reference(x, norm, (proj,))[0] * target).sum(), params)
    for grad, exp in zip(grads, expected):
        torch.testing.assert_close(grad, exp, atol=1e-4, rtol=1e-5)


def test_cross_attention_layer_gives_the_same_output_for_split_and_materialized_input():
    g = torch.Generator().manual_seed(2)
    x = split_input(generator=g)
    layer = CrossAttentionLayer(2, 16, x.shape[-1], num_qk_channels=8, num_v_channels=12).eval()
    latents = torch.randn(1, 4, 16, generator=g).expand(3, -1, -1)
    torch.testing.assert_close(
        layer(latents, x).last_hidden_state, layer(latents, x.materialize()).last_hidden_state, atol=1e-5, rtol=0
    )


def test_wrapped_projections_and_autocast_take_the_direct_path():
    x = split_input()
    norm = nn.LayerNorm(x.shape[-1])

    class LoggingLinear(nn.Linear):
        pass

    assert not can_project_split(norm, (LoggingLinear(x.shape[-1], 4),), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not can_project_split(norm, (nn.Linear(x.shape[-1], 4),), x)
    layer = CrossAttentionLayer(1, 8, x.shape[-1]).eval()
    layer[0].module.attention.k_proj.__class__ = LoggingLinear  # e.g. an adapter library's wrapper
    latents = torch.randn(3, 2, 8)
    torch.testing.assert_close(
        layer(latents, x).last_hidden_state, layer(latents, x.materialize()).last_hidden_state, atol=0, rtol=0
    )


def test_split_input_validates_its_parts():
    with pytest.raises(ValueError, match=r"per_example \(b, n, c1\) and shared \(n, c2\)"):
        SplitInput(torch.zeros(2, 3), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="per_example has 5 positions but shared has 4"):
        SplitInput(torch.zeros(2, 5, 3), torch.zeros(4, 4))
    x = split_input()
    assert x.shape == x.materialize().shape == (3, 20, 17)


@pytest.mark.parametrize("kind", ["fourier", "learned", "conv", "flow"])
def test_adapters_split_input_and_the_encoder_uses_it(kind):
    from perceiver.model.core import PerceiverEncoder
    from perceiver.model.vision.image_classifier.backend import (
        ConvImageInputAdapter,
        ImageInputAdapter,
        LearnedImageInputAdapter,
    )
    from perceiver.model.vision.optical_flow.backend import OpticalFlowInputAdapter

    torch.manual_seed(3)
    if kind == "flow":
        adapter, x = OpticalFlowInputAdapter((6, 5), 4, 8, 3), torch.randn(2, 2, 4, 6, 5)
    else:
        cls = {"fourier": ImageInputAdapter, "learned": LearnedImageInputAdapter, "conv": ConvImageInputAdapter}[kind]
        adapter = cls((8, 8, 3), 4, 3) if kind != "fourier" else cls((8, 8, 3), 3)
        x = torch.randn(2, 8, 8, 3)
    adapter.eval()
    assert adapter.supports_split_input
    split = adapter(x, split=True)
    assert isinstance(split, SplitInput)
    torch.testing.assert_close(split.materialize(), adapter(x), atol=0, rtol=0)

    encoder = PerceiverEncoder(adapter, num_latents=4, num_latent_channels=16, num_self_attention_layers_per_block=1)
    encoder.eval()
    latents, adapted = encoder(x, return_adapted_input=True)
    torch.testing.assert_close(adapted, adapter(x), atol=0, rtol=0)
    adapter.supports_split_input = False  # the direct path
    torch.testing.assert_close(latents, encoder(x), atol=1e-5, rtol=0)


def test_padded_heads_hold_the_projection_and_zeros():
    x = split_input(generator=torch.Generator().manual_seed(4))
    norm, proj = nn.LayerNorm(x.shape[-1]), nn.Linear(x.shape[-1], 3 * 5)
    (plain,) = split_norm_project(x, norm, (proj,))
    (padded,) = split_norm_project(x, norm, (proj,), num_heads=3, multiple=8)
    assert padded.shape == (3, 20, 3 * 8)
    heads = padded.unflatten(-1, (3, 8))
    torch.testing.assert_close(heads[..., :5].flatten(-2), plain, atol=0, rtol=0)
    assert not heads[..., 5:].any()


def test_cross_attention_layer_gradients_for_split_input_with_padded_heads():
    g = torch.Generator().manual_seed(5)
    x = split_input(generator=g)
    layer = CrossAttentionLayer(3, 16, x.shape[-1], num_qk_channels=9, num_v_channels=15)
    latents = torch.randn(1, 4, 16, generator=g).expand(3, -1, -1)
    target = torch.randn(3, 4, 16, generator=g)
    params = list(layer.parameters())
    grads = torch.autograd.grad((layer(latents, x).last_hidden_state * target).sum(), params)
    expected = torch.autograd.grad((layer(latents, x.materialize()).last_hidden_state * target).sum(), params)
    for grad, exp in zip(grads, expected):
        torch.testing.assert_close(grad, exp, atol=1e-4, rtol=1e-4)


def test_gradients_reach_trainable_per_example_features_and_shared_channels():
    # the learned and conv adapters: both parts of the input come out of trainable layers
    g = torch.Generator().manual_seed(6)
    per_example = torch.randn(3, 20, 5, generator=g, requires_grad=True)
    shared = torch.randn(20, 7, generator=g, requires_grad=True)
    x = SplitInput(per_example, shared)
    norm, proj = nn.LayerNorm(12), nn.Linear(12, 10)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    inputs = [per_example, shared, norm.weight, proj.weight]
    target = torch.randn(3, 20, 16, generator=g)
    (padded,) = split_norm_project(x, norm, (proj,), num_heads=2, multiple=8)
    grads = torch.autograd.grad((padded.unflatten(-1, (2, 8))[..., :5].flatten(-2) * target[..., :10]).sum(), inputs)
    expected = torch.autograd.grad((reference(x, norm, (proj,))[0] * target[..., :10]).sum(), inputs)
    for grad, exp in zip(grads, expected):
        torch.testing.assert_close(grad, exp, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", ["learned", "conv"])
def test_image_classifier_parameter_gradients_equal_the_direct_path(kind):
    from perceiver.model.core import PerceiverEncoder
    from perceiver.model.vision.image_classifier.backend import ConvImageInputAdapter, LearnedImageInputAdapter

    torch.manual_seed(7)
    cls = LearnedImageInputAdapter if kind == "learned" else ConvImageInputAdapter
    encoder = PerceiverEncoder(cls((8, 8, 3), 4, 3), num_latents=4, num_latent_channels=16,
                               num_self_attention_layers_per_block=1)  # fmt: skip
    x = torch.randn(2, 8, 8, 3)
    params = [p for p in encoder.parameters() if p.requires_grad]
    grads = torch.autograd.grad(encoder(x).square().sum(), params)
    encoder.input_adapter.supports_split_input = False  # the direct path
    expected = torch.autograd.grad(encoder(x).square().sum(), params)
    for grad, exp in zip(grads, expected):
        torch.testing.assert_close(grad, exp, atol=1e-4, rtol=1e-4)
