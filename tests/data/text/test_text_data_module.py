"""TextDataModule options on a small local corpus (CPython's bundled documentation text written to files)."""

import json

import numpy as np
import pytest
import torch

from perceiver.data.text import LocalTextDataModule, PydocTextDataModule, Task, TextDataModule
from perceiver.data.text.collator import RandomTruncateCollator, WordMaskingCollator
from perceiver.data.text.dataset import RandomShiftDataset
from perceiver.data.text.local import pydoc_topics
from perceiver.data.text.utils import byte_tokenizer

MAX_SEQ_LEN = 64


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    topics = pydoc_topics()
    text = "\n\n".join(topics[name] for name in sorted(topics)[:12])
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path


def make_dm(corpus_file, tmp_path, **kwargs) -> LocalTextDataModule:
    options = dict(
        train_files=[str(corpus_file)],
        dataset_dir=str(tmp_path / "cache"),
        tokenizer="bytes",
        max_seq_len=MAX_SEQ_LEN,
        batch_size=16,
        num_workers=0,
    )
    dm = LocalTextDataModule(**(options | kwargs))
    dm.prepare_data()
    dm.setup()
    return dm


def batches(loader, n):
    it = iter(loader)
    return [next(it) for _ in range(n)]


def test_mlm_batches_masked_fraction_and_80_10_10_split(corpus_file, tmp_path):
    dm = make_dm(corpus_file, tmp_path, task="mlm", mask_prob=0.25, batch_size=64)
    mask_id = dm.tokenizer.mask_token_id
    labels, ids, pad_mask = (torch.cat(t) for t in zip(*batches(dm.train_dataloader(), 6), strict=True))
    assert ids.shape[1] == MAX_SEQ_LEN and not pad_mask.any()
    selected = labels != -100
    assert selected.float().mean().item() == pytest.approx(0.25, abs=0.05)
    # 80 % of the targets are mask tokens, 10 % random, 10 % unchanged
    assert (ids[selected] == mask_id).float().mean().item() == pytest.approx(0.8, abs=0.05)
    unchanged = (ids[selected] == labels[selected]).float().mean().item()
    assert unchanged == pytest.approx(0.1, abs=0.04)
    assert (ids[~selected] != mask_id).all()


def test_whole_word_masking_masks_all_tokens_of_a_word():
    tokenizer = byte_tokenizer()
    collator = WordMaskingCollator(tokenizer, mask_prob=0.5, seed=1)
    example = {"input_ids": [10, 11, 12, 13, 14, 15], "word_ids": [0, 0, 0, 1, 1, -1]}
    seen = set()
    for _ in range(50):
        labels = np.array(collator.mask_words_1(example)["labels"])
        selected = tuple(labels != -100)
        assert selected[:3] in ((True,) * 3, (False,) * 3)
        assert selected[3:5] in ((True,) * 2, (False,) * 2)
        assert not selected[5]  # no word (special token)
        seen.add(selected)
    assert len(seen) == 4


def test_token_masking(corpus_file, tmp_path):
    dm = make_dm(corpus_file, tmp_path, task="mlm", mask_words=False, mask_prob=0.3, batch_size=64)
    labels, ids, _ = batches(dm.train_dataloader(), 1)[0]
    assert (labels != -100).float().mean().item() == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("static", [True, False])
def test_static_versus_dynamic_masking(corpus_file, tmp_path, static):
    dm = make_dm(corpus_file, tmp_path, task="mlm", static_masking=static)
    first, second = (batches(dm.val_dataloader(), 1)[0] for _ in range(2))
    same = torch.equal(first[1], second[1]) and torch.equal(first[0], second[0])
    assert same == static
    assert (first[0] != -100).any()


def test_static_token_masking_is_rejected(corpus_file, tmp_path):
    with pytest.raises(ValueError, match="static_masking=true is only supported for mask_words=true"):
        make_dm(corpus_file, tmp_path, task="mlm", static_masking=True, mask_words=False)


def test_clm_batches_are_shifted_and_unpadded(corpus_file, tmp_path):
    dm = make_dm(corpus_file, tmp_path, task="clm", padding_side="left")
    labels, ids, pad_mask = batches(dm.train_dataloader(), 1)[0]
    assert ids.shape == (16, MAX_SEQ_LEN) and labels.shape == ids.shape
    assert not pad_mask.any()
    assert torch.equal(ids[:, 1:], labels[:, :-1])


@pytest.mark.parametrize("enabled", [True, False])
def test_random_shift(corpus_file, tmp_path, enabled):
    dm = make_dm(corpus_file, tmp_path, task="clm", random_train_shift=enabled)
    assert isinstance(dm.ds_train.dataset, RandomShiftDataset) == enabled
    first = [dm.ds_train[0]["input_ids"] for _ in range(5)]
    assert all(len(ids) == MAX_SEQ_LEN for ids in first)
    assert (len({tuple(ids) for ids in first}) > 1) == enabled


def test_random_shift_joins_consecutive_chunks():
    chunks = [{"input_ids": list(range(i * 4, i * 4 + 4))} for i in range(3)]
    ds = RandomShiftDataset(chunks)
    assert len(ds) == 2
    for _ in range(20):
        ids = ds[0]["input_ids"]
        assert ids == list(range(ids[0], ids[0] + 4)) and 0 <= ids[0] <= 3


@pytest.mark.parametrize("enabled", [True, False])
def test_random_truncation_lengths(corpus_file, tmp_path, enabled):
    dm = make_dm(corpus_file, tmp_path, task="clm", random_train_truncation=enabled, random_min_seq_len=16)
    loader = dm.train_dataloader()
    assert isinstance(loader.collate_fn, RandomTruncateCollator) == enabled
    lengths = set()
    for labels, ids, pad_mask in batches(loader, 10):
        assert labels.shape == ids.shape == pad_mask.shape and not pad_mask.any()
        assert 16 <= ids.shape[1] <= MAX_SEQ_LEN
        lengths.add(ids.shape[1])
    assert (len(lengths) > 1) if enabled else lengths == {MAX_SEQ_LEN}


@pytest.fixture(scope="module")
def clf_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    texts = ["good movie " * (i % 7 + 1) if i % 2 else "bad film " * (i % 5 + 1) for i in range(40)]
    rows = [{"review": t, "sentiment": i % 2} for i, t in enumerate(texts)]
    train, valid = root / "train.jsonl", root / "valid.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in rows[:30]))
    valid.write_text("\n".join(json.dumps(r) for r in rows[30:]))
    return train, valid


def make_clf_dm(clf_files, tmp_path, **kwargs):
    train, valid = clf_files
    return make_dm(
        train,
        tmp_path,
        valid_files=[str(valid)],
        task="clf",
        text_column="review",
        label_column="sentiment",
        batch_size=8,
        **kwargs,
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_clf_padding_side(clf_files, tmp_path, side):
    dm = make_clf_dm(clf_files, tmp_path, padding_side=side)
    labels, ids, pad_mask = batches(dm.train_dataloader(), 1)[0]
    assert labels.shape == (8,) and set(labels.tolist()) <= {0, 1}
    assert ids.shape[1] <= MAX_SEQ_LEN
    assert torch.equal(pad_mask, ids == dm.tokenizer.pad_token_id)
    assert pad_mask.any()
    edge = pad_mask[:, 0] if side == "left" else pad_mask[:, -1]
    other = pad_mask[:, -1] if side == "left" else pad_mask[:, 0]
    assert edge.any() and not other.any()


@pytest.mark.parametrize("special", [True, False])
def test_add_special_tokens(clf_files, tmp_path, special):
    dm = make_clf_dm(clf_files, tmp_path, add_special_tokens=special, padding_side="right")
    _, ids, _ = batches(dm.train_dataloader(), 1)[0]
    assert (ids[:, 0] == dm.tokenizer.cls_token_id).all() == special


@pytest.mark.parametrize("eos", [True, False])
def test_add_eos_token(clf_files, tmp_path, eos):
    dm = make_clf_dm(clf_files, tmp_path, add_eos_token=eos, padding_side="left")
    _, ids, _ = batches(dm.train_dataloader(), 1)[0]
    assert (ids[:, -1] == dm.tokenizer.eos_token_id).all() == eos


def test_preprocessing_cache_is_reused(corpus_file, tmp_path, monkeypatch):
    dm = make_dm(corpus_file, tmp_path, task="clm")
    calls = []
    original = LocalTextDataModule.load_source_dataset
    monkeypatch.setattr(
        LocalTextDataModule, "load_source_dataset", lambda self: calls.append(1) or original(self)
    )  # fmt: skip
    again = make_dm(corpus_file, tmp_path, task="clm")
    assert calls == [] and again.preproc_dir == dm.preproc_dir
    assert again.ds_train[3] == dm.ds_train[3]
    other = make_dm(corpus_file, tmp_path, task="clm", max_seq_len=32)
    assert calls == [1] and other.preproc_dir != dm.preproc_dir


def test_hparams_are_plain_values(corpus_file, tmp_path):
    dm = make_dm(corpus_file, tmp_path, task=Task.clm, tokenizer=byte_tokenizer())
    assert dm.hparams.task == "clm" and isinstance(dm.hparams.tokenizer, str)
    assert dm.vocab_size == 262


def test_pydoc_data_module_splits_held_out_topics(tmp_path):
    train, valid = PydocTextDataModule.split_topics()
    assert len(valid) == 8 and not set(train) & set(valid)
    dm = PydocTextDataModule(dataset_dir=str(tmp_path), task="clm", max_seq_len=128, num_workers=0, batch_size=4)
    dm.prepare_data()
    dm.setup()
    assert len(dm.ds_train) > 10 * len(dm.ds_valid) > 0
    labels, ids, _ = batches(dm.val_dataloader(), 1)[0]
    assert ids.shape == (4, 128)


# ---- bad input ----


def test_missing_corpus_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus file not found: .*missing.txt"):
        LocalTextDataModule(train_files=[str(tmp_path / "missing.txt")], tokenizer="bytes", max_seq_len=8)


def test_empty_corpus_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="corpus file is empty: .*empty.txt"):
        LocalTextDataModule(train_files=[str(empty)], tokenizer="bytes", max_seq_len=8)


def test_corpus_shorter_than_one_training_sequence(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("A short text.\n\nAnother paragraph.\n\nAnd a third one.")
    with pytest.raises(ValueError, match="fewer than the 513 needed for one sequence of 513 tokens"):
        make_dm(short, tmp_path, task="clm", max_seq_len=512, valid_size=1)


def test_missing_label_column(clf_files, tmp_path):
    train, _ = clf_files
    with pytest.raises(ValueError, match="task clf needs a 'label' column in the train split"):
        make_dm(train, tmp_path, task="clf", text_column="review", label_column="stars", valid_size=5)


def test_tokenizer_without_pad_token(tmp_path, corpus_file):
    from transformers import PreTrainedTokenizerFast

    from perceiver.data.text.tokenizer import build_bytes_tokenizer

    no_pad = PreTrainedTokenizerFast(tokenizer_object=build_bytes_tokenizer())
    assert no_pad.pad_token_id is None
    with pytest.raises(ValueError, match="task clf pads texts to equal length, but tokenizer .* has no pad token"):
        LocalTextDataModule(train_files=[str(corpus_file)], tokenizer=no_pad, max_seq_len=8, task="clf")
    from perceiver.data.text.collator import DefaultCollator

    with pytest.raises(ValueError, match="has no pad token, but this batch has sequences of different lengths"):
        DefaultCollator(no_pad)([{"input_ids": [7, 8], "label": 0}, {"input_ids": [7], "label": 1}])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "xyz"}, "task must be one of"),
        ({"max_seq_len": 0}, "max_seq_len must be a positive int, got 0"),
        ({"mask_prob": 1.5}, r"mask_prob must be in \(0, 1\), got 1.5"),
        ({"padding_side": "top"}, "padding_side must be 'left', 'right' or None, got 'top'"),
        ({"task": "clf", "random_train_shift": True}, "need task mlm or clm, got task=clf"),
    ],
)
def test_invalid_options(corpus_file, kwargs, match):
    options = dict(train_files=[str(corpus_file)], tokenizer="bytes", max_seq_len=8) | kwargs
    with pytest.raises(ValueError, match=match):
        LocalTextDataModule(**options)


def test_text_data_module_needs_a_source(tmp_path):
    dm = TextDataModule(dataset_dir=str(tmp_path), tokenizer="bytes", max_seq_len=8)
    with pytest.raises(NotImplementedError):
        dm.prepare_data()


def test_static_masks_are_reproducible_across_preprocessing_runs(corpus_file, tmp_path):
    a = make_dm(corpus_file, tmp_path / "a", task="mlm", static_masking=True)
    b = make_dm(corpus_file, tmp_path / "b", task="mlm", static_masking=True)
    assert a.preproc_dir != b.preproc_dir
    assert a.ds_train[5] == b.ds_train[5] and a.ds_valid[1] == b.ds_valid[1]
    assert any(label != -100 for label in a.ds_train[5]["labels"])
