"""Tiny instances of every public model, shared by the hardening tests (random weights, a few thousand params)."""

import functools

import torch

from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig

VOCAB = 262
SEQ = 16


@functools.cache
def mlm():
    from perceiver.model.text.mlm import (
        MaskedLanguageModelConfig,
        PerceiverMaskedLanguageModel,
        PerceiverMaskedLanguageModelConfig,
        TextDecoderConfig,
        TextEncoderConfig,
    )

    encoder = TextEncoderConfig(
        vocab_size=VOCAB,
        max_seq_len=SEQ,
        num_input_channels=16,
        num_cross_attention_heads=2,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )
    decoder = TextDecoderConfig(vocab_size=VOCAB, max_seq_len=SEQ, num_cross_attention_heads=2)
    config = MaskedLanguageModelConfig(encoder, decoder, num_latents=4, num_latent_channels=16)
    return PerceiverMaskedLanguageModel(PerceiverMaskedLanguageModelConfig(config)).eval()


@functools.cache
def text_classifier():
    from perceiver.model.text.classifier import (
        PerceiverTextClassifier,
        PerceiverTextClassifierConfig,
        TextClassifierConfig,
        TextEncoderConfig,
    )

    encoder = TextEncoderConfig(
        vocab_size=VOCAB,
        max_seq_len=SEQ,
        num_input_channels=16,
        num_cross_attention_heads=2,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=16, num_cross_attention_heads=2)
    config = TextClassifierConfig(encoder, decoder, num_latents=4, num_latent_channels=16)
    return PerceiverTextClassifier(PerceiverTextClassifierConfig(config)).eval()


@functools.cache
def clm():
    from perceiver.model.text.clm import (
        CausalLanguageModelConfig,
        PerceiverCausalLanguageModel,
        PerceiverCausalLanguageModelConfig,
    )

    config = CausalLanguageModelConfig(
        vocab_size=VOCAB,
        max_seq_len=SEQ,
        max_latents=4,
        num_channels=16,
        num_heads=2,
        num_self_attention_layers=1,
        init_scale=0.1,
    )
    return PerceiverCausalLanguageModel(PerceiverCausalLanguageModelConfig(config)).eval()


@functools.cache
def audio():
    from perceiver.model.audio.symbolic import (
        PerceiverSymbolicAudioModel,
        PerceiverSymbolicAudioModelConfig,
        SymbolicAudioModelConfig,
    )

    config = SymbolicAudioModelConfig(
        max_seq_len=SEQ, max_latents=4, num_channels=16, num_heads=2, num_self_attention_layers=1
    )
    return PerceiverSymbolicAudioModel(PerceiverSymbolicAudioModelConfig(config)).eval()


IMAGE_SHAPE = (8, 8, 3)


@functools.cache
def image_classifier():
    from perceiver.model.vision.image_classifier import (
        ImageClassifierConfig,
        ImageEncoderConfig,
        PerceiverImageClassifier,
        PerceiverImageClassifierConfig,
    )

    encoder = ImageEncoderConfig(
        image_shape=IMAGE_SHAPE,
        num_frequency_bands=4,
        num_cross_attention_heads=1,
        num_self_attention_heads=2,
        num_self_attention_layers_per_block=1,
    )
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=16, num_cross_attention_heads=1)
    config = ImageClassifierConfig(encoder, decoder, num_latents=4, num_latent_channels=16)
    return PerceiverImageClassifier(PerceiverImageClassifierConfig(config)).eval()


FLOW_SHAPE = (8, 12)


@functools.cache
def optical_flow():
    from perceiver.model.vision.optical_flow import (
        OpticalFlowDecoderConfig,
        OpticalFlowEncoderConfig,
        OpticalFlowPerceiver,
        OpticalFlowPerceiverConfig,
    )

    encoder = OpticalFlowEncoderConfig(
        image_shape=FLOW_SHAPE, num_patch_hidden_channels=6, num_frequency_bands=2, num_cross_attention_heads=1
    )
    decoder = OpticalFlowDecoderConfig(image_shape=FLOW_SHAPE, num_cross_attention_heads=1)
    config = PerceiverIOConfig(encoder, decoder, num_latents=4, num_latent_channels=8)
    return OpticalFlowPerceiver(OpticalFlowPerceiverConfig(config)).eval()


def ids(batch: int = 2, length: int = 8, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length))
