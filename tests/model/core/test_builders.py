"""The encoder and decoder builders of model/core/builders.py against the modules assembled by hand."""

import torch

from perceiver.model.core import (
    ClassificationOutputAdapter,
    EncoderConfig,
    InputAdapter,
    PerceiverDecoder,
    PerceiverEncoder,
    TrainableQueryProvider,
)
from perceiver.model.core.builders import classification_decoder, perceiver_io_encoder
from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig


class FeatureInput(InputAdapter):
    def forward(self, x):
        return x


def config(**encoder_kwargs) -> PerceiverIOConfig:
    encoder = EncoderConfig(num_cross_attention_heads=1, num_self_attention_heads=2, **encoder_kwargs)
    decoder = ClassificationDecoderConfig(num_classes=3, num_output_query_channels=8, num_cross_attention_heads=1)
    return PerceiverIOConfig(encoder, decoder, num_latents=4, num_latent_channels=16, activation_checkpointing=True)


def qk_channels(encoder: PerceiverEncoder) -> int:
    return encoder.cross_attn_1.attention_module.attention.q_proj.out_features


def test_encoder_qk_channels_default_to_the_input_width_only_when_asked():
    assert qk_channels(perceiver_io_encoder(config(), FeatureInput(6))) == 16  # the latent width
    assert qk_channels(perceiver_io_encoder(config(), FeatureInput(6), qk_channels_of_input=True)) == 6
    explicit = config(num_cross_attention_qk_channels=4)
    assert qk_channels(perceiver_io_encoder(explicit, FeatureInput(6), qk_channels_of_input=True)) == 4


def test_encoder_equals_the_hand_built_one():
    cfg = config(num_self_attention_layers_per_block=2)
    torch.manual_seed(0)
    built = perceiver_io_encoder(cfg, FeatureInput(6))
    torch.manual_seed(0)
    by_hand = PerceiverEncoder(
        FeatureInput(6), num_latents=4, num_latent_channels=16, activation_checkpointing=True,
        **cfg.encoder.base_kwargs(),
    )  # fmt: skip
    assert built.cross_attn_1.activation_checkpointing and built.self_attn_1[0].activation_checkpointing
    assert built.state_dict().keys() == by_hand.state_dict().keys()
    assert all(torch.equal(v, by_hand.state_dict()[k]) for k, v in built.state_dict().items())


def test_classification_decoder_equals_the_hand_built_one():
    cfg = config()
    torch.manual_seed(0)
    built = classification_decoder(cfg)
    torch.manual_seed(0)
    by_hand = PerceiverDecoder(
        output_query_provider=TrainableQueryProvider(1, 8, init_scale=0.02),
        output_adapter=ClassificationOutputAdapter(3, 8),
        num_latent_channels=16,
        activation_checkpointing=True,
        **cfg.decoder.base_kwargs(),
    )
    assert built.state_dict().keys() == by_hand.state_dict().keys()
    assert all(torch.equal(v, by_hand.state_dict()[k]) for k, v in built.state_dict().items())
    assert built.cross_attn.activation_checkpointing
    assert built(torch.randn(2, 4, 16)).shape == (2, 3)
