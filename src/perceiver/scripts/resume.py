"""Exact resume: a run stopped at any step and resumed from its checkpoint continues with the same data order,
the same random draws and so the same losses as a run that was never stopped.

Lightning restores the weights, the optimizer, the learning-rate schedule and the loop counters, but neither the
random-number generators nor the position in the current epoch of a plain ``DataLoader``: a run resumed mid-epoch
restarts the epoch with a new shuffle and other dropout masks. :class:`ExactResume` (a callback the training CLI
adds to every ``fit``) closes both gaps:

- the training loader of the data module is rebuilt as a :class:`ResumableDataLoader`: its shuffle depends only
  on a seed and the epoch, and a resumed epoch skips the examples the stopped run had already trained on;
- the checkpoint holds the random states (torch, CUDA, numpy, Python) after the last training step, restored
  right before the next one;
- validation runs on a copy of the random states, so how often the run validates (or whether it was resumed
  after a validation) does not change the training draws.

Exact means bit-identical on the same machine and versions, with ``num_workers=0``. With loader workers the order of
examples and the model's draws are restored, but random augmentation or masking drawn inside workers is not (the
workers restart their random streams). Runs on several devices keep Lightning's ``DistributedSampler``, which
restarts an interrupted epoch from its beginning.
"""

import random
from collections.abc import Iterator
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import BatchSampler, DataLoader, IterableDataset, RandomSampler, Sampler, SequentialSampler


def collect_rng_states() -> dict[str, Any]:
    """The states of all random-number generators a training step draws from, as plain values (checkpoints stay
    loadable with ``torch.load(weights_only=True)``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos)},
        "numpy_gauss": (int(has_gauss), float(cached)),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = states["numpy"]
    has_gauss, cached = states["numpy_gauss"]
    keys = numpy_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy_state["kind"], keys, numpy_state["pos"], has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class ResumableSampler(Sampler[int]):
    """Indices ``0..num_examples-1``, shuffled with a permutation that depends only on ``seed`` and the epoch (set
    by Lightning through ``set_epoch``); ``start`` skips the first indices of the next epoch once (a resume)."""

    def __init__(self, num_examples: int, shuffle: bool, seed: int):
        self.num_examples = num_examples
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed((self.seed + self.epoch) % 2**63)

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = torch.randperm(self.num_examples, generator=self.generator()).tolist()
        else:
            order = list(range(self.num_examples))
        start, self.start = self.start, 0
        return iter(order[start:])

    def __len__(self) -> int:
        return self.num_examples


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` over a :class:`ResumableSampler` with Lightning's resumable-loader protocol
    (``state_dict``/``load_state_dict``: seed, epoch and batches served in the epoch). Its iterator starts when the
    first batch is fetched, after Lightning has set the epoch. The loader's own generator (seeded per epoch) draws
    the workers' seeds, so iterating never touches the global random state."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, ResumableSampler):
            raise TypeError(f"ResumableDataLoader needs a ResumableSampler, got {type(self.sampler).__name__}")
        self._epoch = 0  # the epoch that _batches counts
        self._batches = 0

    def __iter__(self) -> Iterator[Any]:
        return _CountingIterator(self)

    def _start_iterator(self) -> Iterator[Any]:
        sampler = self.sampler
        if sampler.start == 0 or sampler.epoch != self._epoch:  # a new epoch, not the rest of a resumed one
            sampler.start, self._epoch, self._batches = 0, sampler.epoch, 0
        self.generator = sampler.generator()
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.sampler.seed, "epoch": self._epoch, "batches": self._batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, batches = state["epoch"], state["batches"]
        if batches >= len(self):  # the epoch was complete: the next one starts from its beginning
            epoch, batches = epoch + 1, 0
        self.sampler.seed = state["seed"]
        self.sampler.epoch = epoch
        self.sampler.start = min(batches * self.batch_size, self.sampler.num_examples)
        self._epoch, self._batches = epoch, batches


class _CountingIterator:
    def __init__(self, loader: ResumableDataLoader):
        self.loader = loader
        self.iterator: Iterator[Any] | None = None

    def __iter__(self) -> "_CountingIterator":
        return self

    def __next__(self) -> Any:
        if self.iterator is None:
            self.iterator = self.loader._start_iterator()
        batch = next(self.iterator)
        self.loader._batches += 1
        return batch


def resumable_loader(loader: Any, seed: int) -> Any:
    """``loader`` rebuilt as a :class:`ResumableDataLoader` with the same settings, where its sampling is plain
    (sequential, or shuffled without replacement); other loaders come back unchanged, with a warning."""
    if isinstance(loader, ResumableDataLoader):
        return loader
    plain = (
        type(loader) is DataLoader
        and not isinstance(loader.dataset, IterableDataset)
        and type(loader.batch_sampler) is BatchSampler
        and (
            type(loader.sampler) is SequentialSampler
            or (type(loader.sampler) is RandomSampler and not loader.sampler.replacement)
        )
        and (not isinstance(loader.sampler, RandomSampler) or loader.sampler._num_samples is None)
    )
    if not plain:
        rank_zero_warn(
            f"ExactResume: the training loader ({type(loader).__name__} with {type(loader.sampler).__name__}) is not a "
            "plain DataLoader: it is left as it is, and a run resumed mid-epoch restarts the epoch with a new order"
        )
        return loader
    sampler = ResumableSampler(len(loader.dataset), isinstance(loader.sampler, RandomSampler), seed)
    return ResumableDataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device,
        in_order=loader.in_order,
        generator=torch.Generator(),
    )


class ExactResume(pl.Callback):
    """Makes ``fit`` resume bit-exactly from its checkpoints (see the module docstring). Add it to a ``Trainer`` of
    your own with ``Trainer(callbacks=[ExactResume()])``; the training CLI adds it unless it is configured."""

    def __init__(self) -> None:
        self._rng_to_restore: dict[str, Any] | None = None
        self._loader_state: dict[str, int] | None = None
        self._validation_rng: dict[str, Any] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if stage != "fit" or datamodule is None or trainer.world_size > 1:
            return
        original = datamodule.train_dataloader
        if getattr(original, "makes_resumable_loaders", False):
            return
        seed = torch.initial_seed()  # the run's seed (seed_everything), recorded in the checkpoint

        def train_dataloader() -> Any:
            return resumable_loader(original(), seed)

        train_dataloader.makes_resumable_loaders = True
        datamodule.train_dataloader = train_dataloader

    def state_dict(self) -> dict[str, Any]:
        # Lightning asks for it while saving a checkpoint, after a training step or at the end of a validation (which
        # ran on a copy): the states the next training step starts from.
        rng = self._validation_rng if self._validation_rng is not None else collect_rng_states()
        return {"rng": rng}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._rng_to_restore = state_dict.get("rng")

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        fit_loop = checkpoint.get("loops", {}).get("fit_loop", {})
        loader_states = fit_loop.get("state_dict", {}).get("combined_loader", [])
        self._loader_state = loader_states[0] if len(loader_states) == 1 else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning loads loader states only when it resumes mid-epoch (or by steps); after a complete epoch the
        # loader must still learn its seed and epoch.
        loader = trainer.train_dataloader
        if self._loader_state is not None and isinstance(loader, ResumableDataLoader):
            loader.load_state_dict(self._loader_state)
        self._loader_state = None
        if self._rng_to_restore is not None:
            set_rng_states(self._rng_to_restore)
            self._rng_to_restore = None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            self._validation_rng = collect_rng_states()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._validation_rng is not None:
            set_rng_states(self._validation_rng)
            self._validation_rng = None


__all__ = ["ExactResume", "ResumableDataLoader", "ResumableSampler", "collect_rng_states", "set_rng_states"]
