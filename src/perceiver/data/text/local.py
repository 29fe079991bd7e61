"""Text data modules over local files (txt, json/jsonl, csv, parquet) and the bundled offline corpus."""

import os
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_dataset

from perceiver.data.text.common import TextDataModule, train_valid_split

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


class LocalTextDataModule(TextDataModule):
    """Texts from local files. Plain text files are split into paragraphs; json/jsonl, csv and parquet files need
    a text column (and a label column for task clf). Without ``valid_files`` the last ``valid_size`` of the
    training examples (a fraction or a count) are held out."""

    def __init__(
        self,
        train_files: list[str],
        valid_files: list[str] | None = None,
        valid_size: float = 0.05,
        text_column: str = "text",
        label_column: str = "label",
        num_classes: int | None = None,
        dataset_dir: str = ".cache/local-text",
        **kwargs: Any,
    ):
        self.train_files = _as_list(train_files)
        self.valid_files = _as_list(valid_files)
        self.file_format = check_files(self.train_files, "train_files")
        if self.valid_files and check_files(self.valid_files, "valid_files") != self.file_format:
            raise ValueError("train_files and valid_files must have the same format")
        if not (0 < valid_size < 1 or (isinstance(valid_size, int) and valid_size >= 1)):
            raise ValueError(f"valid_size must be a fraction in (0, 1) or a count >= 1, got {valid_size}")
        self.valid_size = valid_size
        self.text_column = text_column
        self.label_column = label_column
        self._num_classes = num_classes
        super().__init__(dataset_dir=dataset_dir, **kwargs)

    @property
    def num_classes(self) -> int:
        """Number of classes (task clf): as given, else 1 + the largest label in the training files."""
        if self._num_classes is None:
            labels = self._load(self.train_files)
            if "label" not in labels.column_names:
                raise ValueError(f"label column {self.label_column!r} not found in {self.train_files}")
            self._num_classes = int(max(labels["label"])) + 1
        return self._num_classes

    def source_key(self) -> str:
        stats = []
        for file in self.train_files + ["|"] + self.valid_files:
            if file == "|":
                stats.append(file)
                continue
            st = Path(file).stat()
            stats.append(f"{Path(file).resolve()}:{st.st_size}:{st.st_mtime_ns}")
        return f"{type(self).__name__}({','.join(stats)};{self.valid_size};{self.text_column};{self.label_column})"

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

    def load_source_dataset(self) -> DatasetDict:
        train = self._load(self.train_files)
        if self.valid_files:
            return DatasetDict(train=train, valid=self._load(self.valid_files))
        if len(train) < 2:
            raise ValueError(f"need at least 2 examples to hold out a validation split, got {len(train)}")
        # The tail is held out (no shuffling): validation text the model has not seen, in its original order.
        return train_valid_split(train, self.valid_size, shuffle=False)


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
