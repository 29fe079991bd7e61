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

import os
import random
import sys
from pathlib import Path
from typing import Any, NoReturn

from lightning.pytorch import LightningModule, seed_everything
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, LRSchedulerTypeUnion
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch.optim import Optimizer

from perceiver.scripts.cli_errors import debug_mode, fail, import_object, summarize_exception, summarize_parse_error
from perceiver.scripts.last_checkpoint import newest_last_checkpoint
from perceiver.scripts.log_interval import LogInterval
from perceiver.scripts.lrs import ConstantWithWarmupLR, CosineWithWarmupLR
from perceiver.scripts.ready_folder import add_ready_folder_argument, attach_ready_folder
from perceiver.scripts.resume import ExactResume

TRAINER_CONFIG = str(Path(__file__).with_name("trainer.yaml"))

# The links of the Perceiver AR task scripts: the cosine schedule spans the run, sizes come from the data.
CAUSAL_SEQUENCE_LINKS = (
    ("trainer.max_steps", "lr_scheduler.training_steps", "parse"),
    ("data.max_seq_len", "model.max_seq_len", "instantiate"),
    ("data.vocab_size", "model.vocab_size", "instantiate"),
)
SUBCOMMANDS = ("fit", "validate", "test")
DEFAULT_SEED = 0  # every run is seeded (and so repeatable) unless --seed_everything says otherwise

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


class ArgumentParser(LightningArgumentParser):
    """Reports a bad option, value, class or config file in one line (with the nearest valid option or class)
    instead of the usage text and jsonargparse's nested union errors."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or debug_mode():
            super().error(message, ex)
        fail(summarize_parse_error(message, getattr(ex, "subcommand_parser", None) or self))


LOGGER_SAVE_DIR = "<trainer.default_root_dir>"  # placeholder for a logger's save_dir, set before instantiation
CHECKPOINT_KEYWORDS = ("best", "hpc", "registry")  # ckpt_path values that Lightning resolves ("last": see below)


def logger_requires_save_dir(name: str) -> bool:
    """Whether the logger class ``name`` (a name in ``lightning.pytorch.loggers`` or a dotted path) needs a
    ``save_dir`` argument."""
    import inspect

    cls = import_object(name if "." in name else f"lightning.pytorch.loggers.{name}")
    if not isinstance(cls, type):
        return False
    parameter = inspect.signature(cls).parameters.get("save_dir")
    return parameter is not None and parameter.default is inspect.Parameter.empty


def with_logger_save_dir(args: list[str]) -> list[str]:
    """``args`` where ``--trainer.logger=<logger class>`` without a save_dir (CSVLogger, TensorBoardLogger) gets
    one: the trainer's ``default_root_dir``, filled in after parsing."""
    if any(a.startswith(("--trainer.logger.save_dir", "--trainer.logger.init_args.save_dir")) for a in args):
        return list(args)
    result = []
    for i, arg in enumerate(args):
        result.append(arg)
        if arg.startswith("--trainer.logger="):
            name = arg.split("=", 1)[1]
        elif i > 0 and args[i - 1] == "--trainer.logger":
            name = arg
        else:
            continue
        if logger_requires_save_dir(name):
            result.append(f"--trainer.logger.save_dir={LOGGER_SAVE_DIR}")
    return result


def checkpoint_dirs(trainer_config: Any) -> list[str]:
    """Where a run's checkpoints are: the trainer's ``default_root_dir`` and the ``dirpath`` of configured
    checkpoint callbacks."""
    dirs = [trainer_config.get("default_root_dir") or os.getcwd()]
    callbacks = trainer_config.get("callbacks") or []
    for callback in callbacks if isinstance(callbacks, list) else [callbacks]:
        init_args = getattr(callback, "init_args", None)
        dirpath = init_args.get("dirpath") if init_args is not None else None
        if dirpath and dirpath not in dirs:
            dirs.append(dirpath)
    return dirs


def has_logger(logger: Any) -> bool:
    """Whether a trainer's ``logger`` argument gives it a logger (``None`` and ``True`` mean the default one)."""
    if logger is False:
        return False
    return not (isinstance(logger, list | tuple) and len(logger) == 0)


class CLI(LightningCLI):
    """``LightningCLI`` with the perceiver defaults. Task scripts subclass it to link data-module attributes to
    model arguments and to set model defaults (``add_arguments_to_parser``).

    Beyond Lightning's CLI: seed 0 unless ``--seed_everything`` says otherwise; exact resume (``ExactResume``);
    a logging interval that fits the run (``LogInterval``); atomic checkpoint writes; ``--trainer.logger=CSVLogger``
    without a ``save_dir``; ``--trainer.logger=false`` without the learning-rate monitor; one-line errors."""

    def __init__(self, model_class: type[LightningModule], *args: Any, description: str | None = None, **kwargs: Any):
        parser_kwargs = kwargs.pop("parser_kwargs", {})
        if description is not None:
            parser_kwargs.setdefault("description", description)
        for subcommand in SUBCOMMANDS:
            parser_kwargs.setdefault(subcommand, {}).setdefault("default_config_files", [TRAINER_CONFIG])
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("seed_everything_default", DEFAULT_SEED)
        kwargs.setdefault("parser_class", ArgumentParser)
        super().__init__(model_class, *args, parser_kwargs=parser_kwargs, **kwargs)

    # What a task script declares (see perceiver/scripts/text/clm.py): the learning-rate schedule it offers, links
    # from data-module attributes (or trainer settings) to model and schedule arguments, and its model defaults.
    lr_scheduler_class: type | None = None
    argument_links: tuple[tuple[str, str, str], ...] = ()  # (source, target, apply_on)
    model_defaults: dict[str, Any] = {}

    @classmethod
    def for_task(
        cls, model_class: type[LightningModule], datamodule_class: type, args: Any = None, run: bool = True
    ) -> "CLI":
        """The CLI of a task script: its model class, the base class of the data modules it takes (any subclass on
        the command line), the command-line ``args`` (default ``sys.argv``)."""
        return cls(model_class, datamodule_class, subclass_mode_data=True, description=cls.__doc__, args=args, run=run)

    def add_arguments_to_parser(self, parser: Any) -> None:
        super().add_arguments_to_parser(parser)
        add_ready_folder_argument(parser)
        if self.lr_scheduler_class is not None:
            parser.add_lr_scheduler_args(self.lr_scheduler_class)
        for source, target, apply_on in self.argument_links:
            parser.link_arguments(source, target, apply_on=apply_on)
        parser.set_defaults(self.model_defaults)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        if args is None:
            args = sys.argv[1:]
        if isinstance(args, list | tuple):
            self.config = parser.parse_args(with_logger_save_dir([str(a) for a in args]))
        else:
            super().parse_arguments(parser, args)
        self.check_config()

    def check_config(self) -> None:
        """Checks that need the parsed config, before anything is built or seeded (a clear error comes first)."""
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        logger = config.get("trainer", {}).get("logger")
        init_args = getattr(logger, "init_args", None)
        if init_args is not None and init_args.get("save_dir") == LOGGER_SAVE_DIR:
            init_args.save_dir = config.trainer.get("default_root_dir") or os.getcwd()
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "last":
            # Lightning looks in the new run's (versioned) checkpoint folder, finds nothing and starts from scratch
            dirs = checkpoint_dirs(config.get("trainer", {}))
            config.ckpt_path = newest_last_checkpoint(dirs)
            if config.ckpt_path is None:
                where = ", ".join(map(str, dirs))
                fail(f"ckpt_path=last: no last.ckpt in or below {where}; give the checkpoint's path")
            rank_zero_info(f"Resuming from {config.ckpt_path} (the newest last.ckpt)")
        elif ckpt_path and ckpt_path not in CHECKPOINT_KEYWORDS and "://" not in str(ckpt_path):
            if not os.path.isfile(ckpt_path):
                newest = "<run dir>/checkpoints/last.ckpt"
                fail(f"ckpt_path: checkpoint file not found: {ckpt_path} (the newest state of a run: {newest})")
        if (
            subcommand == "fit"
            and config.get("optimizer") is None
            and not is_overridden("configure_optimizers", self._model_class, LightningModule)
        ):
            fail("fit needs an optimizer: add --optimizer=AdamW --optimizer.lr=1e-3 (or an optimizer: entry)")

    def _set_seed(self) -> None:
        # As Lightning's, but ``true`` draws a random seed (Lightning 2.6 turns it into 0), and the seed is reported
        # after the classes are built, so that a configuration error is the first line of the output.
        config = self.config[self.subcommand] if self.subcommand else self.config
        seed = config.get("seed_everything")
        if seed is False:
            return
        if seed is True:
            seed = random.SystemRandom().randrange(2**31)
        config["seed_everything"] = seed_everything(seed, workers=True, verbose=False)

    def after_instantiate_classes(self) -> None:
        super().after_instantiate_classes()
        attach_ready_folder(self.trainer, self.subcommand, self._get(self.config_init, "ready_folder"))
        seed = self._get(self.config, "seed_everything")
        if seed is not False:
            rank_zero_info(f"Seed set to {seed} (--seed_everything; recorded in the run's config.yaml)")

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError, OSError) as e:
            if debug_mode():
                raise
            fail(summarize_exception(e))

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        trainer_config = self._get(self.config_init, "trainer", default={})
        plugins = kwargs.get("plugins", trainer_config.get("plugins"))
        kwargs["plugins"] = with_atomic_checkpoint_io(plugins)
        callbacks = kwargs.get("callbacks", trainer_config.get("callbacks")) or []
        callbacks = list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
        if not has_logger(kwargs.get("logger", trainer_config.get("logger"))):
            # LearningRateMonitor raises without a logger; with --trainer.logger=false there is nothing to log to
            callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
        if not any(isinstance(c, ExactResume) for c in callbacks):
            callbacks.append(ExactResume())
        if kwargs.get("log_every_n_steps", trainer_config.get("log_every_n_steps")) is None:
            callbacks.append(LogInterval())
        kwargs["callbacks"] = callbacks
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
