"""enwik8: the first 100 MB of an English Wikipedia XML dump, one line per example (newlines restored)."""

from typing import Any

from datasets import Dataset

from perceiver.data.text.hub import SplitTrainHubTextDataModule


class Enwik8DataModule(SplitTrainHubTextDataModule):
    hub_id = "LTCB/enwik8"
    hub_config = "enwik8"

    def __init__(self, *args: Any, dataset_dir: str = ".cache/enwik8", source_valid_size: float = 0.05, **kwargs):
        super().__init__(*args, dataset_dir=dataset_dir, source_valid_size=source_valid_size, **kwargs)

    def prepare_text(self, dataset: Dataset) -> Dataset:
        return dataset.map(lambda e: {"text": e["text"] + "\n"}).select_columns(["text"])
