"""Image processor of the Perceiver image classifiers, on pillow and numpy.

Centre crop to ``size / crop_size`` of the shorter side, bicubic resize to ``size``, rescale to [0, 1], normalise
with the ImageNet mean and standard deviation, channels last: the preprocessing the official ImageNet checkpoints
were evaluated with (``transformers``' ``PerceiverImageProcessor``). ``single_channel=True`` converts to greyscale
(e.g. for MNIST models).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.processing_utils import ImagesKwargs

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RESAMPLE_FILTERS = {
    int(PIL.Image.Resampling.NEAREST): PIL.Image.Resampling.NEAREST,
    int(PIL.Image.Resampling.BILINEAR): PIL.Image.Resampling.BILINEAR,
    int(PIL.Image.Resampling.BICUBIC): PIL.Image.Resampling.BICUBIC,
    int(PIL.Image.Resampling.LANCZOS): PIL.Image.Resampling.LANCZOS,
    int(PIL.Image.Resampling.BOX): PIL.Image.Resampling.BOX,
    int(PIL.Image.Resampling.HAMMING): PIL.Image.Resampling.HAMMING,
}


def to_pil_image(image: Any, name: str = "image") -> PIL.Image.Image:
    """A PIL image from a PIL image, or from a numpy array / torch tensor of shape ``(h, w)``, ``(h, w, c)`` or
    ``(c, h, w)`` with ``c`` in 1, 3, 4. Integer data must lie in [0, 255]; floating point data in [0, 1]."""
    if isinstance(image, PIL.Image.Image):
        return image
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a PIL image, numpy array or torch tensor, got {type(image).__name__}")
    if image.ndim == 3:
        if image.shape[-1] in (1, 3, 4):
            pass  # channels last (preferred when both ends could be channels)
        elif image.shape[0] in (1, 3, 4):
            image = np.moveaxis(image, 0, -1)
        else:
            raise ValueError(
                f"{name} must have 1, 3 or 4 channels (first or last axis), got shape {tuple(image.shape)}"
            )
        if image.shape[-1] == 1:
            image = image[..., 0]
    elif image.ndim != 2:
        raise ValueError(f"{name} must have shape (h, w), (h, w, c) or (c, h, w), got shape {tuple(image.shape)}")
    if min(image.shape[:2]) == 0:
        raise ValueError(f"{name} is empty, shape {tuple(image.shape)}")
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif np.issubdtype(image.dtype, np.floating):
        if image.size and (np.nanmin(image) < 0.0 or np.nanmax(image) > 1.0):
            raise ValueError(f"{name} holds floating point values outside [0, 1]: [{image.min()}, {image.max()}]")
        image = np.round(image * 255.0).astype(np.uint8)
    elif np.issubdtype(image.dtype, np.integer):
        if image.size and (image.min() < 0 or image.max() > 255):
            raise ValueError(f"{name} holds integer values outside [0, 255]: [{image.min()}, {image.max()}]")
        image = image.astype(np.uint8)
    else:
        raise TypeError(f"{name} has unsupported dtype {image.dtype}")
    return PIL.Image.fromarray(np.ascontiguousarray(image))


def center_crop_box(height: int, width: int, crop_height: int, crop_width: int) -> tuple[int, int]:
    """Top-left corner of a centred crop (the rounding of ``transformers``' ``center_crop``)."""
    return (height - crop_height) // 2, (width - crop_width) // 2


def _size(size: Any, name: str) -> tuple[int, int]:
    if isinstance(size, int):
        size = {"height": size, "width": size}
    if isinstance(size, dict) and "height" in size and "width" in size:
        height, width = size["height"], size["width"]
    elif isinstance(size, Sequence) and len(size) == 2:
        height, width = size
    else:
        raise ValueError(f"{name} must be an int, (height, width) or {{'height': h, 'width': w}}, got {size!r}")
    if not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0):
        raise ValueError(f"{name} must hold positive integers, got {size!r}")
    return height, width


class PerceiverImageProcessorKwargs(ImagesKwargs, total=False):
    channels_last: bool
    single_channel: bool


class PerceiverImageClassifierInputProcessor(BaseImageProcessor):
    """Preprocesses images for the Perceiver image classifiers (``pixel_values`` channels last by default).

    :param crop_size: the centre crop takes ``size / crop_size`` of the image's shorter side.
    :param size: output size after the bicubic resize.
    :param channels_last: ``(b, h, w, c)`` output (what the Perceiver backends take), else ``(b, c, h, w)``.
    :param single_channel: convert to greyscale, output one channel.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = PerceiverImageProcessorKwargs

    def __init__(
        self,
        do_center_crop: bool = True,
        crop_size: Any = None,
        do_resize: bool = True,
        size: Any = None,
        resample: int = int(PIL.Image.Resampling.BICUBIC),
        do_rescale: bool = True,
        rescale_factor: float = 1 / 255,
        do_normalize: bool = True,
        image_mean: float | Sequence[float] | None = None,
        image_std: float | Sequence[float] | None = None,
        channels_last: bool = True,
        single_channel: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.do_center_crop = do_center_crop
        self.crop_size = dict(zip(("height", "width"), _size(crop_size or 256, "crop_size")))
        self.do_resize = do_resize
        self.size = dict(zip(("height", "width"), _size(size or 224, "size")))
        if int(resample) not in RESAMPLE_FILTERS:
            raise ValueError(f"resample must be one of the PIL filters {sorted(RESAMPLE_FILTERS)}, got {resample!r}")
        self.resample = int(resample)
        self.do_rescale = do_rescale
        self.rescale_factor = rescale_factor
        self.do_normalize = do_normalize
        self.image_mean = list(IMAGENET_MEAN if image_mean is None else _as_list(image_mean))
        self.image_std = list(IMAGENET_STD if image_std is None else _as_list(image_std))
        _check_std(self.image_std)
        self.channels_last = channels_last
        self.single_channel = single_channel

    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(images, **kwargs)

    def preprocess(self, images: Any, return_tensors: str | None = None, **kwargs: Any) -> BatchFeature:
        """Preprocess one image, a list of images or a 4-D batch array. ``kwargs`` override the processor's
        settings for this call."""
        unknown = set(kwargs) - set(self._settings())
        if unknown:
            raise TypeError(f"unknown preprocess arguments {sorted(unknown)}; allowed: {sorted(self._settings())}")
        settings = self._settings() | kwargs
        if isinstance(images, np.ndarray | torch.Tensor) and images.ndim == 4:
            images = list(images)  # a batch of images
        batch = images if isinstance(images, list | tuple) else [images]
        if not batch:
            raise ValueError("images must not be empty")
        pixel_values = [self._process_one(image, settings, f"images[{i}]") for i, image in enumerate(batch)]
        if return_tensors is None:
            return BatchFeature(data={"pixel_values": pixel_values})
        if return_tensors not in ("pt", "np"):
            raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {return_tensors!r}")
        shapes = {p.shape for p in pixel_values}
        if len(shapes) > 1:
            raise ValueError(f"images of different output shapes {sorted(shapes)} cannot be batched; crop/resize them")
        return BatchFeature(data={"pixel_values": np.stack(pixel_values)}, tensor_type=return_tensors)

    def _settings(self) -> dict[str, Any]:
        names = ("do_center_crop", "crop_size", "do_resize", "size", "resample", "do_rescale", "rescale_factor",
                 "do_normalize", "image_mean", "image_std", "channels_last", "single_channel")  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def _process_one(self, image: Any, s: dict[str, Any], name: str) -> np.ndarray:
        image = to_pil_image(image, name)
        image = image.convert("L" if s["single_channel"] else "RGB")
        if s["do_center_crop"]:
            size_h, size_w = _size(s["size"], "size")
            crop_h, crop_w = _size(s["crop_size"], "crop_size")
            min_dim = min(image.height, image.width)
            height, width = int(size_h / crop_h * min_dim), int(size_w / crop_w * min_dim)
            top, left = center_crop_box(image.height, image.width, height, width)
            image = image.crop((left, top, left + width, top + height))
        if s["do_resize"]:
            size_h, size_w = _size(s["size"], "size")
            image = image.resize((size_w, size_h), resample=RESAMPLE_FILTERS[int(s["resample"])])
        pixels = np.asarray(image)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        if s["do_rescale"]:
            pixels = (pixels.astype(np.float64) * s["rescale_factor"]).astype(np.float32)
        else:
            pixels = pixels.astype(np.float32)
        if s["do_normalize"]:
            pixels = normalize_pixels(pixels, s["image_mean"], s["image_std"])
        return pixels if s["channels_last"] else np.moveaxis(pixels, -1, 0)


def normalize_pixels(pixels: np.ndarray, mean: float | Sequence[float], std: float | Sequence[float]) -> np.ndarray:
    """``(pixels - mean) / std`` per channel of channels-last ``pixels``."""
    channels = pixels.shape[-1]
    mean_values = _per_channel(mean, channels, "image_mean")
    std_values = _per_channel(std, channels, "image_std")
    _check_std(std_values)
    return (pixels - mean_values) / std_values


def resize_processor(
    image_shape: Sequence[int], normalize: bool = True, channels_last: bool = True
) -> "PerceiverImageClassifierInputProcessor":
    """The processor of models trained on the image data modules: bilinear resize to ``image_shape``
    ``(height, width, channels)`` (no crop), grey for one channel, [0, 1] and, with ``normalize``, [-1, 1]."""
    height, width, channels = image_shape
    return PerceiverImageClassifierInputProcessor(
        do_center_crop=False,
        size={"height": height, "width": width},
        resample=int(PIL.Image.Resampling.BILINEAR),
        do_normalize=normalize,
        image_mean=0.5,
        image_std=0.5,
        channels_last=channels_last,
        single_channel=channels == 1,
    )


def _as_list(value: float | Sequence[float]) -> list[float]:
    return [float(value)] if isinstance(value, int | float) else [float(v) for v in value]


def _check_std(std: Sequence[float]) -> None:
    if not all(np.isfinite(v) and v > 0 for v in std):
        raise ValueError(f"image_std must hold finite values > 0 (it divides the pixel values), got {list(std)}")


def _per_channel(value: float | Sequence[float], channels: int, name: str) -> np.ndarray:
    values = _as_list(value)
    if len(values) == 3 and channels == 1:
        values = [float(np.mean(values))]  # greyscale with RGB statistics: their average
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise ValueError(f"{name} must have 1 or {channels} values for {channels}-channel images, got {values}")
    return np.asarray(values, dtype=np.float32)
