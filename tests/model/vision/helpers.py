"""Small random ``transformers`` Perceiver source models for the conversion tests."""

import torch
import transformers

SOURCE_CLASSES = {
    "fourier": transformers.PerceiverForImageClassificationFourier,
    "learned": transformers.PerceiverForImageClassificationLearned,
    "conv": transformers.PerceiverForImageClassificationConvProcessing,
}

# The Fourier and conv classifiers of transformers fix their Fourier features to 224x224 inputs (64 bands); the
# small sources get their position encoding rebuilt for smaller images (the official size runs in a slow test).
SOURCE_IMAGE_SIZES = {"fourier": 16, "learned": 12, "conv": 32}


def perceiver_config(**kwargs) -> transformers.PerceiverConfig:
    defaults = dict(
        num_latents=6,
        d_latents=16,
        num_blocks=2,
        num_self_attends_per_block=2,
        num_self_attention_heads=4,
        num_cross_attention_heads=1,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.2,
    )
    return transformers.PerceiverConfig(**(defaults | kwargs))


def randomize_batch_norm(module: torch.nn.Module) -> None:
    """Non-trivial batch-norm statistics and affine parameters, so that copying them is tested."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()


def image_classifier_source(kind: str, num_labels: int = 5, official_size: bool = False) -> torch.nn.Module:
    config = perceiver_config(image_size=SOURCE_IMAGE_SIZES[kind], num_labels=num_labels)
    model = SOURCE_CLASSES[kind](config).eval()
    randomize_batch_norm(model)
    if not official_size and kind in ("fourier", "conv"):
        position_encoding = model.perceiver.input_preprocessor.position_embeddings
        size = SOURCE_IMAGE_SIZES[kind] // (4 if kind == "conv" else 1)
        # transformers builds its Fourier features in every forward pass from these two attributes; the number
        # of channels (and so every weight shape) does not depend on them
        position_encoding.max_resolution = (size, size)
        position_encoding.num_bands = 64
    return model
