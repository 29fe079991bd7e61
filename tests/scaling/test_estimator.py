"""``ComputeEstimator`` and ``ModelInfo`` against the reference's formulas and the numbers its scaling article
published (experiment 1: SentencePiece vocabulary of 32,000, sequences of 2048 tokens, 512 latents, batch 80)."""

import pytest
import torch

from perceiver.model.core.config import CausalSequenceModelConfig
from perceiver.model.core.perceiver_ar import CausalSequenceModel
from perceiver.scaling import ComputeEstimator, ModelInfo, num_training_steps, perceiver_ar_num_params


def reference_self_attn(vocab_size: int, num_latents: int, d: int, num_layers: int) -> int:
    """Kaplan et al. Table 1 per token (qkv 6d^2, scores 2 d n, output 2 d^2, MLP 16 d^2 per layer) plus the
    embedding (4d) and the logits (2 d V), times 3."""
    per_layer = 6 * d * d + 2 * d * num_latents + 2 * d * d + 16 * d * d
    return 3 * (4 * d + num_layers * per_layer + 2 * d * vocab_size)


def reference_cross_attn(max_seq_len: int, num_latents: int, d: int, prefix_dropout: float) -> int:
    """Per latent token: prefix embedding (4d per prefix token) and prefix key/value projections and scores
    (4 d^2 + 2 d n per kept prefix token), as a fraction of the latents."""
    ratio = (max_seq_len - num_latents) / num_latents
    forward = 4 * d * ratio + (4 * d * d + 2 * d * num_latents) * ratio * (1 - prefix_dropout)
    return 3 * int(forward)


@pytest.mark.parametrize(
    "vocab_size, max_seq_len, num_latents, d, num_layers, prefix_dropout",
    [(32000, 2048, 512, 512, 9, 0.5), (262, 4096, 512, 584, 10, 0.5), (262, 1024, 256, 96, 3, 0.0),
     (50, 64, 64, 8, 2, 0.3)],
)  # fmt: skip
def test_estimator_restates_the_reference_formulas(vocab_size, max_seq_len, num_latents, d, num_layers, prefix_dropout):
    estimator = ComputeEstimator(vocab_size, max_seq_len, num_latents)
    assert estimator.num_prefix == max_seq_len - num_latents
    assert estimator.self_attn(d, num_layers) == reference_self_attn(vocab_size, num_latents, d, num_layers)
    assert estimator.cross_attn(d, prefix_dropout) == reference_cross_attn(max_seq_len, num_latents, d, prefix_dropout)


def test_published_numbers_of_the_reference_article():
    estimator = ComputeEstimator(vocab_size=32000, max_seq_len=2048, num_latents=512)
    c_self, c_cross = estimator.self_attn(512, 9), estimator.cross_attn(512, prefix_dropout=0.5)
    assert f"{c_self:.2e} {c_cross:.2e} {c_cross / (c_cross + c_self):.4f}" == "2.82e+08 7.10e+06 0.0245"

    reference = ModelInfo(512, 9, estimator)
    c_ref, d_ref = reference.compute_budget(num_steps=50000, batch_size=80)
    assert f"{c_ref:.2e} {d_ref:.2e}" == "5.78e+17 2.05e+09"
    assert f"{c_self / reference.self_attn_flops_approx():.2f}" == "1.05"

    # Table 1 of the article: num_steps, D_iso, N, N_cross, N_self, C, C_cross, C_self, C_self (6 N approximation)
    table = {
        (512, 9): "50000 2.05e+09 4.58e+07 7.86e+05 4.50e+07 5.93e+17 1.45e+16 5.78e+17 5.53e+17",
        (624, 11): "31421 1.29e+09 7.27e+07 9.58e+05 7.17e+07 5.91e+17 1.27e+16 5.78e+17 5.54e+17",
        (728, 13): "21231 8.70e+08 1.08e+08 1.12e+06 1.06e+08 5.89e+17 1.12e+16 5.78e+17 5.55e+17",
    }
    for (channels, layers), expected in table.items():
        model = ModelInfo(channels, layers, estimator)
        d_iso = model.num_tokens(c_ref)
        c_cross = model.cross_attn_flops() * d_iso
        values = [model.self_attn_flops() * d_iso + c_cross, c_cross, model.self_attn_flops() * d_iso]
        row = [model.num_params(), model.num_cross_attn_params(), model.num_self_attn_params()]
        row = [d_iso] + row + values + [model.self_attn_flops_approx() * d_iso]
        assert " ".join([str(model.num_steps(c_ref, batch_size=80))] + [f"{v:.2e}" for v in row]) == expected
        assert model.num_steps(c_ref, 80) == num_training_steps(d_iso, 512, 80)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(num_self_attention_layers=1, cross_attention_widening_factor=2, self_attention_widening_factor=3),
        dict(output_norm=True, output_bias=False, abs_pos_emb=False, num_heads=2),
    ],
)
def test_parameter_count_equals_the_built_model(overrides):
    sizes = dict(vocab_size=300, max_seq_len=96, max_latents=32, num_channels=32, num_heads=4)
    config = CausalSequenceModelConfig(**sizes | overrides)
    model = CausalSequenceModel(config)
    assert perceiver_ar_num_params(config) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_model_info_counts_the_default_language_model():
    from perceiver.model.text.clm.backend import CausalLanguageModel, CausalLanguageModelConfig

    estimator = ComputeEstimator(vocab_size=262, max_seq_len=128, num_latents=32)
    info = ModelInfo(num_channels=64, num_layers=3, compute_estimator=estimator)
    config = CausalLanguageModelConfig(vocab_size=262, max_seq_len=128, max_latents=32, num_channels=64,
                                       num_self_attention_layers=2)  # fmt: skip
    with torch.device("meta"):
        built = sum(p.numel() for p in CausalLanguageModel(config).parameters())
    assert info.num_params() == built
    assert info.num_self_attn_params() == built - 64 * 96
    assert (info.num_latents, info.num_prefix, info.vocab_size, info.max_seq_len) == (32, 96, 262, 128)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: ComputeEstimator(262, 128, 256), ValueError, r"num_latents \(256\) must be <= max_seq_len \(128\)"),
        (lambda: ComputeEstimator(0, 128, 64), ValueError, "vocab_size must be > 0, got 0"),
        (lambda: ComputeEstimator(262, 128.0, 64), TypeError, r"max_seq_len must be an int, got float \(128.0\)"),
        (lambda: ComputeEstimator(262, 128, 64).cross_attn(64, 1.0), ValueError, r"prefix_dropout must be .* \[0, 1\)"),
        (lambda: ComputeEstimator(262, 128, 64).self_attn(64, 0), ValueError, "num_layers must be > 0, got 0"),
        (lambda: ModelInfo(64, 3, None), TypeError, "compute_estimator must be a ComputeEstimator, got NoneType"),
        (lambda: ModelInfo(64, 1, ComputeEstimator(262, 128, 64)).num_params(), ValueError, "num_layers must be >= 2"),
        (lambda: ModelInfo(64, 3, ComputeEstimator(262, 128, 64)).num_tokens(0), ValueError, "flops must be > 0"),
        (lambda: ModelInfo(64, 3, ComputeEstimator(262, 128, 64)).num_steps(1e12, 0), ValueError, "batch_size"),
    ],
)
def test_bad_inputs(make, error, match):
    with pytest.raises(error, match=match):
        make()
