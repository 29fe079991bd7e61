"""Lightning module of the text classifier (Perceiver IO). Batches are ``(labels, input_ids, pad_mask)``."""

from typing import Any

import torch

from perceiver.model.core.checkpoint import (
    backend_state_dict,
    read_lightning_checkpoint,
    read_pretrained_backend_state_dict,
)
from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.lightning import LitClassifier, is_checkpoint
from perceiver.model.core.utils import freeze
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig  # noqa: F401 (0.11 name)
from perceiver.model.text.common.backend import TextEncoderConfig

torch.serialization.add_safe_globals([TextEncoderConfig, ClassificationDecoderConfig])


def load_encoder_state_dict(params: str) -> dict[str, torch.Tensor]:
    """Encoder weights of a masked language model (a Perceiver IO whose encoder is a text encoder, like this
    classifier's): a Lightning checkpoint (``.ckpt``) or a Hugging Face model folder or hub id."""
    if is_checkpoint(params):
        state_dict = backend_state_dict(read_lightning_checkpoint(params), params)
    else:
        state_dict = read_pretrained_backend_state_dict(params)
    # a Perceiver IO model is Sequential(encoder, decoder): the encoder's weights are those under "0."
    encoder = {k[2:]: v for k, v in state_dict.items() if k.startswith("0.")}
    if not encoder:
        raise ValueError(f"encoder.params={params!r} holds no Perceiver IO encoder weights (keys starting with '0.')")
    return encoder


class LitTextClassifier(LitClassifier):
    encoder_config_class = TextEncoderConfig
    decoder_config_class = ClassificationDecoderConfig

    def __init__(self, encoder: TextEncoderConfig, decoder: ClassificationDecoderConfig, *args: Any, **kwargs: Any):
        """
        :param encoder: text encoder config; ``encoder.params`` loads the encoder of a masked language model
            (``.ckpt`` or Hugging Face id/folder), ``encoder.freeze`` trains only the decoder.
        :param decoder: classification decoder config (``num_classes``).
        :param params: initial weights of the whole classifier: a Lightning checkpoint (``.ckpt``) or a Hugging Face
            model id or folder.
        """
        super().__init__(encoder, decoder, *args, **kwargs)
        self.model = TextClassifier(self.backend_config)
        if self.encoder_config.params is not None and not LitTextClassifier._restoring:
            self.model.encoder.load_state_dict(load_encoder_state_dict(self.encoder_config.params))
        if self.hparams.params is not None:
            self.load_backend_params(self.hparams.params)
        if self.encoder_config.freeze:
            freeze(self.model.encoder)

    _restoring = False

    @classmethod
    def load_from_checkpoint(cls, *args: Any, **kwargs: Any):
        # The checkpoint holds all weights: do not load the encoder from encoder.params (maybe gone) again.
        LitTextClassifier._restoring = True
        try:
            return super().load_from_checkpoint(*args, **kwargs)
        finally:
            LitTextClassifier._restoring = False

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x, pad_mask=pad_mask)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        labels, x, pad_mask = batch
        return self(x, pad_mask), labels
