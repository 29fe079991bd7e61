"""Lightning module of the masked language model (Perceiver IO). Batches are ``(labels, input_ids, pad_mask)`` with
labels -100 at unmasked positions."""

from typing import Any

import torch
import torch.nn.functional as F

from perceiver.model.core.config import PerceiverIOConfig
from perceiver.model.core.lightning import (  # noqa: F401 (is_checkpoint: a perceiver-io 0.11 name)
    IGNORE_INDEX,
    LitPerceiverIO,
    LossStepsMixin,
    is_checkpoint,
    log_text,
)
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.mlm.backend import MaskedLanguageModel, MaskedLanguageModelConfig, TextDecoderConfig  # noqa: F401
from perceiver.model.text.mlm.utils import MaskFiller  # noqa: F401 (perceiver-io 0.11 name)

torch.serialization.add_safe_globals([TextEncoderConfig, TextDecoderConfig])


class LitMaskedLanguageModel(LossStepsMixin, LitPerceiverIO):
    encoder_config_class = TextEncoderConfig
    decoder_config_class = TextDecoderConfig

    def __init__(
        self,
        encoder: TextEncoderConfig,
        decoder: TextDecoderConfig,
        *args: Any,
        num_predictions: int = 3,
        masked_samples: list[str] | None = None,
        **kwargs: Any,
    ):
        """
        :param num_predictions: number of fillings logged per masked sample.
        :param masked_samples: texts with ``<mask>`` placeholders, filled and logged at the end of each validation.
        :param params: initial weights: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder.
        """
        super().__init__(encoder, decoder, *args, **kwargs)
        self.model = MaskedLanguageModel(self.backend_config)
        self.filler = None
        if self.hparams.params is not None:
            self.load_backend_params(self.hparams.params)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x, pad_mask=pad_mask)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        labels, x, pad_mask = batch
        logits = self(x, pad_mask)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)

    def setup(self, stage: str | None = None) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if self.hparams.masked_samples and datamodule is not None and hasattr(datamodule, "text_preprocessor"):
            from perceiver.model.text.mlm.utils import MaskFiller

            self.filler = MaskFiller(datamodule.text_preprocessor())

    def on_validation_epoch_end(self) -> None:
        trainer = self._trainer
        if self.filler is None or trainer is None or trainer.sanity_checking or trainer.global_rank != 0:
            return
        masked, filled = self.filler.fill(
            self.model, self.hparams.masked_samples, self.hparams.num_predictions, device=self.device
        )
        lines = []
        for text, predictions in zip(masked, filled, strict=True):
            lines.append(f"{text}\n" + "\n".join(f"  {p}" for p in predictions))
        log_text(self, "filled masked samples", "\n\n".join(lines))


__all__ = ["LitMaskedLanguageModel", "PerceiverIOConfig"]
