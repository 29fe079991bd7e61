"""The Perceiver IO wrapper bases of model/core/hf_io.py: backend config classes, forward's result."""

import pytest
import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig
from perceiver.model.core.hf_io import PerceiverIOBackendConfig
from perceiver.model.text.classifier import PerceiverTextClassifier, PerceiverTextClassifierConfig, TextClassifierConfig
from perceiver.model.text.common import TextEncoderConfig


def small_classifier() -> PerceiverTextClassifier:
    encoder = TextEncoderConfig(
        vocab_size=20, max_seq_len=8, num_input_channels=8, num_cross_attention_heads=1,
        num_self_attention_heads=1, num_self_attention_layers_per_block=1,
    )  # fmt: skip
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=8, num_cross_attention_heads=1)
    config = TextClassifierConfig(encoder, decoder, num_latents=2, num_latent_channels=8)
    return PerceiverTextClassifier(PerceiverTextClassifierConfig(config, id2label={0: "a", 1: "b", 2: "c"})).eval()


def test_encoder_and_decoder_classes_come_from_the_backend_config_class():
    assert PerceiverTextClassifierConfig.encoder_decoder_classes() == (TextEncoderConfig, ClassificationDecoderConfig)
    config = PerceiverTextClassifierConfig(small_classifier().backend_model.config)
    assert type(config.backend_config.encoder) is TextEncoderConfig


def test_a_backend_config_class_without_its_encoder_and_decoder_classes_is_refused():
    class Unnamed(PerceiverIOBackendConfig):
        model_type = "perceiver-io-test-unnamed"
        backend_config_class = PerceiverIOConfig

    with pytest.raises(TypeError, match=r"Unnamed.backend_config_class must be PerceiverIOConfig\[Encoder"):
        Unnamed.encoder_decoder_classes()


def test_forward_returns_an_output_or_a_tuple():
    model = small_classifier()
    x, labels = torch.randint(0, 20, (2, 5)), torch.tensor([0, 2])
    output = model(x, labels=labels)
    assert isinstance(output, SequenceClassifierOutput) and output.loss.dim() == 0
    loss, logits = model(x, labels=labels, return_dict=False)
    assert torch.equal(loss, output.loss) and torch.equal(logits, output.logits)
    (logits,) = model(x, return_dict=False)
    assert torch.equal(logits, output.logits)
    model.config.return_dict = False
    assert isinstance(model(x), tuple) and isinstance(model(x, return_dict=True), SequenceClassifierOutput)
