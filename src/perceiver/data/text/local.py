"""Text data modules over local files (txt, json/jsonl, csv, parquet) and the bundled offline corpus."""

import os
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_dataset

from perceiver.data.text.common import Task, TextDataModule, train_valid_split

FORMATS = {".txt": "text", ".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def _as_list(files: str | list[str] | None) -> list[str]:
    if files is None:
        return []
    return [files] if isinstance(files, str | os.PathLike) else [str(f) for f in files]


def check_files(files: list[str], name: str) -> str:
    """Check that ``files`` exist, are not empty and share one format; return that format."""
    if not files:
        raise ValueError(f"{name} must name at least one file")
    formats = set()
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: corpus file not found: {file}")
        if path.stat().st_size == 0:
            raise ValueError(f"{name}: corpus file is empty: {file}")
        suffix = path.suffix.lower()
        if suffix not in FORMATS:
            raise ValueError(f"{name}: unsupported file type {suffix!r} of {file}; supported: {sorted(FORMATS)}")
        formats.add(FORMATS[suffix])
    if len(formats) > 1:
        raise ValueError(f"{name}: files must share one format, got {sorted(formats)}")
    return formats.pop()


def read_text_files(files: list[str]) -> Dataset:
    """One example per paragraph (blank-line separated), each ending in a blank line, so the concatenated token
    stream keeps the text's layout."""
    paragraphs = []
    for file in files:
        text = Path(file).read_text(encoding="utf-8")
        paragraphs.extend(p.strip("\n") + "\n\n" for p in text.split("\n\n") if p.strip())
    if not paragraphs:
        raise ValueError(f"corpus files contain only whitespace: {files}")
    return Dataset.from_dict({"text": paragraphs})


def class_names(labels: list[Any], files: list[str]) -> list[str] | None:
    """The classes of a label column: ``None`` for class indices (ints, or floats with integer values), else the
    sorted distinct values as strings (``"negative"``, ``"positive"``), each class index the position of its name."""
    missing = [i for i, label in enumerate(labels) if label is None or (isinstance(label, float) and label != label)]
    if missing:
        raise ValueError(f"the label column of {files} has no label in {len(missing)} rows (first: row {missing[0]})")
    if all(isinstance(label, int) and not isinstance(label, bool) for label in labels):
        negative = [label for label in labels if label < 0]
        if negative:
            raise ValueError(f"class indices in the label column must be >= 0, got {negative[0]} in {files}")
        return None
    if all(isinstance(label, float) and label.is_integer() and label >= 0 for label in labels):
        return None
    return sorted({str(label) for label in labels})


def hold_out(dataset: Dataset, size: float | int, shuffle: bool) -> tuple[Dataset, Dataset]:
    """``(rest, held_out)``: ``size`` examples (a fraction or a count) of ``dataset``, its tail or a seeded random
    choice."""
    split = train_valid_split(dataset, size, shuffle=shuffle)
    return split["train"], split["valid"]


def _with_labels(dataset: Dataset, labels: list[int]) -> Dataset:
    return dataset.remove_columns("label").add_column("label", labels)


def _check_size(name: str, size: float | int | None) -> None:
    if size is None:
        return
    if isinstance(size, bool) or not (0 < size < 1 or (isinstance(size, int) and size >= 1)):
        raise ValueError(f"{name} must be a fraction in (0, 1) or a count >= 1, got {size!r}")


class LocalTextDataModule(TextDataModule):
    """Texts from local files. Plain text files are split into paragraphs; json/jsonl, csv and parquet files need
    a text column (and a label column for task clf: class indices 0, 1, ... or class names such as ``"positive"``,
    sorted to give the indices).

    Without ``valid_files``, ``valid_size`` of the training examples (a fraction or a count) are held out for
    validation; without ``test_files``, ``test_size`` (if given) are held out for testing as well. For mlm and clm
    the held-out examples are the tail of the files (text the model has not seen, in its order); for clf a seeded
    random choice (labelled files are often sorted by label)."""

    def __init__(
        self,
        train_files: list[str],
        valid_files: list[str] | None = None,
        valid_size: float = 0.05,
        text_column: str = "text",
        label_column: str = "label",
        num_classes: int | None = None,
        test_files: list[str] | None = None,
        test_size: float | None = None,
        dataset_dir: str = ".cache/local-text",
        **kwargs: Any,
    ):
        self.train_files = _as_list(train_files)
        self.valid_files = _as_list(valid_files)
        self.test_files = _as_list(test_files)
        self.file_format = check_files(self.train_files, "train_files")
        for name, files in (("valid_files", self.valid_files), ("test_files", self.test_files)):
            if files and check_files(files, name) != self.file_format:
                raise ValueError(f"train_files and {name} must have the same format")
        _check_size("valid_size", valid_size)
        _check_size("test_size", test_size)
        if test_files and test_size is not None:
            raise ValueError(f"give test_files or test_size, not both (got test_size={test_size!r})")
        self.valid_size = valid_size
        self.test_size = test_size
        self.text_column = text_column
        self.label_column = label_column
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)):
            raise ValueError(f"num_classes must be an int >= 1 or None, got {num_classes!r}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be an int >= 1 or None, got {num_classes!r}")
        self._num_classes = num_classes
        self._class_names: list[str] | None = None
        self._labels_read = False
        super().__init__(dataset_dir=dataset_dir, **kwargs)

    def _read_labels(self) -> None:
        """Class names (or none, for class indices) and the number of classes, from the training files."""
        if self._labels_read:
            return
        train = self._load(self.train_files)
        if "label" not in train.column_names:
            raise ValueError(f"label column {self.label_column!r} not found in {self.train_files}")
        names = class_names(train["label"], self.train_files)
        found = len(names) if names is not None else int(max(train["label"])) + 1
        if self._num_classes is not None and self._num_classes < found:
            kind = f"{found} class names {names}" if names is not None else f"class indices up to {found - 1}"
            raise ValueError(f"num_classes={self._num_classes}, but the training files have {kind}")
        self._class_names = names
        self._num_classes = self._num_classes or found
        self._labels_read = True

    @property
    def num_classes(self) -> int:
        """Number of classes (task clf): as given, else the number of class names or 1 + the largest class index in
        the training files."""
        if self._num_classes is None:
            self._read_labels()
        return self._num_classes

    @property
    def label_names(self) -> list[str] | None:
        """clf: the class names of the label column, or ``"0"``, ``"1"``, ... for class indices."""
        if self.task != Task.clf:
            return None
        self._read_labels()
        if self._class_names is not None:
            return list(self._class_names) + [str(i) for i in range(len(self._class_names), self._num_classes)]
        return [str(i) for i in range(self._num_classes)]

    def source_key(self) -> str:
        stats = []
        for file in self.train_files + ["|"] + self.valid_files + ["|"] + self.test_files:
            if file == "|":
                stats.append(file)
                continue
            st = Path(file).stat()
            stats.append(f"{Path(file).resolve()}:{st.st_size}:{st.st_mtime_ns}")
        sizes = f"{self.valid_size};{self.test_size}"
        return f"{type(self).__name__}({','.join(stats)};{sizes};{self.text_column};{self.label_column})"

    def _load(self, files: list[str]) -> Dataset:
        if self.file_format == "text":
            return read_text_files(files)
        ds = load_dataset(self.file_format, data_files=files, split="train")
        if self.text_column not in ds.column_names:
            raise ValueError(f"text column {self.text_column!r} not found in {files}; columns: {ds.column_names}")
        renames = {self.text_column: "text"}
        if self.label_column in ds.column_names:
            renames[self.label_column] = "label"
        ds = ds.rename_columns({k: v for k, v in renames.items() if k != v})
        return ds.select_columns([c for c in ("text", "label") if c in ds.column_names])

    def _load_split(self, files: list[str]) -> Dataset:
        """Examples of ``files`` with class indices in the ``label`` column (task clf)."""
        ds = self._load(files)
        if self.task != Task.clf or "label" not in ds.column_names:
            return ds
        self._read_labels()
        if self._class_names is None:
            labels = ds["label"]
            if class_names(labels, files) is not None:
                raise ValueError(f"the training files have class indices as labels, but {files} has class names")
            too_large = [int(label) for label in labels if int(label) >= self._num_classes]
            if too_large:
                raise ValueError(
                    f"{files} has class index {too_large[0]}, but num_classes={self._num_classes} (indices 0.."
                    f"{self._num_classes - 1})"
                )
            return _with_labels(ds, [int(label) for label in labels])
        index = {name: i for i, name in enumerate(self._class_names)}
        unknown = sorted({str(label) for label in ds["label"]} - set(index))
        if unknown:
            raise ValueError(
                f"{files} has labels {unknown} that the training files do not have (classes: {self._class_names})"
            )
        return _with_labels(ds, [index[str(label)] for label in ds["label"]])

    def test_split_hint(self) -> str:
        return ": give test_files=[...] or test_size=<fraction or count> (held out from train_files)"

    def load_source_dataset(self) -> DatasetDict:
        train = self._load_split(self.train_files)
        shuffle = self.task == Task.clf
        splits = {}
        if self.test_files:
            splits["test"] = self._load_split(self.test_files)
        elif self.test_size is not None:
            train, splits["test"] = self._hold_out(train, self.test_size, shuffle, "test")
        if self.valid_files:
            valid = self._load_split(self.valid_files)
        else:
            train, valid = self._hold_out(train, self.valid_size, shuffle, "validation")
        return DatasetDict(train=train, valid=valid, **splits)

    @staticmethod
    def _hold_out(train: Dataset, size: float | int, shuffle: bool, split: str) -> tuple[Dataset, Dataset]:
        if len(train) < 2:
            raise ValueError(f"need at least 2 examples to hold out a {split} split, got {len(train)}")
        return hold_out(train, size, shuffle)


def pydoc_topics() -> dict[str, str]:
    """CPython's bundled documentation texts (``pydoc_data.topics``): about 79 topics, 465,000 characters."""
    from pydoc_data.topics import topics

    return dict(topics)


class PydocTextDataModule(TextDataModule):
    """The offline default corpus: English documentation texts that ship with CPython. Every 10th topic (sorted by
    name, starting with the 6th) is held out for validation, about 8 % of the text."""

    def __init__(self, dataset_dir: str = ".cache/pydoc", tokenizer: str = "bytes", max_seq_len: int = 512, **kwargs):
        super().__init__(dataset_dir=dataset_dir, tokenizer=tokenizer, max_seq_len=max_seq_len, **kwargs)

    @staticmethod
    def split_topics() -> tuple[list[str], list[str]]:
        names = sorted(pydoc_topics())
        valid = [n for i, n in enumerate(names) if i % 10 == 5]
        train = [n for n in names if n not in set(valid)]
        return train, valid

    def load_source_dataset(self) -> DatasetDict:
        topics = pydoc_topics()
        train, valid = self.split_topics()
        return DatasetDict(
            train=Dataset.from_dict({"text": [topics[n].strip() + "\n\n" for n in train]}),
            valid=Dataset.from_dict({"text": [topics[n].strip() + "\n\n" for n in valid]}),
        )
