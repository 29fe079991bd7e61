"""``training_flops`` against the matrix products that a training forward pass of the built model actually calls
(counted by :class:`MatmulFlopCounter`), times 3."""

import pytest
import torch

from perceiver.model.core.config import ClassificationDecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.mlm.backend import MaskedLanguageModel, MaskedLanguageModelConfig, TextDecoderConfig
from perceiver.model.vision.image_classifier.backend import ImageClassifier, ImageClassifierConfig, ImageEncoderConfig
from perceiver.scaling import ComputeEstimator, training_flops
from tests.scaling.flop_counter import count_forward_flops

BATCH = 3


def counted_training_flops(model: torch.nn.Module, forward) -> int:
    model.train()  # prefix dropout and the training-time attention paths
    counter = count_forward_flops(forward)
    assert counter.calls.get("linear", 0) > 0 and counter.calls.get("sdpa", 0) + counter.calls.get("matmul", 0) > 0
    return 3 * counter.flops


CLM_CONFIGS = {
    "defaults-small": CausalLanguageModelConfig(vocab_size=262, max_seq_len=256, max_latents=64, num_channels=64,
                                                num_heads=4, num_self_attention_layers=3),
    "widening-heads-no-dropout": CausalLanguageModelConfig(
        vocab_size=500, max_seq_len=160, max_latents=48, num_channels=48, num_heads=2, num_self_attention_layers=2,
        cross_attention_widening_factor=2, self_attention_widening_factor=3, cross_attention_dropout=0.0,
        output_bias=False, output_norm=True, abs_pos_emb=False,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", CLM_CONFIGS)
def test_causal_language_model(name):
    config = CLM_CONFIGS[name]
    model = CausalLanguageModel(config)
    x = torch.randint(0, config.vocab_size, (BATCH, config.max_seq_len))
    prefix_len = config.max_seq_len - config.max_latents
    counted = counted_training_flops(model, lambda: model(x, prefix_len=prefix_len))
    assert training_flops(config, BATCH) == pytest.approx(counted, rel=0.03)


def test_causal_language_model_shorter_sequence_and_other_latents():
    config = CLM_CONFIGS["defaults-small"]
    model = CausalLanguageModel(config)
    x = torch.randint(0, config.vocab_size, (BATCH, 200))
    counted = counted_training_flops(model, lambda: model(x, prefix_len=160))
    estimate = training_flops(config, BATCH, seq_len=200, num_latents=40, prefix_dropout=config.cross_attention_dropout)
    assert estimate == pytest.approx(counted, rel=0.03)


def text_encoder(**kwargs) -> TextEncoderConfig:
    return TextEncoderConfig(vocab_size=262, max_seq_len=128, num_input_channels=32, num_cross_attention_heads=2,
                             num_self_attention_heads=2, num_self_attention_layers_per_block=2, **kwargs)  # fmt: skip


MLM_CONFIGS = {
    "tied-output": MaskedLanguageModelConfig(
        text_encoder(), TextDecoderConfig(vocab_size=262, max_seq_len=128, num_cross_attention_heads=2), 16, 64
    ),
    "untied-qk-v-widening-blocks": MaskedLanguageModelConfig(
        text_encoder(num_cross_attention_qk_channels=16, num_cross_attention_v_channels=32,
                     num_self_attention_qk_channels=32, num_self_attention_v_channels=64, num_self_attention_blocks=2,
                     num_cross_attention_layers=2, cross_attention_widening_factor=2, self_attention_widening_factor=3),
        TextDecoderConfig(vocab_size=262, max_seq_len=128, num_output_query_channels=48, num_cross_attention_heads=2,
                          num_cross_attention_qk_channels=16, num_cross_attention_v_channels=32,
                          cross_attention_widening_factor=2),
        num_latents=16, num_latent_channels=64,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", MLM_CONFIGS)
def test_masked_language_model(name):
    config = MLM_CONFIGS[name]
    model = MaskedLanguageModel(config)
    x = torch.randint(0, 262, (BATCH, 100))
    counted = counted_training_flops(model, lambda: model(x))
    assert training_flops(config, BATCH, seq_len=100) == pytest.approx(counted, rel=0.03)


def image_classifier(encoder: ImageEncoderConfig, query_channels: int = 32) -> ImageClassifierConfig:
    decoder = ClassificationDecoderConfig(num_classes=10, num_output_query_channels=query_channels,
                                          num_cross_attention_heads=1)  # fmt: skip
    return ImageClassifierConfig(encoder, decoder, num_latents=8, num_latent_channels=32)


IMAGE_CONFIGS = {
    # the default cross-attention width (= the adapted input, 3 + 2 * 9 = 21 channels) takes the padded split path
    "fourier-default-widths": image_classifier(ImageEncoderConfig(
        image_shape=(12, 12, 3), num_frequency_bands=4, num_cross_attention_heads=1, num_self_attention_heads=2,
        num_self_attention_layers_per_block=2)),
    "learned-qk-v-two-cross-attentions": image_classifier(ImageEncoderConfig(
        image_shape=(10, 10, 1), input_adapter_type="learned", num_conv_channels=16, num_position_channels=16,
        num_cross_attention_heads=2, num_cross_attention_qk_channels=32, num_cross_attention_v_channels=16,
        num_self_attention_heads=2, num_self_attention_layers_per_block=1, num_self_attention_blocks=3,
        num_cross_attention_layers=2, first_self_attention_block_shared=False, self_attention_widening_factor=2),
        query_channels=24),
    "conv": image_classifier(ImageEncoderConfig(
        image_shape=(16, 16, 3), input_adapter_type="conv", num_conv_channels=8, num_frequency_bands=3,
        num_cross_attention_heads=1, num_self_attention_heads=2, num_self_attention_layers_per_block=1)),
}  # fmt: skip


@pytest.mark.parametrize("name", IMAGE_CONFIGS)
def test_image_classifier(name):
    config = IMAGE_CONFIGS[name]
    model = ImageClassifier(config)
    x = torch.randn(BATCH, *config.encoder.image_shape)
    counted = counted_training_flops(model, lambda: model(x))
    assert training_flops(config, BATCH) == pytest.approx(counted, rel=0.03)


def test_linear_in_the_batch():
    config = CLM_CONFIGS["defaults-small"]
    assert training_flops(config, 4) == 4 * training_flops(config, 1)


def test_close_to_the_reference_estimate_under_its_assumptions():
    """qk/v width = channels and widening 4 (the estimator's assumptions): the per-latent-token FLOPs differ only by
    the terms the estimator leaves out (the weighted sum of values) or adds (embeddings)."""
    estimator = ComputeEstimator(vocab_size=32000, max_seq_len=2048, num_latents=512)
    config = CausalLanguageModelConfig(vocab_size=32000, max_seq_len=2048, max_latents=512, num_channels=512,
                                       num_self_attention_layers=8)  # fmt: skip
    per_token = training_flops(config, batch_size=1) / 512
    reference = estimator.self_attn(512, 9) + estimator.cross_attn(512, prefix_dropout=0.5)
    assert reference < per_token < 1.08 * reference


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: training_flops(EncoderConfig(), 2), TypeError, "config must be one of .*, got EncoderConfig"),
        (lambda: training_flops(PerceiverIOConfig(EncoderConfig(), TextDecoderConfig(), 8, 8), 2), TypeError,
         r"got PerceiverIOConfig\[EncoderConfig, TextDecoderConfig\]"),
        (lambda: training_flops(CLM_CONFIGS["defaults-small"], 0), ValueError, "batch_size must be > 0, got 0"),
        (lambda: training_flops(CLM_CONFIGS["defaults-small"], 2, seq_len=512), ValueError,
         r"seq_len \(512\) must be <= max_seq_len \(256\)"),
        (lambda: training_flops(CLM_CONFIGS["defaults-small"], 2, seq_len=32), ValueError,
         r"num_latents \(64\) must be <= seq_len \(32\)"),
        (lambda: training_flops(CLM_CONFIGS["defaults-small"], 2, prefix_dropout=1.5), ValueError,
         r"prefix_dropout must be a number in \[0, 1\), got 1.5"),
        (lambda: training_flops(MLM_CONFIGS["tied-output"], 2, seq_len=1000), ValueError,
         r"seq_len \(1000\) must be <= encoder.max_seq_len \(128\)"),
        (lambda: training_flops(MLM_CONFIGS["tied-output"], 2, num_latents=4), ValueError,
         "num_latents applies to Perceiver AR configs only"),
        (lambda: training_flops(IMAGE_CONFIGS["conv"], 2, seq_len=10), ValueError,
         r"seq_len must be None for an image classifier"),
    ],
)  # fmt: skip
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
