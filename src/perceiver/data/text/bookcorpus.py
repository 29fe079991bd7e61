"""BookCorpus (sentences) and BookCorpusOpen (whole books)."""

from typing import Any

from perceiver.data.text.hub import SplitTrainHubTextDataModule


class BookCorpusDataModule(SplitTrainHubTextDataModule):
    hub_id = "bookcorpus/bookcorpus"
    hub_config = "plain_text"

    def __init__(self, *args: Any, dataset_dir: str = ".cache/bookcorpus", preproc_batch_size: int = 10000, **kw):
        super().__init__(*args, dataset_dir=dataset_dir, preproc_batch_size=preproc_batch_size, **kw)


class BookCorpusOpenDataModule(SplitTrainHubTextDataModule):
    hub_id = "lucadiliello/bookcorpusopen"
    hub_config = None

    def __init__(self, *args: Any, dataset_dir: str = ".cache/bookcorpusopen", preproc_batch_size: int = 10, **kw):
        super().__init__(*args, dataset_dir=dataset_dir, preproc_batch_size=preproc_batch_size, **kw)
