"""A model folder that ``pipeline(task, model=folder)`` loads as it is: weights and config, the preprocessor that
makes the model's inputs (a tokenizer or an image processor), class names, and a model card (``README.md``).

The conversion functions (``convert_checkpoint`` of each task) and the training CLI's ready folder
(:mod:`perceiver.scripts.ready_folder`) write their folders with :func:`save_model_folder`.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MODEL_CARD = "README.md"


def class_labels(label_names: Sequence[str]) -> dict[int, str]:
    """``id2label`` of classes named ``label_names`` (class ``i`` is ``label_names[i]``)."""
    names = [str(name) for name in label_names]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"class names must be distinct, got {duplicates} more than once in {names}")
    return dict(enumerate(names))


def set_class_labels(config: Any, id2label: Mapping[int, str], label2id: Mapping[str, int] | None = None) -> None:
    """Set ``config.id2label`` / ``label2id`` (what pipelines name classes by), one name per class of the model."""
    id2label = {int(k): str(v) for k, v in id2label.items()}
    num_classes = (getattr(config, "model_config", None) or {}).get("decoder", {}).get("num_classes")
    if num_classes is not None and sorted(id2label) != list(range(num_classes)):
        raise ValueError(
            f"id2label has {len(id2label)} labels but the classifier has num_classes={num_classes}: give one label "
            f"for each class 0..{num_classes - 1}, got {id2label}"
        )
    config.id2label = id2label
    config.label2id = dict(label2id) if label2id is not None else {name: i for i, name in id2label.items()}


def save_model_folder(
    save_dir: str | os.PathLike,
    model: Any,
    preprocessor: Any = None,
    id2label: Mapping[int, str] | None = None,
    label2id: Mapping[str, int] | None = None,
    model_card: str | None = None,
    **save_kwargs: Any,
) -> Path:
    """Save ``model`` with its ``preprocessor`` (``save_pretrained`` of both), class labels and a model card to
    ``save_dir``; ``save_kwargs`` go to ``save_pretrained`` (e.g. ``push_to_hub=True``)."""
    if id2label is not None:
        set_class_labels(model.config, id2label, label2id)
    save_dir = Path(save_dir)
    model.save_pretrained(save_dir, **save_kwargs)
    if preprocessor is not None:
        preprocessor.save_pretrained(save_dir, **save_kwargs)
    if model_card is not None:
        from perceiver.model.core.checkpoint import atomic_write

        atomic_write(save_dir / MODEL_CARD, lambda f: f.write(model_card.encode("utf-8")))
    return save_dir


__all__ = ["MODEL_CARD", "class_labels", "save_model_folder", "set_class_labels"]
