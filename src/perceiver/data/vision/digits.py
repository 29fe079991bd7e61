"""The bundled offline image data set: scikit-learn's 1797 grey 8x8 handwritten digits, 10 classes."""

from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from perceiver.data.vision.common import DigitImages, random_crop
from perceiver.validation import check_loader_args


class DigitsDataset(Dataset):
    """Images ``(n, 8, 8, 1)`` in [0, 1]; ``random_shift`` translates each by up to that many pixels (training
    augmentation), ``normalize`` maps to [-1, 1], ``channels_last=False`` gives ``(1, 8, 8)``."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        normalize: bool = True,
        channels_last: bool = True,
        random_shift: int = 0,
    ):
        self.images = images
        self.labels = labels
        self.normalize = normalize
        self.channels_last = channels_last
        self.random_shift = random_shift

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = self.images[index]
        if self.random_shift:
            image = torch.from_numpy(random_crop(image.numpy(), self.random_shift))
        if self.normalize:
            image = (image - 0.5) / 0.5
        if not self.channels_last:
            image = image.permute(2, 0, 1)
        return {"image": image, "label": self.labels[index]}


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images ``(1797, 8, 8)`` with values 0..16 and labels ``(1797,)``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.float32), digits.target.astype(np.int64)


class DigitsDataModule(DigitImages, pl.LightningDataModule):
    """scikit-learn's 8x8 digits (offline). A fixed, class-stratified ``valid_size`` fraction is held out.
    Images are ``(8, 8, 1)`` channels-last (or ``(1, 8, 8)``), scaled to [0, 1] or, with ``normalize``, [-1, 1].
    ``random_shift``: training images are translated by up to this many pixels (augmentation). The bundled digits
    have 17 grey levels: an image of them scaled to 0..255 gives the training pixels up to rounding."""

    image_size = 8

    def __init__(
        self,
        valid_size: float = 0.2,
        normalize: bool = True,
        random_shift: int = 0,
        channels_last: bool = True,
        batch_size: int = 64,
        valid_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ):
        super().__init__()
        if not 0.0 < valid_size < 1.0:
            raise ValueError(f"valid_size must be in (0, 1), got {valid_size}")
        if random_shift < 0:
            raise ValueError(f"random_shift must be >= 0, got {random_shift}")
        check_loader_args(batch_size, num_workers, valid_batch_size)
        self.save_hyperparameters()
        self.ds_train: DigitsDataset | None = None
        self.ds_valid: DigitsDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        from sklearn.model_selection import train_test_split

        images, labels = load_digits_arrays()
        h = self.hparams
        x = torch.from_numpy(images / 16.0).unsqueeze(-1)
        y = torch.from_numpy(labels)
        train_idx, valid_idx = train_test_split(
            np.arange(len(y)), test_size=self.hparams.valid_size, random_state=self.hparams.seed, stratify=labels
        )
        self.ds_train = DigitsDataset(x[train_idx], y[train_idx], h.normalize, h.channels_last, h.random_shift)
        self.ds_valid = DigitsDataset(x[valid_idx], y[valid_idx], h.normalize, h.channels_last)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.ds_train, batch_size=self.hparams.batch_size, shuffle=True, num_workers=self.hparams.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        batch_size = self.hparams.valid_batch_size or self.hparams.batch_size
        return DataLoader(self.ds_valid, batch_size=batch_size, shuffle=False, num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
