"""The Lightning CLI of the training scripts: ``python -m perceiver.scripts.<task> fit|validate|test ...``.

- Defaults from ``trainer.yaml`` (learning-rate monitor, checkpoints of the best ``val_loss`` and the last step,
  logs under ``logs/``), overridable by ``--config`` files and command-line arguments.
- ``--optimizer=<name>``: any ``torch.optim`` optimizer by class name; ``--lr_scheduler=CosineWithWarmupLR`` or
  ``ConstantWithWarmupLR`` (or any ``torch.optim.lr_scheduler`` class), stepped every optimizer step.
- ``fit`` ends by writing a ready model folder for ``pipeline(task, model=folder)`` to ``<log dir>/hf``
  (``--ready_folder``, see :mod:`perceiver.scripts.ready_folder`); ``validate``/``test`` write one from
  ``--ckpt_path`` where ``--ready_folder`` is given.
- Checkpoints are written atomically (``AtomicCheckpointIO``) unless ``--trainer.plugins`` names another
  ``CheckpointIO``: a run killed while saving never leaves a truncated ``.ckpt``.
- Extra strategies: ``ddp_static_graph`` (DDP with a static graph, needed with activation checkpointing) and
  ``fsdp_perceiver_ar`` (FSDP wrapping each attention layer of Perceiver AR models, with activation checkpointing).
"""

from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningCLI, LRSchedulerTypeUnion
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from torch.optim import Optimizer

from perceiver.scripts.lrs import ConstantWithWarmupLR, CosineWithWarmupLR
from perceiver.scripts.ready_folder import add_ready_folder_argument, attach_ready_folder

TRAINER_CONFIG = str(Path(__file__).with_name("trainer.yaml"))
SUBCOMMANDS = ("fit", "validate", "test")

__all__ = ["CLI", "ConstantWithWarmupLR", "CosineWithWarmupLR", "TRAINER_CONFIG", "register_strategies"]


def perceiver_ar_wrapped_modules() -> set[type]:
    """Module classes that the ``fsdp_perceiver_ar`` strategy shards and checkpoints one by one."""
    from perceiver.model.core.layers import CrossAttentionLayer, SelfAttentionLayer

    return {CrossAttentionLayer, SelfAttentionLayer}


def fsdp_perceiver_ar_strategy(**kwargs: Any) -> Any:
    """An ``FSDPStrategy`` that wraps every cross- and self-attention layer in its own FSDP unit and recomputes
    their activations in the backward pass (activation checkpointing)."""
    from lightning.pytorch.strategies import FSDPStrategy

    modules = perceiver_ar_wrapped_modules()
    kwargs.setdefault("auto_wrap_policy", modules)
    kwargs.setdefault("activation_checkpointing_policy", modules)
    return FSDPStrategy(**kwargs)


class _FSDPPerceiverAR:
    """Registry entry that builds the FSDP strategy lazily (FSDP imports are heavy and need torch.distributed)."""

    def __new__(cls, **kwargs: Any) -> Any:
        return fsdp_perceiver_ar_strategy(**kwargs)


def register_strategies() -> None:
    if "ddp_static_graph" not in StrategyRegistry:
        StrategyRegistry.register(
            "ddp_static_graph",
            DDPStrategy,
            description="DDP with static_graph=True (required with activation checkpointing)",
            static_graph=True,
            find_unused_parameters=False,
        )
    if "fsdp_perceiver_ar" not in StrategyRegistry:
        StrategyRegistry.register(
            "fsdp_perceiver_ar",
            _FSDPPerceiverAR,
            description="FSDP with one unit per Perceiver AR attention layer and activation checkpointing",
        )


register_strategies()


def rebind_optimizer(
    optimizer: Optimizer, lr_scheduler: LRSchedulerTypeUnion | None, params: Any
) -> tuple[Optimizer, LRSchedulerTypeUnion | None]:
    """A new optimizer of the same class and settings over ``params`` (e.g. the parameters of an FSDP-wrapped
    model), with ``lr_scheduler`` moved onto it."""
    import inspect

    accepted = inspect.signature(type(optimizer)).parameters
    new = type(optimizer)(params, **{k: v for k, v in optimizer.defaults.items() if k in accepted})
    if lr_scheduler is not None:
        for group in new.param_groups:
            group["initial_lr"] = optimizer.param_groups[0].get("initial_lr", group["lr"])
            group["lr"] = optimizer.param_groups[0]["lr"]
        lr_scheduler.optimizer = new
    return new, lr_scheduler


def with_atomic_checkpoint_io(plugins: Any) -> list[Any]:
    """``plugins`` plus an ``AtomicCheckpointIO``, unless they already hold a ``CheckpointIO``."""
    from lightning.fabric.plugins import CheckpointIO

    from perceiver.scripts.checkpoint_io import AtomicCheckpointIO

    if plugins is None:
        plugins = []
    elif not isinstance(plugins, list | tuple):
        plugins = [plugins]
    plugins = list(plugins)
    if not any(isinstance(p, CheckpointIO) for p in plugins):
        plugins.append(AtomicCheckpointIO())
    return plugins


class CLI(LightningCLI):
    """``LightningCLI`` with the perceiver defaults. Task scripts subclass it to link data-module attributes to
    model arguments and to set model defaults (``add_arguments_to_parser``)."""

    def __init__(self, model_class: type[LightningModule], *args: Any, description: str | None = None, **kwargs: Any):
        parser_kwargs = kwargs.pop("parser_kwargs", {})
        if description is not None:
            parser_kwargs.setdefault("description", description)
        for subcommand in SUBCOMMANDS:
            parser_kwargs.setdefault(subcommand, {}).setdefault("default_config_files", [TRAINER_CONFIG])
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        super().__init__(model_class, *args, parser_kwargs=parser_kwargs, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        super().add_arguments_to_parser(parser)
        add_ready_folder_argument(parser)

    def after_instantiate_classes(self) -> None:
        super().after_instantiate_classes()
        attach_ready_folder(self.trainer, self.subcommand, self._get(self.config_init, "ready_folder"))

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        trainer_config = self._get(self.config_init, "trainer", default={})
        plugins = kwargs.get("plugins", trainer_config.get("plugins"))
        kwargs["plugins"] = with_atomic_checkpoint_io(plugins)
        return super().instantiate_trainer(**kwargs)

    @staticmethod
    def configure_optimizers(
        lightning_module: LightningModule, optimizer: Optimizer, lr_scheduler: LRSchedulerTypeUnion | None = None
    ) -> Any:
        from lightning.pytorch.strategies import FSDPStrategy

        trainer = lightning_module.trainer
        if isinstance(trainer.strategy, FSDPStrategy):
            # The CLI built the optimizer on the unwrapped parameters; FSDP needs those of the wrapped model.
            optimizer, lr_scheduler = rebind_optimizer(optimizer, lr_scheduler, trainer.model.parameters())
        if lr_scheduler is None:
            return optimizer
        if isinstance(lr_scheduler, CosineWithWarmupLR) and lr_scheduler.training_steps <= 0:
            # No --trainer.max_steps: decay over the run's estimated number of optimizer steps.
            lr_scheduler.training_steps = int(trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": lr_scheduler, "interval": "step"}}
