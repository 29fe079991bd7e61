"""Named (hub) data modules without a network: split logic on stand-in datasets, and streaming C4 on local files."""

import json
import random

import pytest
import torch
from datasets import Dataset, DatasetDict

from perceiver.data.text import (
    C4DataModule,
    Enwik8DataModule,
    ImdbDataModule,
    Task,
    WikiTextDataModule,
)
from perceiver.data.text.c4 import chunk_documents


def fake_hub(monkeypatch, cls, splits):
    monkeypatch.setattr(cls, "load_hub_dataset", lambda self, **kw: DatasetDict(splits))


def test_imdb_splits_by_task(monkeypatch, tmp_path):
    reviews = {"text": ["good", "bad", "fine", "poor"], "label": [1, 0, 1, 0]}
    unsup = {"text": ["a", "b", "c"], "label": [-1, -1, -1]}
    fake_hub(monkeypatch, ImdbDataModule, {k: Dataset.from_dict(v) for k, v in
             {"train": reviews, "test": reviews, "unsupervised": unsup}.items()})  # fmt: skip
    clf = ImdbDataModule(tokenizer="bytes", max_seq_len=8, task="clf", dataset_dir=str(tmp_path))
    source = clf.load_source_dataset()
    assert clf.num_classes == 2 and source["train"]["label"] == [1, 0, 1, 0]
    assert clf.label_names == ["NEGATIVE", "POSITIVE"]  # saved with the model, as the published classifier's
    mlm = ImdbDataModule(tokenizer="bytes", max_seq_len=8, task=Task.mlm, dataset_dir=str(tmp_path))
    source = mlm.load_source_dataset()
    assert source["train"]["text"] == ["a", "b", "c"] and source["train"].column_names == ["text"]


def test_wikitext_and_enwik8_splits(monkeypatch, tmp_path):
    splits = {"train": Dataset.from_dict({"text": ["x"] * 5}), "validation": Dataset.from_dict({"text": ["y"] * 2})}
    fake_hub(monkeypatch, WikiTextDataModule, splits)
    source = WikiTextDataModule(tokenizer="bytes", max_seq_len=8, dataset_dir=str(tmp_path)).load_source_dataset()
    assert (len(source["train"]), len(source["valid"])) == (5, 2)
    fake_hub(monkeypatch, Enwik8DataModule, {"train": Dataset.from_dict({"text": [f"line {i}" for i in range(100)]})})
    dm = Enwik8DataModule(tokenizer="bytes", max_seq_len=8, dataset_dir=str(tmp_path), random_train_shift=True)
    source = dm.load_source_dataset()
    assert (len(source["train"]), len(source["valid"])) == (95, 5)
    # with random shift the split keeps the order; lines get their newline back
    assert source["train"]["text"][:2] == ["line 0\n", "line 1\n"]


def test_chunk_documents():
    chunks = chunk_documents([[1, 2, 3], [4, 5]], eos_token_id=0, max_seq_len=2, min_seq_len=None, rng=random.Random(0))
    assert chunks == [[1, 2, 3], [0, 4, 5]]
    rng = random.Random(0)
    chunks = chunk_documents([list(range(10, 60))], 0, max_seq_len=8, min_seq_len=3, rng=rng)
    assert all(4 <= len(c) <= 9 for c in chunks) and len({len(c) for c in chunks}) > 1


@pytest.fixture
def local_stream(tmp_path):
    files = {}
    for split in ("train", "validation"):
        path = tmp_path / f"{split}.jsonl"
        path.write_text("\n".join(json.dumps({"text": f"Doc {i} " + "word " * (i % 9 + 2)}) for i in range(30)))
        files[split] = str(path)
    return files


def test_c4_streaming_on_local_files(local_stream):
    dm = C4DataModule(
        "bytes", max_seq_len=32, min_seq_len=8, batch_size=4, num_train_workers=0, num_valid_workers=0,
        padding_side="left", source="json", source_config=None, data_files=local_stream,
    )  # fmt: skip
    assert dm.vocab_size == 262 and dm.max_seq_len == 32
    lengths = set()
    for i, (labels, ids, pad_mask) in enumerate(dm.train_dataloader()):
        real = ~pad_mask
        assert 8 <= ids.shape[1] <= 32 and (real.sum(1) >= 8).all()
        assert (pad_mask[:, 0] | ~pad_mask.any(1)).all()  # left padding
        both = real[:, :-1] & real[:, 1:]
        assert torch.equal(ids[:, 1:][both], labels[:, :-1][both])
        assert (labels[pad_mask] == -100).all()
        lengths.add(ids.shape[1])
        if i == 5:
            break
    assert len(lengths) > 1
    labels, ids, pad_mask = next(iter(dm.val_dataloader()))
    assert ids.shape == (4, 32) and not pad_mask.any()


def test_c4_rank_sharding(local_stream):
    import re

    shards = []
    for rank in (0, 1):
        dm = C4DataModule("bytes", max_seq_len=16, num_valid_workers=0, source="json", source_config=None,
                          data_files=local_stream, rank=rank, world_size=2)  # fmt: skip
        text = "".join(dm.tokenizer.decode(x) for _, batch, _ in dm.val_dataloader() for x in batch)
        shards.append(set(re.findall(r"Doc (\d+) ", text)))
    # each document goes to one rank
    assert len(shards[0]) > 5 and len(shards[1]) > 5 and not shards[0] & shards[1]


def test_c4_bad_input():
    with pytest.raises(ValueError, match=r"min_seq_len must be in \[1..16\]"):
        C4DataModule("bytes", max_seq_len=16, min_seq_len=20)
