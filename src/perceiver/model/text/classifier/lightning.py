"""Lightning module of the text classifier (Perceiver IO). Batches are ``(labels, input_ids, pad_mask)``."""

from typing import Any

import torch

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.lightning import LitClassifier, is_checkpoint
from perceiver.model.core.utils import freeze
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig  # noqa: F401 (0.11 name)
from perceiver.model.text.common.backend import TextEncoderConfig

torch.serialization.add_safe_globals([TextEncoderConfig, ClassificationDecoderConfig])


def load_encoder_state_dict(params: str) -> dict[str, torch.Tensor]:
    """Encoder weights of a masked language model: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or
    folder."""
    from perceiver.model.text.mlm.backend import MaskedLanguageModel, TextDecoderConfig

    if is_checkpoint(params):
        from perceiver.model.text.common.checkpoint import load_perceiver_io_checkpoint

        config, state_dict = load_perceiver_io_checkpoint(params, TextEncoderConfig, TextDecoderConfig)
        mlm = MaskedLanguageModel(config)
        mlm.load_state_dict(state_dict)
    else:
        from perceiver.model.text.mlm.huggingface import PerceiverMaskedLanguageModel

        mlm = PerceiverMaskedLanguageModel.from_pretrained(params).backend_model
    return mlm.encoder.state_dict()


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
            from perceiver.model.text.classifier.huggingface import PerceiverTextClassifier

            self.load_backend_params(self.hparams.params, PerceiverTextClassifier.from_pretrained)
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

    def to_hgf_model(self) -> Any:
        """A ``PerceiverTextClassifier`` with this module's weights (``save_pretrained``, ``text-classification``)."""
        import dataclasses

        from perceiver.model.text.classifier.huggingface import PerceiverTextClassifier, PerceiverTextClassifierConfig

        config = PerceiverTextClassifierConfig(model_config=dataclasses.asdict(self.backend_config))
        model = PerceiverTextClassifier(config)
        model.backend_model.load_state_dict(self.model.state_dict())
        return model
