"""Text classifier (Perceiver IO): text encoder, then learned output queries decoded to class logits."""

import torch

from perceiver.model.core.adapter import ClassificationOutputAdapter, TrainableQueryProvider
from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverIO
from perceiver.model.text.common.backend import TextEncoder, TextEncoderConfig, check_text_input

TextClassifierConfig = PerceiverIOConfig[TextEncoderConfig, ClassificationDecoderConfig]


class TextClassifier(PerceiverIO):
    def __init__(self, config: TextClassifierConfig):
        """With ``encoder.freeze=True`` only the decoder trains (classifier on a pretrained, frozen encoder)."""
        encoder = TextEncoder(
            config.encoder,
            num_latents=config.num_latents,
            num_latent_channels=config.num_latent_channels,
            activation_checkpointing=config.activation_checkpointing,
            activation_offloading=config.activation_offloading,
        )
        output_query_provider = TrainableQueryProvider(
            num_queries=config.decoder.num_output_queries,
            num_query_channels=config.decoder.num_output_query_channels,
            init_scale=config.decoder.init_scale,
        )
        output_adapter = ClassificationOutputAdapter(
            num_classes=config.decoder.num_classes,
            num_output_query_channels=config.decoder.num_output_query_channels,
        )
        decoder = PerceiverDecoder(
            output_adapter=output_adapter,
            output_query_provider=output_query_provider,
            num_latent_channels=config.num_latent_channels,
            activation_checkpointing=config.activation_checkpointing,
            activation_offloading=config.activation_offloading,
            **config.decoder.base_kwargs(),
        )
        super().__init__(encoder, decoder)
        self.config = config

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        """
        :param x: token ids ``(b, n)``.
        :param pad_mask: ``(b, n)`` bool, ``True`` = padding.
        :return: logits ``(b, num_classes)`` (``(b, num_output_queries, num_classes)`` with several queries).
        """
        check_text_input(x, pad_mask, self.config.encoder.vocab_size, self.config.encoder.max_seq_len, name="x")
        x_latent = self.encoder(x, pad_mask=pad_mask)
        return self.decoder(x_latent)
