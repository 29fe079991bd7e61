"""The ready model folder of a training run: what ``pipeline(task, model=folder)`` needs, written from the trained
Lightning module and its data module.

The folder holds the weights and config, the preprocessor with the settings of training (the data module's
``serving_tokenizer()`` or ``image_processor()``: special tokens, ``max_seq_len``, image size and normalisation),
the class names of the data (``id2label``/``label2id``), ``generate`` settings (pad and end tokens) for the
causal models, and a model card (``README.md``) with the config, the data, the steps and the metrics.

- The training CLIs write it at the end of ``fit`` to ``<log dir>/hf`` (``--ready_folder=DIR`` elsewhere,
  ``--ready_folder=false`` not at all), and from a checkpoint with
  ``validate --config <run>/config.yaml --ckpt_path CKPT --ready_folder DIR`` (the metrics are then those of that
  validation).
- In Python, ``Trainer(callbacks=[ReadyFolder("my-model")])`` does the same, or :func:`write_ready_folder`.
"""

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from perceiver.model.core.folder import class_labels, save_model_folder
from perceiver.model.core.lightning import trained_steps

DEFAULT_SUBFOLDER = "hf"

# model_type -> (pipeline task, module whose import registers the model classes)
PIPELINES = {
    "perceiver-io-masked-language-model": ("fill-mask", "perceiver.model.text.mlm"),
    "perceiver-io-text-classifier": ("text-classification", "perceiver.model.text.classifier"),
    "perceiver-ar-causal-language-model": ("text-generation", "perceiver.model.text.clm"),
    "perceiver-ar-symbolic-audio-model": ("symbolic-audio-generation", "perceiver.model.audio.symbolic"),
    "perceiver-io-image-classifier": ("image-classification", "perceiver.model.vision.image_classifier"),
}


def data_preprocessor(datamodule: Any) -> Any:
    """The tokenizer or image processor that makes a model's inputs as ``datamodule`` made them for training, or
    ``None`` where the pipeline needs none (symbolic audio: MIDI is encoded in code)."""
    for name in ("serving_tokenizer", "image_processor"):
        if hasattr(datamodule, name):
            return getattr(datamodule, name)()
    return None


@dataclasses.dataclass
class RunSummary:
    """What the model card reports about the run: the step and epoch of the weights, metrics and the step they
    were measured at, and the optimizer."""

    step: int = 0
    epoch: int | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    metrics_step: int | None = None
    optimizer: str | None = None


def write_ready_folder(
    save_dir: str | os.PathLike, pl_module: pl.LightningModule, datamodule: Any, summary: RunSummary | None = None
) -> Path:
    """Write the ready folder of ``pl_module`` (a ``Lit*`` task module) trained on ``datamodule`` to ``save_dir``."""
    if not hasattr(pl_module, "to_hgf_model"):
        raise TypeError(f"{type(pl_module).__name__} has no to_hgf_model(): no Hugging Face model to save")
    summary = summary or RunSummary(step=trained_steps(pl_module)[0])
    model = pl_module.to_hgf_model()
    preprocessor = data_preprocessor(datamodule)
    label_names = getattr(datamodule, "label_names", None)
    id2label = class_labels(label_names) if label_names is not None else None
    if model.can_generate() and hasattr(datamodule, "generation_token_ids"):
        for name, value in datamodule.generation_token_ids().items():
            setattr(model.generation_config, name, value)
    card = model_card(Path(save_dir), model, datamodule, label_names, summary)
    return save_model_folder(save_dir, model, preprocessor, id2label=id2label, model_card=card)


def model_card(save_dir: Path, model: Any, datamodule: Any, label_names: list[str] | None, summary: RunSummary) -> str:
    model_type = model.config.model_type
    task, module = PIPELINES.get(model_type, (None, type(model).__module__.rsplit(".", 1)[0]))
    load = f'model = pipeline("{task}", model="{save_dir}")' if task else f"# {type(model).__name__}.from_pretrained"
    lines = [
        "---",
        "library_name: perceiver",
        *([f"pipeline_tag: {task}"] if task else []),
        "tags: [perceiver]",
        "---",
        "",
        f"# {type(model).__name__}",
        "",
        f"Trained with [perceiver](https://github.com/krasserm/perceiver-io) (`{model_type}`, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters).",
        "",
        "```python",
        f"import {module}  # registers the model classes",
        "from transformers import pipeline",
        "",
        load,
        "```",
        "",
        "## Training",
        "",
        f"- steps: {summary.step}" + (f", epochs: {summary.epoch}" if summary.epoch is not None else ""),
    ]
    if summary.optimizer:
        lines.append(f"- optimizer: {summary.optimizer}")
    lines += ["", "## Metrics", ""]
    if summary.metrics:
        measured = f" (measured at step {summary.metrics_step})" if summary.metrics_step is not None else ""
        lines += [f"Metrics{measured}:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4f} |" for name, value in sorted(summary.metrics.items())]
    else:
        lines.append("No metrics were recorded.")
    lines += ["", "## Data", "", f"`{type(datamodule).__name__}`", ""]
    hparams = getattr(datamodule, "hparams", None)
    if hparams:
        options = {k: v for k, v in dict(hparams).items() if not str(k).startswith("_")}  # not the CLI's own keys
        lines += ["```json", json.dumps(_plain(options), indent=2, sort_keys=True), "```", ""]
    if label_names is not None:
        lines += [f"Classes: {', '.join(f'{i}: `{name}`' for i, name in enumerate(label_names))}", ""]
    lines += ["## Model config", "", "```json", json.dumps(model.config.model_config, indent=2), "```", ""]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _float_metrics(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items() if name.startswith(prefix)}


class ReadyFolder(Callback):
    """Writes the ready folder (see the module doc) at the end of ``fit``, ``validate`` or ``test`` to ``dirpath``
    (default ``<trainer.log_dir>/hf``). After ``fit`` the card reports the metrics of the last validation (and the
    step it ran at) and the final training loss; after ``validate``/``test`` those of that run."""

    def __init__(self, dirpath: str | os.PathLike | None = None):
        self.dirpath = dirpath
        self.last_validation: tuple[int, dict[str, float]] | None = None

    def folder(self, trainer: pl.Trainer) -> Path:
        if self.dirpath is not None:
            return Path(self.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir) / DEFAULT_SUBFOLDER

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = _float_metrics(trainer.callback_metrics, "val_")
        if trainer.state.fn == "fit":
            self.last_validation = (trainer.global_step, metrics)
        elif trainer.state.fn == "validate":
            self._write(trainer, pl_module, metrics, trained_steps(pl_module)[0])

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, _float_metrics(trainer.callback_metrics, "test_"), trained_steps(pl_module)[0])

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics, metrics_step = {}, None
        if self.last_validation is not None:
            metrics_step, metrics = self.last_validation
        metrics = metrics | _float_metrics(trainer.callback_metrics, "train_loss")
        self._write(trainer, pl_module, metrics, trainer.global_step, metrics_step, trainer.current_epoch)

    def _write(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        metrics: dict[str, float],
        step: int,
        metrics_step: int | None = None,
        epoch: int | None = None,
    ) -> None:
        from lightning.pytorch.strategies import FSDPStrategy

        if isinstance(trainer.strategy, FSDPStrategy):
            rank_zero_warn(
                "ReadyFolder: no ready folder under FSDP (the weights are sharded); write it from the checkpoint "
                "with `validate --ckpt_path CKPT --ready_folder DIR`"
            )
            return
        folder = self.folder(trainer)  # every rank asks: log_dir is broadcast
        if not trainer.is_global_zero:
            return
        optimizer = None
        if trainer.optimizers:
            first = trainer.optimizers[0]
            optimizer = f"{type(first).__name__} (lr {first.defaults.get('lr')})"
        summary = RunSummary(step, epoch, metrics, metrics_step if metrics_step is not None else step, optimizer)
        write_ready_folder(folder, pl_module, trainer.datamodule, summary)
        rank_zero_info(f"Ready model folder (pipeline(task, model=folder)): {folder}")


def ready_folder_callback(subcommand: str | None, ready_folder: bool | str | None) -> ReadyFolder | None:
    """The CLI's ``--ready_folder``: for ``fit`` a folder by default (``false``: none), for ``validate`` and
    ``test`` only where a folder is given."""
    if ready_folder is False or (ready_folder in (None, True) and subcommand != "fit"):
        return None
    return ReadyFolder(None if ready_folder in (None, True) else ready_folder)


def add_ready_folder_argument(parser: Any) -> None:
    parser.add_argument(
        "--ready_folder",
        type=bool | str | None,
        default=None,
        help="Folder for the trained model, ready for pipeline(task, model=folder): weights, tokenizer or image "
        "processor, class names, model card. fit: default <log dir>/hf, false: none; validate/test: written only "
        "where given (from --ckpt_path, with the metrics of the run).",
    )


def attach_ready_folder(trainer: pl.Trainer, subcommand: str | None, ready_folder: bool | str | None) -> None:
    """Add the ``--ready_folder`` callback to the trainer, unless its callbacks have a ``ReadyFolder`` already."""
    callback = ready_folder_callback(subcommand, ready_folder)
    if callback is not None and not any(isinstance(c, ReadyFolder) for c in trainer.callbacks):
        trainer.callbacks.append(callback)


__all__ = ["ReadyFolder", "RunSummary", "data_preprocessor", "model_card", "write_ready_folder"]
