"""Perceiver IO image classifier: an image input adapter, a latent encoder and a one-query classification decoder.

Three input adapters cover the official ImageNet checkpoints:

- ``"fourier"`` (:class:`ImageInputAdapter`): raw pixels concatenated with 2-D Fourier features.
- ``"learned"`` (:class:`LearnedImageInputAdapter`): a 1x1 convolution of the pixels concatenated with a learned
  (and linearly projected) position embedding.
- ``"conv"`` (:class:`ConvImageInputAdapter`): a 7x7 stride-2 convolution, batch norm, ReLU and 3x3 stride-2 max
  pooling, concatenated with Fourier features of the pooled grid.

Every adapter takes channels-last images ``(b, h, w, c)``.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from perceiver.model.core.adapter import (  # noqa: F401 (ClassificationOutputAdapter, TrainableQueryProvider: 0.11)
    ClassificationOutputAdapter,
    InputAdapter,
    TrainableQueryProvider,
)
from perceiver.model.core.builders import classification_decoder, perceiver_io_encoder
from perceiver.model.core.config import ClassificationDecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder, PerceiverIO  # noqa: F401 (0.11 name)
from perceiver.model.core.position import FourierPositionEncoding
from perceiver.model.core.split_input import SplitInput
from perceiver.model.core.utils import require_positive

INPUT_ADAPTER_TYPES = ("fourier", "learned", "conv")


@dataclass
class ImageEncoderConfig(EncoderConfig):
    """Image encoder: pixels and position features, then the Perceiver IO encoder.

    :param image_shape: (height, width, channels) of the input images, channels last (linked from the data module).
    :param num_frequency_bands: Fourier position features per spatial dimension ("fourier" and "conv" adapters).
    :param input_adapter_type: "fourier" (pixels and Fourier features), "learned" (1x1 conv and a learned position
        embedding) or "conv" (7x7 conv and max pooling, then Fourier features).
    :param num_conv_channels: output channels of the adapter's convolution (null: 256 for "learned", 64 for "conv").
    :param num_position_channels: channels of the learned position embedding ("learned").
    """

    image_shape: tuple[int, int, int] = (224, 224, 3)
    num_frequency_bands: int = 32
    # Beyond perceiver-io 0.11 (whose saved configs lack these fields and so load as "fourier"):
    input_adapter_type: str = "fourier"
    num_conv_channels: int | None = None  # "learned": 1x1 conv output (default 256); "conv": 7x7 conv output (64)
    num_position_channels: int = 256  # "learned": channels of the learned position embedding


ImageClassifierConfig = PerceiverIOConfig[ImageEncoderConfig, ClassificationDecoderConfig]


def check_image_shape(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if not isinstance(image_shape, tuple | list) or len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}")
    height, width, channels = image_shape
    require_positive(height=height, width=width, channels=channels)
    return tuple(image_shape)


def check_image_input(x: torch.Tensor, image_shape: tuple[int, int, int]) -> None:
    """``x`` must be channels-last images ``(b, h, w, c)`` with the channels of ``image_shape``, of any size."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of images (batch_size, height, width, channels), got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating point tensor (normalised pixels), got dtype {x.dtype}")
    channels = image_shape[-1]
    if x.dim() != 4 or x.shape[-1] != channels or min(x.shape[1:3]) == 0:
        raise ValueError(
            f"Input vision shape {tuple(x.shape[1:])} different from required shape {tuple(image_shape)}: x must "
            f"have shape (batch_size, height, width, {channels}), channels last (any height and width)"
        )


class ImageInputAdapter(InputAdapter):
    """Channels-last pixels, flattened, concatenated with 2-D Fourier features of the pixel grid.

    Images of any size are accepted: the features are those of the input's grid (coordinates spanning [-1, 1]) with
    the frequencies chosen for ``image_shape`` (as ``transformers``' ``PerceiverForImageClassificationFourier``,
    whose frequencies are fixed to 224x224). The features of ``image_shape`` itself are precomputed.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_frequency_bands: int):
        image_shape = check_image_shape(image_shape)
        require_positive(num_frequency_bands=num_frequency_bands)
        position_encoding = FourierPositionEncoding(image_shape[:-1], num_frequency_bands)
        super().__init__(image_shape[-1] + position_encoding.num_position_encoding_channels())
        self.image_shape = image_shape
        self.position_encoding = position_encoding

    supports_split_input = True

    def forward(
        self, x: torch.Tensor, split: bool = False, interpolate_pos_encoding: bool = False
    ) -> torch.Tensor | SplitInput:
        """``interpolate_pos_encoding`` is accepted and ignored, as in ``transformers`` (Fourier features are
        computed for every size)."""
        check_image_input(x, self.image_shape)
        adapted = SplitInput(x.flatten(1, 2), self.position_encoding.encoding_for(x.shape[1:3]))
        return adapted if split else adapted.materialize()


class LearnedImageInputAdapter(InputAdapter):
    """A 1x1 convolution of the pixels (a per-pixel linear layer) concatenated with a learned position embedding
    passed through a linear projection (the ``deepmind/vision-perceiver-learned`` input).

    The embedding covers ``image_shape``; with ``interpolate_pos_encoding=True`` images of other sizes are accepted
    and the embedding is resized to their grid before the projection (bicubic, ``align_corners=False``, no
    antialiasing: ``transformers``' ``interpolate_pos_encoding``).
    """

    def __init__(
        self, image_shape: tuple[int, int, int], num_conv_channels: int = 256, num_position_channels: int = 256
    ):
        image_shape = check_image_shape(image_shape)
        require_positive(num_conv_channels=num_conv_channels, num_position_channels=num_position_channels)
        super().__init__(num_conv_channels + num_position_channels)
        self.image_shape = image_shape
        self.conv1x1 = nn.Linear(image_shape[-1], num_conv_channels)
        self.position_embedding = nn.Parameter(torch.empty(image_shape[0] * image_shape[1], num_position_channels))
        self.position_projection = nn.Linear(num_position_channels, num_position_channels)
        with torch.no_grad():
            self.position_embedding.normal_(0.0, 0.02)

    supports_split_input = True

    def forward(
        self, x: torch.Tensor, split: bool = False, interpolate_pos_encoding: bool = False
    ) -> torch.Tensor | SplitInput:
        check_image_input(x, self.image_shape)
        size = tuple(x.shape[1:3])
        position_embedding = self.position_embedding
        if size != self.image_shape[:2]:
            if not interpolate_pos_encoding:
                raise ValueError(
                    f"Input vision shape {tuple(x.shape[1:])} different from required shape {self.image_shape}: "
                    f"the learned position embedding covers {self.image_shape[0]}x{self.image_shape[1]} images; "
                    f"pass interpolate_pos_encoding=True to resize it to {size[0]}x{size[1]}"
                )
            position_embedding = resize_position_embedding(position_embedding, self.image_shape[:2], size)
        adapted = SplitInput(self.conv1x1(x.flatten(1, 2)), self.position_projection(position_embedding))
        return adapted if split else adapted.materialize()


def resize_position_embedding(embedding: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """A position embedding ``(h * w, c)`` of a ``grid`` ``(h, w)``, resized to ``size`` by bicubic interpolation."""
    channels = embedding.shape[-1]
    embedding = embedding.reshape(1, *grid, channels).permute(0, 3, 1, 2)
    embedding = F.interpolate(embedding, size=size, mode="bicubic", align_corners=False)
    return embedding.flatten(2).squeeze(0).t()


class ConvImageInputAdapter(InputAdapter):
    """Conv 7x7/2 (zero padding 3, no bias) -> batch norm -> ReLU -> max pool 3x3/2, then Fourier features of the
    pooled grid, with frequencies chosen for a quarter of ``image_shape`` (the ``deepmind/vision-perceiver-conv``
    input: 224x224 -> a 55x55 grid, frequencies for 56x56). Images of any size from 5x5 up are accepted; the
    features are those of their pooled grid, with the same frequencies (as ``transformers``)."""

    def __init__(self, image_shape: tuple[int, int, int], num_conv_channels: int = 64, num_frequency_bands: int = 64):
        image_shape = check_image_shape(image_shape)
        require_positive(num_conv_channels=num_conv_channels, num_frequency_bands=num_frequency_bands)
        height, width, channels = image_shape
        if min(height, width) < MIN_CONV_IMAGE_SIZE:
            raise ValueError(
                f"image_shape must be at least {MIN_CONV_IMAGE_SIZE}x{MIN_CONV_IMAGE_SIZE} for conv preprocessing, "
                f"got {image_shape}"
            )
        grid = (pooled_size(height), pooled_size(width))
        position_encoding = FourierPositionEncoding(grid, num_frequency_bands, max_resolution=(height // 4, width // 4))
        super().__init__(num_conv_channels + position_encoding.num_position_encoding_channels())
        self.image_shape = image_shape
        self.conv = nn.Conv2d(channels, num_conv_channels, kernel_size=7, stride=2, bias=False)
        self.batch_norm = nn.BatchNorm2d(num_conv_channels)
        self.position_encoding = position_encoding

    supports_split_input = True

    def forward(
        self, x: torch.Tensor, split: bool = False, interpolate_pos_encoding: bool = False
    ) -> torch.Tensor | SplitInput:
        """``interpolate_pos_encoding`` is accepted and ignored, as in ``transformers``."""
        check_image_input(x, self.image_shape)
        if min(x.shape[1:3]) < MIN_CONV_IMAGE_SIZE:
            raise ValueError(
                f"Input vision shape {tuple(x.shape[1:])} too small: conv preprocessing needs images of at least "
                f"{MIN_CONV_IMAGE_SIZE}x{MIN_CONV_IMAGE_SIZE} pixels"
            )
        x = F.pad(x.permute(0, 3, 1, 2), (3, 3, 3, 3))  # 'SAME' padding of a 7x7 kernel, as the source models
        x = F.max_pool2d(F.relu(self.batch_norm(self.conv(x))), kernel_size=3, stride=2)
        shared = self.position_encoding.encoding_for(x.shape[2:])
        adapted = SplitInput(x.flatten(2).transpose(1, 2), shared)
        return adapted if split else adapted.materialize()


# the smallest image whose convolution and max pooling leave a grid: 5 -> 3 -> 1
MIN_CONV_IMAGE_SIZE = 5


def pooled_size(size: int) -> int:
    """Spatial size after the 7x7/2 'SAME' convolution and the 3x3/2 max pooling."""
    return (-(-size // 2) - 3) // 2 + 1


def image_input_adapter(config: ImageEncoderConfig) -> InputAdapter:
    kind = config.input_adapter_type
    if kind == "fourier":
        return ImageInputAdapter(tuple(config.image_shape), config.num_frequency_bands)
    if kind == "learned":
        num_conv_channels = 256 if config.num_conv_channels is None else config.num_conv_channels
        return LearnedImageInputAdapter(tuple(config.image_shape), num_conv_channels, config.num_position_channels)
    if kind == "conv":
        num_conv_channels = 64 if config.num_conv_channels is None else config.num_conv_channels
        return ConvImageInputAdapter(tuple(config.image_shape), num_conv_channels, config.num_frequency_bands)
    raise ValueError(f"input_adapter_type must be one of {INPUT_ADAPTER_TYPES}, got {kind!r}")


ImageEncoder = PerceiverEncoder


class ImageClassifier(PerceiverIO):
    def __init__(self, config: ImageClassifierConfig):
        # the input cross-attention keeps the adapted input's width, as in the official checkpoints
        encoder = perceiver_io_encoder(config, image_input_adapter(config.encoder), qk_channels_of_input=True)
        super().__init__(encoder, classification_decoder(config))
        self.config = config

    def forward(self, x: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """``x``: channels-last images ``(b, h, w, c)`` of any height and width; returns logits ``(b, num_classes)``.
        ``interpolate_pos_encoding``: resize a learned position embedding to the input's size (other input
        adapters compute their position encodings for every size and ignore it)."""
        return self.decoder(self.encoder(x, interpolate_pos_encoding=interpolate_pos_encoding))
