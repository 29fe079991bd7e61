"""Hugging Face wrapper of the text classifier: config, model with loss, Auto-class registration (so
``pipeline("text-classification")`` works) and conversion of Lightning checkpoints."""

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedTokenizerBase
from transformers.modeling_outputs import SequenceClassifierOutput

from perceiver.model.core.config import ClassificationDecoderConfig
from perceiver.model.core.hf_io import PerceiverIOBackendConfig
from perceiver.model.core.pipelines import serve_empty_batches
from perceiver.model.core.utils import check_labels, lazy_exports
from perceiver.model.text.classifier.backend import TextClassifier, TextClassifierConfig
from perceiver.model.text.common.backend import TextEncoderConfig
from perceiver.model.text.common.huggingface import PerceiverTextModel, convert_text_checkpoint, register_text_tokenizer


class MissingLabels(dict):
    """The ``id2label`` of a classifier saved without labels: empty, and a lookup says how to add them (instead of
    a bare ``KeyError`` deep inside a pipeline)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes

    def __missing__(self, key: Any) -> str:
        raise ValueError(
            f"this text classifier has no class labels (config.id2label is missing or does not cover its "
            f"{self.num_classes} classes), so class {key} has no name: set config.id2label and config.label2id, e.g. "
            f"convert_checkpoint(..., id2label={{0: 'NEGATIVE', 1: 'POSITIVE'}}), or save_pretrained after "
            "model.config.id2label = {...}"
        )

    def __reduce__(self) -> Any:
        # Copies of the config (transformers deep-copies it) keep the explanation.
        return MissingLabels, (self.num_classes,)


class PerceiverTextClassifierConfig(PerceiverIOBackendConfig):
    model_type = "perceiver-io-text-classifier"
    backend_config_class = TextClassifierConfig

    def __init__(self, backend_config: TextClassifierConfig | None = None, **kwargs: Any):
        id2label_given = bool(kwargs.get("id2label"))
        super().__init__(backend_config, **kwargs)
        num_classes = self.model_config["decoder"]["num_classes"]
        if len(self.id2label or {}) != num_classes:
            if id2label_given:
                raise ValueError(
                    f"id2label has {len(self.id2label)} labels {self.id2label} but the classifier has "
                    f"num_classes={num_classes}: give one label per class"
                )
            # No labels saved (or transformers' 2-label default for another class count): no names, clear errors.
            self.id2label = MissingLabels(num_classes)
            self.label2id = {}

    @classmethod
    def default_backend_config(cls) -> TextClassifierConfig:
        return TextClassifierConfig(
            TextEncoderConfig(), ClassificationDecoderConfig(), num_latents=512, num_latent_channels=512
        )


class PerceiverTextClassifier(PerceiverTextModel):
    config_class = PerceiverTextClassifierConfig
    backend_model_class = TextClassifier

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput | tuple:
        """
        :param input_ids: ``(b, n)`` token ids.
        :param attention_mask: ``(b, n)``, 1 = token, 0 = padding.
        :param labels: ``(b,)`` class indices (``-100`` ignored); the loss is the cross-entropy.
        """
        logits = self._text_logits(input_ids, attention_mask, kwargs)
        loss = None
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (input_ids.shape[0],):
                shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
                raise ValueError(f"labels must have shape (batch_size,) = ({input_ids.shape[0]},), got {shape}")
            check_labels(labels, logits.shape[-1], (input_ids.shape[0],))
            loss = F.cross_entropy(logits, labels.to(logits.device), ignore_index=-100)
        return self._output(SequenceClassifierOutput, logits, loss, return_dict)


AutoConfig.register(PerceiverTextClassifierConfig.model_type, PerceiverTextClassifierConfig, exist_ok=True)
AutoModelForSequenceClassification.register(PerceiverTextClassifierConfig, PerceiverTextClassifier, exist_ok=True)
register_text_tokenizer(PerceiverTextClassifierConfig)
serve_empty_batches("text-classification")


# --------------------------------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------------------------------


def convert_checkpoint(
    save_dir: str | Path,
    ckpt_url: str | Path,
    tokenizer_name: str | PreTrainedTokenizerBase,
    id2label: dict[int, str] | None = None,
    label2id: dict[str, int] | None = None,
    **kwargs: Any,
) -> PerceiverTextClassifier:
    """Convert a Lightning checkpoint of the text classifier into a ``PerceiverTextClassifier`` folder with the
    tokenizer ``tokenizer_name`` (a name, a folder or a tokenizer; saved with the model's ``max_seq_len`` and the
    special tokens of the checkpoint's training data) and optional class labels."""
    return convert_text_checkpoint(
        PerceiverTextClassifier,
        "clf",
        save_dir,
        ckpt_url,
        tokenizer_name,
        id2label=id2label,
        label2id=label2id,
        **kwargs,
    )


def convert_imdb_classifier_checkpoint(
    save_dir: str | Path, ckpt_url: str | Path, tokenizer_name: str | PreTrainedTokenizerBase, **kwargs: Any
) -> PerceiverTextClassifier:
    """``convert_checkpoint`` with the IMDb sentiment labels."""
    return convert_checkpoint(
        save_dir,
        ckpt_url,
        tokenizer_name,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
        **kwargs,
    )


# perceiver-io 0.11 made its Lightning module importable from here (imported on access: Lightning is slow to import)
__getattr__ = lazy_exports(__name__, {"LitTextClassifier": "perceiver.model.text.classifier.lightning"})
