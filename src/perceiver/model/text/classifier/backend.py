"""Text classifier (Perceiver IO): text encoder, then learned output queries decoded to class logits."""

import torch

from perceiver.model.core.adapter import ClassificationOutputAdapter, TrainableQueryProvider  # noqa: F401 (0.11 names)
from perceiver.model.core.builders import classification_decoder
from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverIO  # noqa: F401 (PerceiverDecoder: 0.11 name)
from perceiver.model.text.common.backend import (  # noqa: F401 (TextEncoder: a perceiver-io 0.11 name)
    TextEncoder,
    TextEncoderConfig,
    check_text_input,
    text_encoder,
)

TextClassifierConfig = PerceiverIOConfig[TextEncoderConfig, ClassificationDecoderConfig]


class TextClassifier(PerceiverIO):
    def __init__(self, config: TextClassifierConfig):
        """With ``encoder.freeze=True`` only the decoder trains (classifier on a pretrained, frozen encoder)."""
        super().__init__(text_encoder(config), classification_decoder(config))
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
