"""English Wikipedia articles (text only)."""

from typing import Any

from perceiver.data.text.hub import SplitTrainHubTextDataModule


class WikipediaDataModule(SplitTrainHubTextDataModule):
    hub_id = "wikimedia/wikipedia"
    hub_config = "20231101.en"

    def __init__(self, *args: Any, dataset_dir: str = ".cache/wikipedia", **kwargs: Any):
        super().__init__(*args, dataset_dir=dataset_dir, **kwargs)
