"""LocalTextDataModule: class names as labels (csv, jsonl), test splits from files or held out, and their errors."""

import json

import pytest

from perceiver.data.text import LocalTextDataModule, PydocTextDataModule


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def make(tmp_path, train, **kwargs):
    options = dict(train_files=[train], task="clf", tokenizer="bytes", max_seq_len=32, batch_size=4, num_workers=0,
                   dataset_dir=str(tmp_path / "cache"))  # fmt: skip
    dm = LocalTextDataModule(**(options | kwargs))
    dm.prepare_data()
    dm.setup()
    return dm


def test_class_names_in_a_csv_label_column(tmp_path):
    rows = ["text,label"] + [f"text {i},{'positive' if i % 3 else 'negative'}" for i in range(30)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    dm = make(tmp_path, str(tmp_path / "train.csv"), valid_size=6)
    assert dm.num_classes == 2 and dm.label_names == ["negative", "positive"]
    labels = [example["label"] for example in dm.ds_train] + [example["label"] for example in dm.ds_valid]
    assert sorted(set(labels)) == [0, 1] and labels.count(0) == 10  # every third row is "negative"
    # clf holds out a seeded random choice, not the tail (labelled files are often sorted by label)
    valid_texts = list(dm.load_source_dataset()["valid"]["text"])
    assert valid_texts != [f"text {i}" for i in range(24, 30)] and len(valid_texts) == 6
    batch_labels, _, _ = next(iter(dm.val_dataloader()))
    assert batch_labels.dtype.is_floating_point is False


def test_class_indices_are_named_by_their_value(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": f"t{i}", "label": i % 3} for i in range(12)])
    dm = make(tmp_path, train, valid_size=3)
    assert dm.label_names == ["0", "1", "2"]
    assert LocalTextDataModule(train_files=[train], task="clf", tokenizer="bytes", max_seq_len=8,
                               num_classes=5).label_names == ["0", "1", "2", "3", "4"]  # fmt: skip
    assert LocalTextDataModule(train_files=[train], task="mlm", tokenizer="bytes", max_seq_len=8).label_names is None


def test_test_split_from_files_or_held_out(tmp_path):
    rows = [{"text": f"text {i}", "label": ["a", "b"][i % 2]} for i in range(20)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    test = write_jsonl(tmp_path / "test.jsonl", rows[:5])
    dm = make(tmp_path / "files", train, test_files=[test], valid_size=4)
    assert (len(dm.ds_train), len(dm.ds_valid), len(dm.ds_test)) == (16, 4, 5)
    assert [e["label"] for e in dm.ds_test] == [0, 1, 0, 1, 0]
    labels, input_ids, _ = next(iter(dm.test_dataloader()))
    assert labels.tolist() == [0, 1, 0, 1] and input_ids.shape[0] == 4

    held_out = make(tmp_path / "held", train, test_size=0.25, valid_size=0.25)
    assert (len(held_out.ds_train), len(held_out.ds_valid), len(held_out.ds_test)) == (11, 4, 5)


def test_text_files_hold_out_their_tail_for_mlm(tmp_path):
    (tmp_path / "corpus.txt").write_text("\n\n".join(f"paragraph number {i} of the corpus" for i in range(20)))
    dm = LocalTextDataModule(train_files=[str(tmp_path / "corpus.txt")], tokenizer="bytes", max_seq_len=8,
                             valid_size=2, test_size=2, dataset_dir=str(tmp_path / "cache"))  # fmt: skip
    source = dm.load_source_dataset()
    assert [t.strip() for t in source["test"]["text"]] == [f"paragraph number {i} of the corpus" for i in (18, 19)]
    assert [t.strip() for t in source["valid"]["text"]] == [f"paragraph number {i} of the corpus" for i in (16, 17)]


def test_no_test_split_names_the_options(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": f"t{i}", "label": i % 2} for i in range(8)])
    dm = make(tmp_path, train, valid_size=2)
    with pytest.raises(
        ValueError, match=r"LocalTextDataModule has no test split: give test_files=\[...\] or test_size"
    ):
        dm.test_dataloader()
    pydoc = PydocTextDataModule(dataset_dir=str(tmp_path / "pydoc"), task="clm", max_seq_len=64)
    pydoc.ds_valid = []  # set up without a test split
    with pytest.raises(ValueError, match="PydocTextDataModule has no test split"):
        pydoc.test_dataloader()


@pytest.mark.parametrize(
    "rows, kwargs, match",
    [
        ([{"text": "a", "label": "x"}, {"text": "b", "label": None}], {}, "has no label in 4 rows .first: row 1."),
        ([{"text": "a", "label": 0}, {"text": "b", "label": -1}], {}, "class indices .* must be >= 0, got -1"),
        ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], {"num_classes": 1},
         r"num_classes=1, but the training files have 2 class names \['x', 'y'\]"),
        ([{"text": "a", "label": 0}, {"text": "b", "label": 4}], {"num_classes": 3},
         "num_classes=3, but the training files have class indices up to 4"),
    ],
)  # fmt: skip
def test_bad_labels(tmp_path, rows, kwargs, match):
    train = write_jsonl(tmp_path / "train.jsonl", rows * 4)
    with pytest.raises(ValueError, match=match):
        make(tmp_path, train, valid_size=2, **kwargs)


def test_validation_labels_the_training_files_do_not_have(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": f"t{i}", "label": ["neg", "pos"][i % 2]} for i in range(6)])
    valid = write_jsonl(tmp_path / "valid.jsonl", [{"text": "t", "label": "neutral"}])
    with pytest.raises(ValueError, match=r"has labels \['neutral'\] that the training files do not have"):
        make(tmp_path, train, valid_files=[valid])
    numbers = write_jsonl(tmp_path / "numbers.jsonl", [{"text": "t", "label": 7}])
    with pytest.raises(ValueError, match="class index 7, but num_classes=2"):
        make(tmp_path, write_jsonl(tmp_path / "t2.jsonl", [{"text": "t", "label": i % 2} for i in range(4)]),
             valid_files=[numbers])  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"test_size": 1.5}, r"test_size must be a fraction in \(0, 1\) or a count >= 1, got 1.5"),
        ({"test_size": 0.1, "test_files": ["x.jsonl"]}, "give test_files or test_size, not both"),
        ({"num_classes": 0}, "num_classes must be an int >= 1 or None, got 0"),
    ],
)
def test_bad_split_options(tmp_path, kwargs, match):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "t", "label": 0}])
    if "test_files" in kwargs:
        kwargs["test_files"] = [write_jsonl(tmp_path / "x.jsonl", [{"text": "t", "label": 0}])]
    with pytest.raises(ValueError, match=match):
        LocalTextDataModule(train_files=[train], task="clf", tokenizer="bytes", max_seq_len=8, **kwargs)
