"""Lightning base classes shared by the task models: Perceiver IO (encoder/decoder configs), classifiers and
Perceiver AR causal sequence models.

Task modules subclass these, build their backend as ``self.model`` and implement ``step``. Optimizers and
learning-rate schedules are not part of the modules: the CLI (``perceiver.scripts.cli``) adds them, or a subclass
defines ``configure_optimizers``.
"""

import dataclasses
import os
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn as nn
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info

from perceiver.model.core.checkpoint import read_pretrained_backend_state_dict
from perceiver.model.core.config import DecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.config_dict import dataclass_from_dict
from perceiver.model.core.hf_registry import to_hf_model

IGNORE_INDEX = -100


def is_checkpoint(path: str | os.PathLike | None) -> bool:
    """Whether ``params`` names a Lightning checkpoint (by extension) rather than a Hugging Face model."""
    return path is not None and str(path).endswith(".ckpt")


def as_dataclass(value: Any, cls: type, name: str) -> Any:
    """Accept a config as a dataclass instance or as the dict ``asdict`` made of one (checkpoint hparams)."""
    if isinstance(value, cls):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return dataclass_from_dict(cls, value)
    raise TypeError(f"{name} must be a {cls.__name__} or a dict of its fields, got {type(value).__name__}")


def trained_steps(module: pl.LightningModule) -> tuple[int, str]:
    """The training step of ``module``'s weights and how to label it: the current step while fitting, else the step
    of the checkpoint the weights were restored from (``validate``/``test --ckpt_path``), else 0 (weights not
    trained by Lightning here, e.g. from ``params=`` or a new module)."""
    trainer = module._trainer
    if trainer is not None and trainer.state.fn == "fit":
        return module.global_step, f"step {module.global_step}"
    step = getattr(module, "checkpoint_global_step", None)
    if step is not None:
        return step, f"checkpoint of step {step}"
    return 0, "weights not from a checkpoint"


def log_text(module: pl.LightningModule, tag: str, text: str) -> None:
    """Log ``text`` to the logger's text panel where it has one (TensorBoard), and to the console, labelled with the
    training step of the weights that made it."""
    step, label = trained_steps(module)
    logger = module.logger
    experiment = getattr(logger, "experiment", None) if logger is not None else None
    if experiment is not None and hasattr(experiment, "add_text"):
        experiment.add_text(tag, text, step)
    rank_zero_info(f"{tag} ({label}):\n{text}")


class CheckpointStepMixin:
    """Remembers the global step of the checkpoint a module's weights come from (``checkpoint_global_step``)."""

    checkpoint_global_step: int | None = None

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.checkpoint_global_step = checkpoint.get("global_step")


class ConfigHparamsMixin:
    """Stores dataclass hyperparameters as plain dicts, so checkpoints load with ``torch.load(weights_only=True)``
    and the hparams YAML stays readable."""

    def _dataclass_hparams_to_dicts(self) -> None:
        for hparams in (self._hparams, self._hparams_initial):
            for key, value in list(hparams.items()):
                if dataclasses.is_dataclass(value) and not isinstance(value, type):
                    hparams[key] = dataclasses.asdict(value)


class CompileBackendMixin:
    """``compile=True``: the backend ``self.model`` is compiled in place (``nn.Module.compile``) when the trainer
    configures the model, so training, validation and prediction run compiled while parameter names, state dicts
    and checkpoints stay those of the eager model."""

    def configure_model(self) -> None:
        super().configure_model()
        model = getattr(self, "model", None)
        if self.hparams.get("compile") and model is not None and getattr(model, "_compiled_call_impl", None) is None:
            model.compile()


class BackendModuleMixin:
    """What every task module does with its backend ``self.model``: load initial weights (``params``), convert to the
    Hugging Face wrapper, and restore from checkpoints without loading ``params`` a second time."""

    @property
    def backend_model(self) -> nn.Module:
        return self.model

    @classmethod
    def load_from_checkpoint(cls, *args: Any, params: str | None = None, **kwargs: Any):
        # Weights come from the checkpoint: do not load them a second time from the ``params`` it was built with.
        return super().load_from_checkpoint(*args, params=params, **kwargs)

    def load_backend_params(self, params: str) -> None:
        """Copy backend weights from a Lightning checkpoint of this class (``.ckpt``) or from a Hugging Face model
        folder or hub id."""
        self.model.load_state_dict(load_backend_state_dict(type(self), params))

    def to_hgf_model(self) -> Any:
        """The task's Hugging Face wrapper (``save_pretrained``, pipelines, ``generate``) sharing this module's
        backend (:func:`~perceiver.model.core.hf_registry.to_hf_model`)."""
        return to_hf_model(self.model)


class LossStepsMixin:
    """Training, validation and test steps of a module whose ``step(batch)`` returns the loss: logged as
    ``train_loss``, ``val_loss`` and ``test_loss``."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.step(batch)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self.step(batch), prog_bar=True, sync_dist=True)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.log("test_loss", self.step(batch), sync_dist=True)


class LitPerceiverIO(
    BackendModuleMixin, ConfigHparamsMixin, CheckpointStepMixin, CompileBackendMixin, pl.LightningModule
):
    """Base of Perceiver IO task modules. Subclasses set ``encoder_config_class`` / ``decoder_config_class`` and
    build ``self.model`` from ``self.encoder_config`` / ``self.decoder_config``."""

    encoder_config_class: type = EncoderConfig
    decoder_config_class: type = DecoderConfig

    def __init__(
        self,
        encoder: EncoderConfig,
        decoder: DecoderConfig,
        num_latents: int,
        num_latent_channels: int,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
        params: str | None = None,
        compile: bool = False,
    ):
        """
        :param encoder: encoder config.
        :param decoder: decoder config.
        :param num_latents: number of latent vectors.
        :param num_latent_channels: width of the latent vectors.
        :param activation_checkpointing: recompute the activations of each attention layer in the backward pass
            (less memory, more compute).
        :param activation_offloading: keep the checkpointed activations in CPU memory (with activation_checkpointing).
        :param params: initial weights: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder.
        :param compile: compile the backend model with ``torch.compile`` when a trainer runs it.
        """
        super().__init__()
        self.save_hyperparameters()
        self._dataclass_hparams_to_dicts()
        self.encoder_config = as_dataclass(encoder, self.encoder_config_class, "encoder")
        self.decoder_config = as_dataclass(decoder, self.decoder_config_class, "decoder")

    @property
    def backend_config(self) -> PerceiverIOConfig:
        return PerceiverIOConfig(
            encoder=self.encoder_config,
            decoder=self.decoder_config,
            num_latents=self.hparams.num_latents,
            num_latent_channels=self.hparams.num_latent_channels,
            activation_checkpointing=self.hparams.activation_checkpointing,
            activation_offloading=self.hparams.activation_offloading,
        )

    @classmethod
    def create(cls, config: PerceiverIOConfig, *args: Any, **kwargs: Any) -> "LitPerceiverIO":
        """Build the module from a backend config; ``kwargs`` are the module's other arguments."""
        return cls(
            config.encoder,
            config.decoder,
            *args,
            num_latents=config.num_latents,
            num_latent_channels=config.num_latent_channels,
            activation_checkpointing=config.activation_checkpointing,
            activation_offloading=config.activation_offloading,
            **kwargs,
        )


def check_checkpoint_readable(path: str | os.PathLike) -> None:
    """A cheap completeness check of a local ``.ckpt`` (a zip archive: its directory is at the end of the file), so
    that a truncated file fails with an error naming it rather than deep inside ``torch.load``."""
    import zipfile

    from perceiver.model.core.checkpoint import CorruptCheckpointError

    if not zipfile.is_zipfile(path):
        raise CorruptCheckpointError(
            f"cannot read checkpoint {path} ({os.path.getsize(path)} bytes): it is truncated, corrupt or not a "
            "PyTorch checkpoint"
        )


def load_backend_state_dict(lit_class: type[pl.LightningModule], params: str) -> dict[str, torch.Tensor]:
    """Backend weights from a Lightning checkpoint of ``lit_class`` (``.ckpt``) or a Hugging Face model folder or
    hub id."""
    if is_checkpoint(params):
        if not os.path.exists(params) and "://" not in str(params):
            raise FileNotFoundError(f"params checkpoint not found: {params}")
        if os.path.exists(params):
            check_checkpoint_readable(params)
        return lit_class.load_from_checkpoint(params, map_location="cpu").model.state_dict()
    return read_pretrained_backend_state_dict(params)


class LitClassifier(LitPerceiverIO):
    """Perceiver IO classifier: cross-entropy loss and accuracy. Subclasses implement ``step(batch)`` returning
    ``(logits, labels)``. Logs ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``test_loss``,
    ``test_acc``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        from torchmetrics.classification import MulticlassAccuracy

        num_classes = self.decoder_config.num_classes
        # One metric object per stage: torchmetrics accumulates state per object.
        self.train_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")

    def step(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _loss_and_metric(self, batch: Any, metric: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        logits, y = self.step(batch)
        loss = F.cross_entropy(logits, y)
        metric(logits.argmax(dim=-1), y)
        return loss, logits

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss_and_metric(batch, self.train_acc)
        self.log("train_loss", loss)
        self.log("train_acc", self.train_acc, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, _ = self._loss_and_metric(batch, self.val_acc)
        self.log("val_loss", loss, prog_bar=True, sync_dist=True)
        self.log("val_acc", self.val_acc, prog_bar=True)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        loss, _ = self._loss_and_metric(batch, self.test_acc)
        self.log("test_loss", loss, sync_dist=True)
        self.log("test_acc", self.test_acc)


class LitCausalSequenceModel(
    LossStepsMixin, BackendModuleMixin, CheckpointStepMixin, CompileBackendMixin, pl.LightningModule
):
    """Base of Perceiver AR task modules (causal language model, symbolic audio model).

    Batches are ``(labels, input_ids, pad_mask)`` with labels the inputs shifted by one. The last ``max_latents``
    positions of each training sequence are latents; the loss covers only them. Subclasses name their backend
    (a ``CausalSequenceModel``): ``backend_model_class``, built from ``backend_config_class.create(**hparams)``.
    """

    backend_model_class: type[nn.Module] | None = None
    backend_config_class: type | None = None

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        max_latents: int = 512,
        num_channels: int = 512,
        num_heads: int = 8,
        max_heads_parallel: int | None = None,
        num_self_attention_layers: int = 6,
        num_self_attention_rotary_layers: int = 1,
        self_attention_widening_factor: int = 4,
        cross_attention_widening_factor: int = 4,
        cross_attention_dropout: float = 0.5,
        post_attention_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        output_norm: bool = False,
        output_bias: bool = True,
        abs_pos_emb: bool = True,
        init_scale: float = 0.02,
        activation_checkpointing: bool = False,
        activation_offloading: bool = False,
        validation_sample_prompt: str | None = None,
        validation_sample_record: int | None = None,
        params: str | None = None,
        max_grad_norm: float | None = None,
        compile: bool = False,
        **kwargs: Any,
    ):
        """
        :param vocab_size: size of the token vocabulary (the CLI links it from the data module).
        :param max_seq_len: longest sequence, prefix and latents (linked from the data module).
        :param max_latents: number of latent (last) positions, the positions the loss is computed on.
        :param num_channels: model width.
        :param num_heads: attention heads.
        :param max_heads_parallel: compute at most this many heads at once (less memory; null: all).
        :param num_self_attention_layers: causal self-attention layers on the latents.
        :param num_self_attention_rotary_layers: how many of them apply rotary position embedding (-1: all).
        :param self_attention_widening_factor: MLP width of self-attention layers, as a multiple of num_channels.
        :param cross_attention_widening_factor: MLP width of the cross-attention layer, as a multiple of num_channels.
        :param cross_attention_dropout: fraction of the prefix positions dropped in training (Perceiver AR's prefix
            dropout).
        :param post_attention_dropout: dropout after attention.
        :param residual_dropout: dropout of the residual branches.
        :param output_norm: layer norm before the output projection.
        :param output_bias: bias of the output projection.
        :param abs_pos_emb: learned absolute position embedding (besides rotary embedding).
        :param init_scale: standard deviation of the initial weights.
        :param activation_checkpointing: recompute activations in the backward pass (less memory, more compute).
        :param activation_offloading: keep the checkpointed activations in CPU memory.
        :param validation_sample_prompt: text continued at the end of each validation (logged as text).
        :param validation_sample_record: index of a validation example whose tokens are continued (-1: random).
        :param params: initial weights: a Lightning checkpoint (``.ckpt``) or a Hugging Face model id or folder.
        :param max_grad_norm: clip the gradient norm to this value, also under FSDP (where Lightning's
            ``gradient_clip_val`` is not supported), and log ``grad_norm``.
        :param compile: compile the backend model with ``torch.compile`` when a trainer runs it.
        """
        super().__init__()
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {max_grad_norm}")
        self.save_hyperparameters()
        if self.backend_model_class is not None:
            self.model = self.backend_model_class(self.backend_config_class.create(**self.hparams))
            if self.hparams.params is not None:
                self.load_backend_params(self.hparams.params)

    @property
    def backend_config(self) -> Any:
        return self.model.config

    @classmethod
    def create(cls, config: Any, **kwargs: Any) -> "LitCausalSequenceModel":
        """Build the module from a backend config dataclass; ``kwargs`` are the module's other arguments."""
        return cls(**dataclasses.asdict(config), **kwargs)

    def forward(self, x: torch.Tensor, prefix_len: int, pad_mask: torch.Tensor | None = None) -> Any:
        return self.model(x, prefix_len=prefix_len, pad_mask=pad_mask)

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        max_grad_norm = self.hparams.get("max_grad_norm")
        if max_grad_norm is not None:
            wrapped = getattr(self._trainer, "model", None) if self._trainer is not None else None
            if hasattr(wrapped, "clip_grad_norm_"):  # FSDP: norms over all shards
                grad_norm = wrapped.clip_grad_norm_(max_grad_norm)
            else:
                grad_norm = torch.nn.utils.clip_grad_norm_(self.parameters(), max_grad_norm)
            self.log("grad_norm", grad_norm, prog_bar=False)
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
        labels, x, pad_mask = batch
        max_latents = self.hparams.max_latents
        seq_len = x.shape[1]
        if seq_len < max_latents:
            raise ValueError(f"Training sequence length must be at least {max_latents} (= max_latents)")
        if pad_mask is not None:
            labels = labels.masked_fill(pad_mask, IGNORE_INDEX)
        logits = self(x, prefix_len=seq_len - max_latents, pad_mask=pad_mask).logits
        labels = labels[:, -logits.shape[1] :]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX)
