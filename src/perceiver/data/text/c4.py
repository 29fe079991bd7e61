"""Streaming C4 (or any streamed text dataset) for causal language modeling: no preprocessing step; documents are
tokenized on the fly, joined with EOS tokens and cut into training sequences."""

import random
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from perceiver.data.text.collator import IGNORE_INDEX, Collator
from perceiver.data.text.utils import TextSizes, load_tokenizer


class C4Collator(Collator):
    """Pads chunks of ``n + 1`` tokens to the longest one (on the tokenizer's padding side) and returns
    ``(labels, input_ids, pad_mask)`` with labels the inputs shifted by one."""

    def __init__(self, tokenizer: Any):
        if tokenizer.pad_token_id is None:
            raise ValueError(f"tokenizer {type(tokenizer).__name__} has no pad token, needed to pad C4 chunks")
        self.tokenizer = tokenizer

    def collate(self, examples: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        chunks = [list(e["input_ids"]) for e in examples]
        length = max(len(c) for c in chunks)
        ids = torch.full((len(chunks), length), self.tokenizer.pad_token_id, dtype=torch.long)
        pad = torch.ones(len(chunks), length, dtype=torch.bool)
        left = self.tokenizer.padding_side == "left"
        for i, chunk in enumerate(chunks):
            span = slice(length - len(chunk), length) if left else slice(0, len(chunk))
            ids[i, span] = torch.tensor(chunk)
            pad[i, span] = False
        # no targets at padded inputs (nothing to predict from) nor at padded outputs
        labels = ids[:, 1:].masked_fill(pad[:, 1:] | pad[:, :-1], IGNORE_INDEX)
        return labels, ids[:, :-1], pad[:, :-1]


def chunk_documents(
    token_ids: list[list[int]], eos_token_id: int, max_seq_len: int, min_seq_len: int | None, rng: random.Random
) -> list[list[int]]:
    """Join documents with EOS and cut chunks of ``max_seq_len + 1`` tokens, or of a random length in
    ``[min_seq_len, max_seq_len] + 1`` each where ``min_seq_len`` is given. The remainder is dropped."""
    stream = [t for ids in token_ids for t in [*ids, eos_token_id]]
    chunks, start = [], 0
    while True:
        n = (max_seq_len if min_seq_len is None else rng.randint(min_seq_len, max_seq_len)) + 1
        if start + n > len(stream):
            return chunks
        chunks.append(stream[start : start + n])
        start += n


class C4DataModule(TextSizes, pl.LightningDataModule):
    def __init__(
        self,
        tokenizer: str,
        max_seq_len: int,
        min_seq_len: int | None = None,
        batch_size: int = 4,
        shuffle_window_seed: int = 0,
        shuffle_window_size: int = 10000,
        concat_batch_size: int = 16,
        num_train_workers: int = 2,
        num_valid_workers: int = 1,
        padding_side: str | None = None,
        pin_memory: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
        source: str = "allenai/c4",
        source_config: str | None = "en",
        data_files: dict[str, Any] | None = None,
    ):
        """
        :param min_seq_len: training chunks get random lengths in ``[min_seq_len, max_seq_len]`` (else all
            ``max_seq_len``).
        :param concat_batch_size: documents tokenized and joined together (chunks do not cross these groups).
        :param rank, world_size: the data shard of this process (default: from ``torch.distributed``).
        :param source, source_config, data_files: the streamed dataset (``load_dataset(source, source_config,
            data_files=..., streaming=True)``) with ``train`` and ``validation`` splits and a ``text`` column.
        """
        super().__init__()
        if not isinstance(max_seq_len, int) or max_seq_len <= 0:
            raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
        if min_seq_len is not None and not 0 < min_seq_len <= max_seq_len:
            raise ValueError(f"min_seq_len must be in [1..{max_seq_len}] (max_seq_len), got {min_seq_len}")
        self.save_hyperparameters()
        self.tokenizer = load_tokenizer(tokenizer, padding_side=padding_side)
        if not isinstance(tokenizer, str):
            self.hparams["tokenizer"] = type(tokenizer).__name__
        if self.tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer {type(self.tokenizer).__name__} has no EOS token, needed between documents")
        self.collator = C4Collator(self.tokenizer)

    def _node(self) -> tuple[int, int]:
        h = self.hparams
        if h.rank is not None and h.world_size is not None:
            return h.rank, h.world_size
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def stream(self, split: str, train: bool) -> Any:
        from datasets import load_dataset
        from datasets.distributed import split_dataset_by_node

        h = self.hparams
        ds = load_dataset(h.source, h.source_config, data_files=h.data_files, split=split, streaming=True)
        ds = ds.select_columns(["text"])
        if train:
            ds = ds.shuffle(seed=h.shuffle_window_seed, buffer_size=h.shuffle_window_size)
        rank, world_size = self._node()
        if world_size > 1:
            ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
        rng = random.Random(h.shuffle_window_seed + rank)
        min_seq_len = h.min_seq_len if train else None

        def tokenize_and_chunk(batch: dict[str, list]) -> dict[str, list]:
            ids = self.tokenizer(batch["text"], add_special_tokens=False, verbose=False)["input_ids"]
            return {"input_ids": chunk_documents(ids, self.tokenizer.eos_token_id, h.max_seq_len, min_seq_len, rng)}

        return ds.map(tokenize_and_chunk, batched=True, batch_size=h.concat_batch_size, remove_columns=["text"])

    def _loader(self, split: str, train: bool, num_workers: int) -> DataLoader:
        return DataLoader(
            self.stream(split, train),
            batch_size=self.hparams.batch_size,
            collate_fn=self.collator,
            num_workers=num_workers,
            pin_memory=self.hparams.pin_memory and torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.hparams.num_train_workers)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", False, self.hparams.num_valid_workers)
