"""Lightning module of the Perceiver IO image classifier. Batches are dicts ``{"image": (b, h, w, c), "label": (b,)}``
(channels last)."""

from typing import Any

import torch

from perceiver.model.core.config import ClassificationDecoderConfig, PerceiverIOConfig
from perceiver.model.core.lightning import LitClassifier, is_checkpoint  # noqa: F401 (perceiver-io 0.11 name)
from perceiver.model.vision.image_classifier.backend import (  # noqa: F401 (the config: a perceiver-io 0.11 name)
    ImageClassifier,
    ImageClassifierConfig,
    ImageEncoderConfig,
)


class LitImageClassifier(LitClassifier):
    encoder_config_class = ImageEncoderConfig
    decoder_config_class = ClassificationDecoderConfig

    def __init__(self, encoder: ImageEncoderConfig, decoder: ClassificationDecoderConfig, *args: Any, **kwargs: Any):
        """
        :param encoder: image encoder config (``image_shape`` channels last, ``num_frequency_bands``, attention).
        :param decoder: classification decoder config (``num_classes``, ``num_output_query_channels``).
        :param params: initial weights: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder.
        """
        super().__init__(encoder, decoder, *args, **kwargs)
        self.model = ImageClassifier(self.backend_config)
        if self.hparams.params is not None:
            self.load_backend_params(self.hparams.params)

    @property
    def backend_config(self) -> PerceiverIOConfig:
        config = super().backend_config
        config.encoder.image_shape = tuple(config.encoder.image_shape)
        return config

    def forward(self, x: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        return self.model(x, interpolate_pos_encoding=interpolate_pos_encoding)

    def step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self(batch["image"]), batch["label"]
