"""MNIST from the Hugging Face hub (needs a network on first use; then cached in ``dataset_dir``)."""

from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from perceiver.data.vision.common import DigitImages, ImageDataset, ImageTransform
from perceiver.validation import check_loader_args

MNIST_HUB_ID = "ylecun/mnist"


class MNISTPreprocessor:
    """PIL images / uint8 arrays -> batch ``(b, 28, 28, 1)`` normalised to [-1, 1] (as the MNIST data module)."""

    def __init__(self, normalize: bool = True, channels_last: bool = True):
        self.transform = ImageTransform((28, 28, 1), normalize=normalize, channels_last=channels_last)

    def preprocess(self, image: Any) -> torch.Tensor:
        return self.transform(image)

    def preprocess_batch(self, images: list[Any]) -> torch.Tensor:
        return torch.stack([self.transform(image) for image in images])


class MNISTDataModule(DigitImages, pl.LightningDataModule):
    """MNIST handwritten digits, 28x28 grey, 10 classes; the test split is the validation split."""

    image_size = 28

    def __init__(
        self,
        dataset_dir: str = ".cache/mnist",
        normalize: bool = True,
        channels_last: bool = True,
        random_crop: int | None = None,
        batch_size: int = 64,
        num_workers: int = 3,
        pin_memory: bool = True,
        shuffle: bool = True,
    ):
        super().__init__()
        check_loader_args(batch_size, num_workers)
        self.save_hyperparameters()
        self.ds_train = None
        self.ds_valid = None

    def load_source_dataset(self) -> Any:
        from datasets import load_dataset

        return load_dataset(MNIST_HUB_ID, cache_dir=self.hparams.dataset_dir)

    def prepare_data(self) -> None:
        self.load_source_dataset()

    def setup(self, stage: str | None = None) -> None:
        source = self.load_source_dataset()
        h = self.hparams
        train_transform = ImageTransform((28, 28, 1), h.normalize, h.channels_last, random_crop=h.random_crop)
        valid_transform = ImageTransform((28, 28, 1), h.normalize, h.channels_last)
        self.ds_train = ImageDataset(source["train"], train_transform)
        self.ds_valid = ImageDataset(source["test"], valid_transform)

    def _loader(self, dataset: Any, shuffle: bool) -> DataLoader:
        h = self.hparams
        return DataLoader(
            dataset,
            batch_size=h.batch_size,
            shuffle=shuffle,
            num_workers=h.num_workers,
            persistent_workers=h.num_workers > 0,
            pin_memory=h.pin_memory and torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.ds_train, self.hparams.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.ds_valid, False)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
