"""Image classification data from a local folder: one sub-folder per class (``<dir>/<class>/<image>``)."""

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from perceiver.data.vision.common import ImageDataset, ImageTransform
from perceiver.model.core.utils import check_loader_args

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def scan_image_folder(root: str, classes: list[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Examples ``{"image": path, "label": index}`` and the class names (sorted sub-folder names)."""
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    if classes is None:
        classes = sorted(p.name for p in path.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"image folder {root} has no class sub-folders (<dir>/<class>/<image>)")
    examples = []
    for label, name in enumerate(classes):
        class_dir = path / name
        files = (
            sorted(f for f in class_dir.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES) if class_dir.is_dir() else []
        )
        examples.extend({"image": str(f), "label": label} for f in files)
    if not examples:
        raise ValueError(f"image folder {root} has no images with suffixes {sorted(IMAGE_SUFFIXES)}")
    return examples, classes


class _PathImages:
    """Opens image files lazily (keeps memory flat for large folders)."""

    def __init__(self, examples: list[dict[str, Any]]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import PIL.Image

        example = self.examples[index]
        with PIL.Image.open(example["image"]) as image:
            image.load()
            return {"image": image.copy(), "label": example["label"]}


class ImageFolderDataModule(pl.LightningDataModule):
    """Images from ``train_dir`` (and ``valid_dir``, else a fixed random ``valid_size`` fraction of ``train_dir``),
    resized to ``image_shape`` ``(height, width, channels)``, channels-last, normalised to [-1, 1]."""

    def __init__(
        self,
        train_dir: str,
        valid_dir: str | None = None,
        image_shape: tuple[int, int, int] = (32, 32, 3),
        valid_size: float = 0.1,
        normalize: bool = True,
        random_crop: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ):
        super().__init__()
        check_loader_args(batch_size, num_workers)
        self.save_hyperparameters()
        self.train_examples, self.classes = scan_image_folder(train_dir)
        if valid_dir is not None:
            self.valid_examples, _ = scan_image_folder(valid_dir, self.classes)
        else:
            if not 0.0 < valid_size < 1.0:
                raise ValueError(f"valid_size must be in (0, 1), got {valid_size}")
            order = torch.randperm(len(self.train_examples), generator=torch.Generator().manual_seed(seed)).tolist()
            num_valid = max(1, round(valid_size * len(order)))
            self.valid_examples = [self.train_examples[i] for i in order[:num_valid]]
            self.train_examples = [self.train_examples[i] for i in order[num_valid:]]
        self.ds_train = None
        self.ds_valid = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.hparams.image_shape)

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        train_transform = ImageTransform(h.image_shape, h.normalize, random_crop=h.random_crop)
        valid_transform = ImageTransform(h.image_shape, h.normalize)
        self.ds_train = ImageDataset(_PathImages(self.train_examples), train_transform)
        self.ds_valid = ImageDataset(_PathImages(self.valid_examples), valid_transform)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.ds_train, batch_size=self.hparams.batch_size, shuffle=True, num_workers=self.hparams.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.ds_valid, batch_size=self.hparams.batch_size, num_workers=self.hparams.num_workers)
