"""IMDb movie reviews (binary sentiment): clf uses train/test; mlm and clm use the unlabelled and test texts."""

from typing import Any

from datasets import DatasetDict

from perceiver.data.text.common import Task
from perceiver.data.text.hub import HubTextDataModule, text_only


class ImdbDataModule(HubTextDataModule):
    hub_id = "stanfordnlp/imdb"
    hub_config = "plain_text"

    def __init__(self, *args: Any, dataset_dir: str = ".cache/imdb", **kwargs: Any):
        super().__init__(*args, dataset_dir=dataset_dir, **kwargs)

    @property
    def num_classes(self) -> int:
        return 2

    @property
    def label_names(self) -> list[str] | None:
        """clf: the names of the published IMDb classifier (label 0: negative, 1: positive reviews)."""
        return ["NEGATIVE", "POSITIVE"] if self.task == Task.clf else None

    def split_source(self, source: DatasetDict) -> DatasetDict:
        if self.task == Task.clf:
            return DatasetDict(train=source["train"], valid=source["test"])
        return DatasetDict(train=text_only(source["unsupervised"]), valid=text_only(source["test"]))
