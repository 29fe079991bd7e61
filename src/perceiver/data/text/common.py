"""``TextDataModule``: tokenizes a text source for masked (mlm), causal (clm) or sequence-classification (clf)
training, caches the result on disk and serves ``(labels, input_ids, pad_mask)`` batches.

A subclass supplies the source by implementing ``load_source_dataset()`` (a ``DatasetDict`` with ``train`` and
``valid`` splits, optionally a ``test`` split, that have a ``text`` column, and a ``label`` column of class indices
for clf).
"""

import hashlib
import json
import os
import shutil
from enum import Enum
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from datasets import Dataset, DatasetDict, load_from_disk
from torch.utils.data import DataLoader

from perceiver.data.text.collator import (
    DefaultCollator,
    RandomTruncateCollator,
    TokenMaskingCollator,
    WordMaskingCollator,
)
from perceiver.data.text.dataset import CLMDataset, RandomShiftDataset
from perceiver.data.text.special_tokens import generation_token_ids, serving_tokenizer
from perceiver.data.text.utils import TextSizes, describe, load_tokenizer, tokenize_with_word_ids
from perceiver.validation import check_loader_args, require_optional_positive

STATIC_MASKING_SEED = 0
_DONE = "_preprocessing_done.json"


class Task(Enum):
    mlm = 0
    clm = 1
    clf = 2


def _as_task(task: "Task | str | int") -> Task:
    if isinstance(task, Task):
        return task
    if isinstance(task, str) and task in Task.__members__:
        return Task[task]
    if isinstance(task, int) and not isinstance(task, bool) and task in [t.value for t in Task]:
        return Task(task)
    raise ValueError(f"task must be one of {list(Task.__members__)}, got {task!r}")


def train_valid_split(dataset: Dataset, valid_size: float | int, seed: int = 0, shuffle: bool = True) -> DatasetDict:
    """Split one source split into ``train`` and ``valid`` (``valid_size``: fraction or number of examples)."""
    split = dataset.train_test_split(test_size=valid_size, seed=seed, shuffle=shuffle)
    return DatasetDict(train=split["train"], valid=split["test"])


def _chunk(batch: dict[str, list], chunk_len: int, keys: tuple[str, ...]) -> dict[str, list]:
    """Concatenate the sequences of a preprocessing batch and cut them into full chunks of ``chunk_len``."""
    result = {}
    for key in keys:
        stream = [token for seq in batch[key] for token in seq]
        num_chunks = len(stream) // chunk_len
        result[key] = [stream[i * chunk_len : (i + 1) * chunk_len] for i in range(num_chunks)]
    return result


class TextDataModule(TextSizes, pl.LightningDataModule):
    def __init__(
        self,
        dataset_dir: str,
        tokenizer: str,
        max_seq_len: int,
        task: Task = Task.mlm,
        mask_prob: float = 0.15,
        mask_words: bool = True,
        static_masking: bool = False,
        add_special_tokens: bool = False,
        add_eos_token: bool = False,
        padding_side: str | None = None,
        random_train_shift: bool = False,
        random_valid_shift: bool = False,
        random_train_truncation: bool = False,
        random_valid_truncation: bool = False,
        random_min_seq_len: int = 16,
        preproc_batch_size: int = 1000,
        preproc_workers: int | None = None,
        batch_size: int = 64,
        valid_batch_size: int | None = None,
        num_workers: int = 3,
        pin_memory: bool = True,
    ):
        """
        :param dataset_dir: where the source is cached (named datasets) and preprocessed data is stored
            (``<dataset_dir>/preproc/<hash of the options>``).
        :param tokenizer: a local tokenizer folder, a hub id, ``"bytes"`` (UTF-8 bytes, offline) or a tokenizer.
        :param max_seq_len: length of training sequences (mlm, clm) or maximum length (clf, longer texts truncated).
        :param task: ``mlm``, ``clm`` or ``clf``.
        :param mask_prob: mlm: probability that a word (or token) is selected for prediction.
        :param mask_words: mlm: whole-word masking (else token masking).
        :param static_masking: mlm: mask once at preprocessing (else anew in every batch).
        :param add_special_tokens: add the tokenizer's special tokens (e.g. [CLS], [SEP]) to every text.
        :param add_eos_token: append the EOS token to every text.
        :param padding_side: ``left`` (Perceiver AR) or ``right``; ``None`` keeps the tokenizer's.
        :param random_train_shift: mlm/clm: training examples start at random offsets into the token stream.
        :param random_train_truncation: truncate each training batch to a random length in
            ``[random_min_seq_len, max_seq_len]``.
        """
        super().__init__()
        self.save_hyperparameters()
        self._sanitize_hparams(tokenizer)

        self.task = _as_task(task)
        if not isinstance(max_seq_len, int) or isinstance(max_seq_len, bool) or max_seq_len <= 0:
            raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
        if not 0.0 < mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {mask_prob}")
        if static_masking and not mask_words:
            raise ValueError("static_masking=true is only supported for mask_words=true")
        if self.task == Task.clf and (random_train_shift or random_valid_shift):
            raise ValueError(
                f"random_train_shift and random_valid_shift need task mlm or clm, got task={self.task.name}"
            )
        if (random_train_truncation or random_valid_truncation) and not 0 < random_min_seq_len <= max_seq_len:
            raise ValueError(
                f"random_min_seq_len must be in [1..{max_seq_len}] (max_seq_len), got {random_min_seq_len}"
            )
        for name, value in (("batch_size", batch_size), ("preproc_batch_size", preproc_batch_size)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        check_loader_args(batch_size, num_workers, valid_batch_size)
        require_optional_positive(preproc_workers=preproc_workers)

        self.tokenizer = load_tokenizer(tokenizer, padding_side=padding_side)
        if self.task == Task.clf and self.tokenizer.pad_token_id is None:
            raise ValueError(
                f"task clf pads texts to equal length, but tokenizer {type(self.tokenizer).__name__} has no pad token"
            )
        if add_eos_token and self.tokenizer.eos_token_id is None:
            raise ValueError(f"add_eos_token=true, but tokenizer {type(self.tokenizer).__name__} has no EOS token")

        self.ds_train: Any = None
        self.ds_valid: Any = None
        self.ds_test: Any = None

    def _sanitize_hparams(self, tokenizer: Any) -> None:
        # Keep hparams (saved into checkpoints) to plain values: no tokenizer object, the task by name.
        for hparams in (self._hparams, self._hparams_initial):
            if not isinstance(tokenizer, str | os.PathLike):
                hparams["tokenizer"] = describe(tokenizer)
            if isinstance(hparams.get("task"), Task):
                hparams["task"] = hparams["task"].name

    # ---- properties ----

    @property
    def label_names(self) -> list[str] | None:
        """clf: the name of each class (``label_names[i]`` of class ``i``), where the source names them."""
        return None

    @property
    def valid_batch_size(self) -> int:
        return self.hparams.valid_batch_size or self.hparams.batch_size

    @property
    def random_shift(self) -> bool:
        return self.hparams.random_train_shift or self.hparams.random_valid_shift

    @property
    def chunk_len(self) -> int:
        # clm chunks have one extra token: inputs are chunk[:-1], labels chunk[1:].
        return self.max_seq_len + 1 if self.task == Task.clm else self.max_seq_len

    def source_key(self) -> str:
        """Identifies the source in the preprocessing cache key; subclasses with configurable sources extend it."""
        return type(self).__name__

    def cache_key(self) -> str:
        h = self.hparams
        parts = [self.source_key(), describe(self.tokenizer), str(self.max_seq_len), self.task.name]
        parts.append(f"shift={self.random_shift}")
        if self.task == Task.mlm:
            parts.append(f"words={h.mask_words}-static={h.static_masking}")
            if h.static_masking:
                parts.append(f"p={h.mask_prob}")
        parts.append(f"st={h.add_special_tokens}-eos={h.add_eos_token}")
        return "-".join(parts)

    @property
    def preproc_dir(self) -> Path:
        digest = hashlib.md5(self.cache_key().encode("utf-8")).hexdigest()
        return Path(self.hparams.dataset_dir) / "preproc" / digest

    # ---- source and preprocessing ----

    def load_source_dataset(self) -> DatasetDict:
        """The raw texts: a ``DatasetDict`` with ``train``, ``valid`` and optionally ``test`` splits and a ``text``
        column."""
        raise NotImplementedError

    def prepare_data(self) -> None:
        if (self.preproc_dir / _DONE).exists():
            return
        source = self.load_source_dataset()
        self._check_source(source)
        dataset = self._preprocess(source)
        tmp_dir = self.preproc_dir.with_name(self.preproc_dir.name + ".tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        dataset.save_to_disk(str(tmp_dir))
        (tmp_dir / _DONE).write_text(json.dumps({"key": self.cache_key()}))
        shutil.rmtree(self.preproc_dir, ignore_errors=True)
        tmp_dir.rename(self.preproc_dir)

    def _check_source(self, source: DatasetDict) -> None:
        if not isinstance(source, DatasetDict) or set(source) not in ({"train", "valid"}, {"train", "valid", "test"}):
            found = sorted(source) if isinstance(source, dict) else type(source).__name__
            raise ValueError(
                f"load_source_dataset() must return a DatasetDict with splits train and valid (and optionally test), "
                f"got {found}"
            )
        for split, ds in source.items():
            if "text" not in ds.column_names:
                raise ValueError(f"the {split} split needs a 'text' column, found columns {ds.column_names}")
            if self.task == Task.clf and "label" not in ds.column_names:
                raise ValueError(
                    f"task clf needs a 'label' column in the {split} split, found columns {ds.column_names}"
                )
            if len(ds) == 0:
                raise ValueError(f"the {split} split of the source is empty")

    def _map(self, dataset: Dataset, function: Any, remove_columns: list[str], desc: str) -> Dataset:
        return dataset.map(
            function,
            batched=True,
            batch_size=self.hparams.preproc_batch_size,
            num_proc=self.hparams.preproc_workers,
            remove_columns=remove_columns,
            load_from_cache_file=False,
            desc=desc,
        )

    def _tokenize(self, batch: dict[str, list]) -> dict[str, list]:
        texts = batch["text"]
        add_special_tokens = self.hparams.add_special_tokens
        if self.task == Task.mlm and self.hparams.mask_words:
            result = tokenize_with_word_ids(self.tokenizer, texts, add_special_tokens)
        elif self.task == Task.clf:
            result = dict(
                self.tokenizer(
                    texts,
                    add_special_tokens=add_special_tokens,
                    truncation=True,
                    max_length=self.max_seq_len - int(self.hparams.add_eos_token),
                    return_attention_mask=False,
                    verbose=False,
                )
            )
        else:
            # whole texts: they are cut into training sequences after tokenization
            result = dict(
                self.tokenizer(
                    texts,
                    add_special_tokens=add_special_tokens,
                    truncation=False,
                    return_attention_mask=False,
                    verbose=False,
                )
            )
        if self.hparams.add_eos_token:
            eos = self.tokenizer.eos_token_id
            result = {k: [seq + [eos if k == "input_ids" else -1] for seq in v] for k, v in result.items()}
        if self.task == Task.clf:
            result["label"] = batch["label"]
        return result

    def _preprocess(self, source: DatasetDict) -> DatasetDict:
        result = {}
        for split, ds in source.items():
            tokenized = self._map(ds, self._tokenize, ds.column_names, f"Tokenizing {split}")
            if self.task == Task.clf:
                result[split] = tokenized
                continue
            num_tokens = sum(len(ids) for ids in tokenized["input_ids"])
            keys = tuple(k for k in ("input_ids", "word_ids") if k in tokenized.column_names)
            chunked = self._map(
                tokenized,
                lambda batch, keys=keys: _chunk(batch, self.chunk_len, keys),
                tokenized.column_names,
                f"Chunking {split}",
            )
            if len(chunked) == 0 or (split == "train" and self.random_shift and len(chunked) < 2):
                needed = self.chunk_len * (2 if self.random_shift else 1)
                raise ValueError(
                    f"the {split} split has {num_tokens} tokens, fewer than the {needed} needed for "
                    f"{'two sequences (random shift)' if self.random_shift else 'one sequence'} of {self.chunk_len} "
                    f"tokens (max_seq_len={self.max_seq_len}); use a smaller max_seq_len or a larger corpus"
                )
            if self.task == Task.mlm and self.hparams.static_masking:
                chunked = self._mask_statically(chunked)
            result[split] = chunked
        return DatasetDict(result)

    def _mask_statically(self, dataset: Dataset) -> Dataset:
        """Mask every chunk once, reproducibly (one generator, sequential map)."""
        import numpy as np

        collator = WordMaskingCollator(self.tokenizer, self.hparams.mask_prob)
        rng = np.random.default_rng(STATIC_MASKING_SEED)

        def mask(batch: dict[str, list]) -> dict[str, list]:
            masked = [collator.mask_words_1({"input_ids": i, "word_ids": w}, rng) for i, w in
                      zip(batch["input_ids"], batch["word_ids"], strict=True)]  # fmt: skip
            return {"input_ids": [m["input_ids"] for m in masked], "labels": [m["labels"] for m in masked]}

        return dataset.map(mask, batched=True, remove_columns=dataset.column_names, load_from_cache_file=False)

    # ---- setup and loaders ----

    def setup(self, stage: str | None = None) -> None:
        if not (self.preproc_dir / _DONE).exists():
            self.prepare_data()
        dataset = load_from_disk(str(self.preproc_dir))
        self.ds_train = self._wrap(dataset["train"], self.hparams.random_train_shift)
        self.ds_valid = self._wrap(dataset["valid"], self.hparams.random_valid_shift)
        if "test" in dataset:
            self.ds_test = self._wrap(dataset["test"], self.hparams.random_valid_shift)

    def _wrap(self, dataset: Dataset, random_shift: bool) -> Any:
        if random_shift:
            dataset = RandomShiftDataset(dataset)
        if self.task == Task.clm:
            dataset = CLMDataset(dataset)
        return dataset

    def collator(self, train: bool) -> Any:
        h = self.hparams
        if self.task == Task.mlm and not h.static_masking:
            masking = WordMaskingCollator if h.mask_words else TokenMaskingCollator
            collator = masking(self.tokenizer, h.mask_prob)
        else:
            collator = DefaultCollator(self.tokenizer, self.max_seq_len)
        if h.random_train_truncation if train else h.random_valid_truncation:
            collator = RandomTruncateCollator(collator, h.random_min_seq_len)
        return collator

    def _loader(self, dataset: Any, batch_size: int, shuffle: bool, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before requesting a data loader")
        num_workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=self.collator(train),
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            pin_memory=self.hparams.pin_memory and torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.ds_train, self.hparams.batch_size, shuffle=True, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.ds_valid, self.valid_batch_size, shuffle=False, train=False)

    def test_dataloader(self) -> DataLoader:
        if self.ds_test is None and self.ds_valid is not None:
            raise ValueError(f"{type(self).__name__} has no test split{self.test_split_hint()}")
        return self._loader(self.ds_test, self.valid_batch_size, shuffle=False, train=False)

    def test_split_hint(self) -> str:
        """How to give this module a test split (appended to the error of a missing one)."""
        return ""

    def serving_tokenizer(self) -> Any:
        """The tokenizer to save with a model trained on this data: ``tokenizer(text)`` adds the special tokens of
        this module's task and options (see :mod:`perceiver.data.text.special_tokens`), and truncates to
        ``max_seq_len``."""
        h = self.hparams
        return serving_tokenizer(
            self.tokenizer, self.task.name, h.add_special_tokens, h.add_eos_token, self.max_seq_len
        )

    def generation_token_ids(self) -> dict[str, int | None]:
        """clm: the pad and end-of-generation ids of ``generate`` for a model trained on this data."""
        return generation_token_ids(self.tokenizer, self.hparams.add_eos_token)

    def text_preprocessor(self) -> Any:
        """A ``TextPreprocessor`` that tokenizes like the saved model's tokenizer (for sample filling and inference)."""
        from perceiver.data.text.preprocessor import TextPreprocessor

        return TextPreprocessor(self.serving_tokenizer(), self.max_seq_len, add_special_tokens=True)
