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

from perceiver.model.core.adapter import ClassificationOutputAdapter, InputAdapter, TrainableQueryProvider
from perceiver.model.core.config import ClassificationDecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder, PerceiverIO
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
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of images (batch_size, height, width, channels), got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating point tensor (normalised pixels), got dtype {x.dtype}")
    if tuple(x.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"Input vision shape {tuple(x.shape[1:])} different from required shape {tuple(image_shape)}: x must "
            f"have shape (batch_size, {', '.join(map(str, image_shape))}), channels last"
        )


class ImageInputAdapter(InputAdapter):
    """Channels-last pixels, flattened, concatenated with 2-D Fourier features of the pixel grid."""

    def __init__(self, image_shape: tuple[int, int, int], num_frequency_bands: int):
        image_shape = check_image_shape(image_shape)
        require_positive(num_frequency_bands=num_frequency_bands)
        position_encoding = FourierPositionEncoding(image_shape[:-1], num_frequency_bands)
        super().__init__(image_shape[-1] + position_encoding.num_position_encoding_channels())
        self.image_shape = image_shape
        self.position_encoding = position_encoding

    supports_split_input = True

    def forward(self, x: torch.Tensor, split: bool = False) -> torch.Tensor | SplitInput:
        check_image_input(x, self.image_shape)
        adapted = SplitInput(x.flatten(1, 2), self.position_encoding.position_encoding)
        return adapted if split else adapted.materialize()


class LearnedImageInputAdapter(InputAdapter):
    """A 1x1 convolution of the pixels (a per-pixel linear layer) concatenated with a learned position embedding
    passed through a linear projection (the ``deepmind/vision-perceiver-learned`` input)."""

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

    def forward(self, x: torch.Tensor, split: bool = False) -> torch.Tensor | SplitInput:
        check_image_input(x, self.image_shape)
        adapted = SplitInput(self.conv1x1(x.flatten(1, 2)), self.position_projection(self.position_embedding))
        return adapted if split else adapted.materialize()


class ConvImageInputAdapter(InputAdapter):
    """Conv 7x7/2 ('SAME' zero padding, no bias) -> batch norm -> ReLU -> max pool 3x3/2, then Fourier features
    of the pooled grid, with frequencies chosen for a quarter of the input resolution (the
    ``deepmind/vision-perceiver-conv`` input: 224x224 -> a 55x55 grid, frequencies for 56x56)."""

    def __init__(self, image_shape: tuple[int, int, int], num_conv_channels: int = 64, num_frequency_bands: int = 64):
        image_shape = check_image_shape(image_shape)
        require_positive(num_conv_channels=num_conv_channels, num_frequency_bands=num_frequency_bands)
        height, width, channels = image_shape
        if height < 4 or width < 4:
            raise ValueError(f"image_shape must be at least 4x4 for conv preprocessing, got {image_shape}")
        grid = (pooled_size(height), pooled_size(width))
        position_encoding = FourierPositionEncoding(grid, num_frequency_bands, max_resolution=(height // 4, width // 4))
        super().__init__(num_conv_channels + position_encoding.num_position_encoding_channels())
        self.image_shape = image_shape
        self.conv = nn.Conv2d(channels, num_conv_channels, kernel_size=7, stride=2, bias=False)
        self.batch_norm = nn.BatchNorm2d(num_conv_channels)
        self.position_encoding = position_encoding

    supports_split_input = True

    def forward(self, x: torch.Tensor, split: bool = False) -> torch.Tensor | SplitInput:
        check_image_input(x, self.image_shape)
        x = F.pad(x.permute(0, 3, 1, 2), (3, 3, 3, 3))  # TF 'SAME' padding of a 7x7 kernel at stride 2
        x = F.max_pool2d(F.relu(self.batch_norm(self.conv(x))), kernel_size=3, stride=2)
        adapted = SplitInput(x.flatten(2).transpose(1, 2), self.position_encoding.position_encoding)
        return adapted if split else adapted.materialize()


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
        input_adapter = image_input_adapter(config.encoder)
        encoder_kwargs = config.encoder.base_kwargs()
        if encoder_kwargs["num_cross_attention_qk_channels"] is None:
            # as in the official checkpoints: the input cross-attention keeps the adapted input's width
            encoder_kwargs["num_cross_attention_qk_channels"] = input_adapter.num_input_channels
        encoder = PerceiverEncoder(
            input_adapter=input_adapter,
            num_latents=config.num_latents,
            num_latent_channels=config.num_latent_channels,
            activation_checkpointing=config.activation_checkpointing,
            activation_offloading=config.activation_offloading,
            **encoder_kwargs,
        )
        output_query_provider = TrainableQueryProvider(
            num_queries=config.decoder.num_output_queries,
            num_query_channels=config.decoder.num_output_query_channels,
            init_scale=config.decoder.init_scale,
        )
        decoder = PerceiverDecoder(
            output_adapter=ClassificationOutputAdapter(
                num_classes=config.decoder.num_classes,
                num_output_query_channels=config.decoder.num_output_query_channels,
            ),
            output_query_provider=output_query_provider,
            num_latent_channels=config.num_latent_channels,
            activation_checkpointing=config.activation_checkpointing,
            activation_offloading=config.activation_offloading,
            **config.decoder.base_kwargs(),
        )
        super().__init__(encoder, decoder)
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: channels-last images ``(b, h, w, c)``; returns logits ``(b, num_classes)``."""
        return self.decoder(self.encoder(x))
