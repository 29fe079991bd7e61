"""Shared pieces of the image data modules: a pillow/numpy transform to channels-last tensors, a map-style
dataset of ``{"image", "label"}`` examples and the classes and image shape of the digit data sets."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch
from torch.utils.data import Dataset

from perceiver.data.vision.image_processor import (
    PerceiverImageClassifierInputProcessor,
    normalize_pixels,
    resize_processor,
)


class ImageTransform:
    """PIL image (or uint8 array) -> float tensor ``(h, w, c)`` (or ``(c, h, w)``), resized to ``image_shape``,
    scaled to [0, 1] and, with ``normalize``, to [-1, 1]. ``random_crop``: pad by this many pixels and crop back at
    a random offset (training augmentation). Without augmentation the pixels are those of :meth:`image_processor`,
    the processor saved with a model trained on them."""

    def __init__(
        self,
        image_shape: Sequence[int],
        normalize: bool = True,
        channels_last: bool = True,
        random_crop: int | None = None,
    ):
        if len(image_shape) != 3 or image_shape[2] not in (1, 3):
            raise ValueError(f"image_shape must be (height, width, channels) with 1 or 3 channels, got {image_shape}")
        if random_crop is not None and random_crop < 0:
            raise ValueError(f"random_crop must be >= 0, got {random_crop}")
        self.image_shape = tuple(image_shape)
        self.normalize = normalize
        self.channels_last = channels_last
        self.random_crop = random_crop
        # pixels in [0, 1]: the crop pads with black before normalisation
        self.resize = resize_processor(self.image_shape, normalize=False)
        self.mean_std = (self.resize.image_mean, self.resize.image_std)

    def image_processor(self) -> PerceiverImageClassifierInputProcessor:
        """The processor that turns an image into this transform's pixels (without augmentation)."""
        return resize_processor(self.image_shape, self.normalize, self.channels_last)

    def __call__(self, image: Any) -> torch.Tensor:
        if not isinstance(image, PIL.Image.Image):
            image = PIL.Image.fromarray(np.asarray(image, dtype=np.uint8))
        x = self.resize(image)["pixel_values"][0]
        if self.random_crop:
            x = random_crop(x, self.random_crop)
        if self.normalize:
            x = normalize_pixels(x, *self.mean_std)
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t if self.channels_last else t.permute(2, 0, 1)


def random_crop(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad ``(h, w, c)`` by ``padding`` and crop ``(h, w)`` at a random offset."""
    h, w = x.shape[:2]
    padded = np.pad(x, ((padding, padding), (padding, padding), (0, 0)))
    i, j = (int(v) for v in torch.randint(0, 2 * padding + 1, (2,)))
    return padded[i : i + h, j : j + w]


class ImageDataset(Dataset):
    """Examples ``{"image": transform(image), "label": int}`` from a sequence of images and labels (or a
    Hugging Face dataset with ``image_key`` and ``label_key`` columns)."""

    def __init__(
        self,
        source: Any,
        transform: Callable[[Any], torch.Tensor],
        image_key: str = "image",
        label_key: str = "label",
    ):
        self.source = source
        self.transform = transform
        self.image_key = image_key
        self.label_key = label_key

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, Any]:
        example = self.source[index]
        return {"image": self.transform(example[self.image_key]), "label": int(example[self.label_key])}


class DigitImages:
    """Mixin of the digit data modules: ten classes named ``"0"`` ... ``"9"``, grey ``image_size`` x ``image_size``
    images, channels-last unless ``hparams.channels_last`` is false, normalised to [-1, 1] if ``hparams.normalize``."""

    image_size: int

    @property
    def num_classes(self) -> int:
        return 10

    @property
    def label_names(self) -> list[str]:
        return [str(digit) for digit in range(10)]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        size = self.image_size
        return (size, size, 1) if self.hparams.channels_last else (1, size, size)

    def image_processor(self) -> PerceiverImageClassifierInputProcessor:
        """The processor that turns a digit image into the pixels validation sees (saved with a trained model)."""
        size = self.image_size
        return resize_processor((size, size, 1), self.hparams.normalize, self.hparams.channels_last)
