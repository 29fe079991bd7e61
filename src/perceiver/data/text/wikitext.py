"""WikiText-103 (raw): the train and validation splits."""

from typing import Any

from datasets import DatasetDict

from perceiver.data.text.hub import HubTextDataModule, text_only


class WikiTextDataModule(HubTextDataModule):
    hub_id = "Salesforce/wikitext"
    hub_config = "wikitext-103-raw-v1"

    def __init__(self, *args: Any, dataset_dir: str = ".cache/wikitext", **kwargs: Any):
        super().__init__(*args, dataset_dir=dataset_dir, **kwargs)

    def split_source(self, source: DatasetDict) -> DatasetDict:
        return DatasetDict(train=text_only(source["train"]), valid=text_only(source["validation"]))
