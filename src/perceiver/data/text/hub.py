"""Base of the named text data modules: a Hugging Face hub dataset, downloaded into ``dataset_dir`` on first use
(needs a network once; cached afterwards)."""

from typing import Any

from datasets import Dataset, DatasetDict, load_dataset

from perceiver.data.text.common import TextDataModule, train_valid_split


class HubTextDataModule(TextDataModule):
    """Subclasses set ``hub_id`` / ``hub_config`` and map the hub splits to ``train`` / ``valid`` in
    ``split_source``."""

    hub_id: str = ""
    hub_config: str | None = None

    def load_hub_dataset(self, **kwargs: Any) -> DatasetDict:
        return load_dataset(self.hub_id, self.hub_config, cache_dir=str(self.hparams.dataset_dir), **kwargs)

    def source_key(self) -> str:
        return f"{type(self).__name__}({self.hub_id}/{self.hub_config})"

    def split_source(self, source: DatasetDict) -> DatasetDict:
        raise NotImplementedError

    def load_source_dataset(self) -> DatasetDict:
        return self.split_source(self.load_hub_dataset())


def text_only(dataset: Dataset) -> Dataset:
    return dataset.select_columns(["text"])


class SplitTrainHubTextDataModule(HubTextDataModule):
    """Hub datasets with only a train split: ``source_valid_size`` of it is held out (and, with
    ``source_train_size``, the rest is subsampled)."""

    def __init__(self, *args: Any, source_train_size: float | int | None = None, source_valid_size: float = 0.02, **kw):
        self.source_train_size = source_train_size
        self.source_valid_size = source_valid_size
        super().__init__(*args, **kw)

    def source_key(self) -> str:
        return f"{super().source_key()}:{self.source_train_size}:{self.source_valid_size}"

    def prepare_text(self, dataset: Dataset) -> Dataset:
        return text_only(dataset)

    def split_source(self, source: DatasetDict) -> DatasetDict:
        train = self.prepare_text(source["train"])
        split = train_valid_split(train, self.source_valid_size, shuffle=not self.random_shift)
        if self.source_train_size is not None:
            split["train"] = split["train"].train_test_split(train_size=self.source_train_size, seed=0)["train"]
        return split
