"""Image classification data from a local folder: one sub-folder per class (``<dir>/<class>/<image>``)."""

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from perceiver.data.vision.common import ImageDataset, ImageTransform
from perceiver.validation import check_loader_args

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
        example = self.examples[index]
        return {"image": open_image(example["image"]), "label": example["label"]}


def open_image(path: str) -> Any:
    """The image in file ``path``, loaded; a file that is not a readable image fails with its name."""
    import PIL.Image

    try:
        with PIL.Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for truncated, corrupt or unknown files
        raise ValueError(f"cannot read image file {path}: {e}") from e


class ImageFolderDataModule(pl.LightningDataModule):
    """Images from ``train_dir`` (and ``valid_dir``, else a fixed random ``valid_size`` fraction of ``train_dir``),
    resized to ``image_shape`` ``(height, width, channels)``, channels-last, normalised to [-1, 1]. Test images come
    from ``test_dir``, or with ``test_size`` from a further fixed random fraction of ``train_dir``. Class names are
    the sub-folder names of ``train_dir``; :meth:`image_processor` preprocesses images as validation does."""

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
        test_dir: str | None = None,
        test_size: float | None = None,
    ):
        super().__init__()
        check_loader_args(batch_size, num_workers)
        self.save_hyperparameters()
        if test_dir is not None and test_size is not None:
            raise ValueError(f"give test_dir or test_size, not both (got test_size={test_size!r})")
        self.train_examples, self.classes = scan_image_folder(train_dir)
        rest = self._shuffled(self.train_examples, seed)
        self.test_examples = None
        if test_dir is not None:
            self.test_examples, _ = scan_image_folder(test_dir, self.classes)
        elif test_size is not None:
            self.test_examples, rest = self._take(rest, test_size, "test_size")
        if valid_dir is not None:
            self.valid_examples, _ = scan_image_folder(valid_dir, self.classes)
        else:
            self.valid_examples, rest = self._take(rest, valid_size, "valid_size")
        if not rest:
            raise ValueError(f"no training images left in {train_dir} after holding out validation and test images")
        self.train_examples = rest
        self.ds_train = None
        self.ds_valid = None
        self.ds_test = None

    @staticmethod
    def _shuffled(examples: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed)).tolist()
        return [examples[i] for i in order]

    def _take(self, examples: list[dict[str, Any]], size: float, name: str) -> tuple[list, list]:
        if isinstance(size, bool) or not isinstance(size, int | float) or not 0.0 < size < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {size}")
        count = max(1, round(size * len(self.train_examples)))
        return examples[:count], examples[count:]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def label_names(self) -> list[str]:
        """Class names: the sub-folder names of ``train_dir``, in class-index order."""
        return list(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.hparams.image_shape)

    def image_processor(self) -> Any:
        """The processor that turns an image into the pixels validation sees (saved with a trained model)."""
        return ImageTransform(self.hparams.image_shape, self.hparams.normalize).image_processor()

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        train_transform = ImageTransform(h.image_shape, h.normalize, random_crop=h.random_crop)
        valid_transform = ImageTransform(h.image_shape, h.normalize)
        self.ds_train = ImageDataset(_PathImages(self.train_examples), train_transform)
        self.ds_valid = ImageDataset(_PathImages(self.valid_examples), valid_transform)
        if self.test_examples is not None:
            self.ds_test = ImageDataset(_PathImages(self.test_examples), valid_transform)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.ds_train, batch_size=self.hparams.batch_size, shuffle=True, num_workers=self.hparams.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.ds_valid, batch_size=self.hparams.batch_size, num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        if self.test_examples is None:
            raise ValueError(
                "ImageFolderDataModule has no test split: give test_dir=<folder with the class sub-folders> or "
                "test_size=<fraction> (held out from train_dir)"
            )
        return DataLoader(self.ds_test, batch_size=self.hparams.batch_size, num_workers=self.hparams.num_workers)
