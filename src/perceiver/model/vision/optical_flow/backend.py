"""Perceiver IO optical flow: two frames of 3x3 patches in, one flow vector per pixel out.

The decoder's queries are the adapted encoder input itself (patch features plus Fourier features), one per pixel,
and its cross-attention has no query residual, as in the official ``deepmind/optical-flow-perceiver``.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn

from perceiver.model.core.adapter import InputAdapter, OutputAdapter, QueryProvider  # noqa: F401 (0.11 name)
from perceiver.model.core.builders import perceiver_io_decoder, perceiver_io_encoder
from perceiver.model.core.config import DecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverEncoder, PerceiverIO  # noqa: F401 (0.11 names)
from perceiver.model.core.position import FourierPositionEncoding
from perceiver.model.core.split_input import SplitInput
from perceiver.model.core.utils import require_positive


@dataclass
class OpticalFlowEncoderConfig(EncoderConfig):
    image_shape: tuple[int, int] = (368, 496)
    num_patch_input_channels: int = 27
    num_patch_hidden_channels: int = 64
    num_frequency_bands: int = 64


@dataclass
class OpticalFlowDecoderConfig(DecoderConfig):
    image_shape: tuple[int, int] = (368, 496)
    rescale_factor: float = 100.0


OpticalFlowConfig = PerceiverIOConfig[OpticalFlowEncoderConfig, OpticalFlowDecoderConfig]


def check_frame_shape(image_shape: tuple[int, ...], name: str = "image_shape") -> tuple[int, int]:
    if not isinstance(image_shape, tuple | list) or len(image_shape) != 2:
        raise ValueError(f"{name} must be (height, width), got {image_shape!r}")
    require_positive(height=image_shape[0], width=image_shape[1])
    return tuple(image_shape)


class OpticalFlowInputAdapter(InputAdapter):
    """Input ``(b, 2, num_patch_input_channels, h, w)``: the patch features of both frames are concatenated per
    pixel (frame-major), projected linearly and concatenated with 2-D Fourier features of the pixel grid."""

    def __init__(
        self,
        image_shape: tuple[int, int],
        num_patch_input_channels: int = 27,
        num_patch_hidden_channels: int = 64,
        num_frequency_bands: int = 64,
    ):
        image_shape = check_frame_shape(image_shape)
        require_positive(
            num_patch_input_channels=num_patch_input_channels,
            num_patch_hidden_channels=num_patch_hidden_channels,
            num_frequency_bands=num_frequency_bands,
        )
        position_encoding = FourierPositionEncoding(image_shape, num_frequency_bands)
        super().__init__(num_patch_hidden_channels + position_encoding.num_position_encoding_channels())
        self.image_shape = image_shape
        self.num_patch_input_channels = num_patch_input_channels
        self.linear = nn.Linear(2 * num_patch_input_channels, num_patch_hidden_channels)
        self.position_encoding = position_encoding

    supports_split_input = True

    def forward(self, x: torch.Tensor, split: bool = False) -> torch.Tensor | SplitInput:
        expected = (2, self.num_patch_input_channels, *self.image_shape)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a tensor of shape (batch_size, {expected}), got {type(x).__name__}")
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape (batch_size, 2 frames, patch channels, height, width) = (batch_size, "
                f"{', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        if not x.dtype.is_floating_point:
            raise TypeError(f"x must be a floating point tensor, got dtype {x.dtype}")
        x = x.flatten(1, 2).flatten(2).transpose(1, 2)  # (b, h*w, 2*c), frame-major channels
        adapted = SplitInput(self.linear(x), self.position_encoding.position_encoding)
        return adapted if split else adapted.materialize()


class OpticalFlowQueryProvider(nn.Module):
    """Decoder queries = the adapted encoder input (one query per pixel)."""

    def __init__(self, num_query_channels: int):
        super().__init__()
        self._num_query_channels = num_query_channels

    @property
    def num_query_channels(self) -> int:
        return self._num_query_channels

    def forward(self, x: torch.Tensor | None = None) -> torch.Tensor:
        if x is None:
            raise ValueError("OpticalFlowQueryProvider needs the adapted encoder input")
        return x


class OpticalFlowOutputAdapter(OutputAdapter):
    """Per-pixel linear map to ``num_output_image_channels`` flow channels, divided by ``rescale_factor``, reshaped
    to ``(b, h, w, c)``."""

    def __init__(
        self,
        image_shape: tuple[int, int],
        num_output_query_channels: int,
        num_output_image_channels: int = 2,
        rescale_factor: float = 100.0,
    ):
        super().__init__()
        self.image_shape = check_frame_shape(image_shape)
        if not rescale_factor > 0:
            raise ValueError(f"rescale_factor must be > 0, got {rescale_factor}")
        self.rescale_factor = rescale_factor
        self.linear = nn.Linear(num_output_query_channels, num_output_image_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x) / self.rescale_factor
        return x.unflatten(1, self.image_shape)


class OpticalFlow(PerceiverIO):
    def __init__(self, config: OpticalFlowConfig):
        encoder_config, decoder_config = config.encoder, config.decoder
        if tuple(encoder_config.image_shape) != tuple(decoder_config.image_shape):
            raise ValueError(
                f"encoder image_shape {tuple(encoder_config.image_shape)} and decoder image_shape "
                f"{tuple(decoder_config.image_shape)} must be equal"
            )
        input_adapter = OpticalFlowInputAdapter(
            image_shape=tuple(encoder_config.image_shape),
            num_patch_input_channels=encoder_config.num_patch_input_channels,
            num_patch_hidden_channels=encoder_config.num_patch_hidden_channels,
            num_frequency_bands=encoder_config.num_frequency_bands,
        )
        encoder = perceiver_io_encoder(config, input_adapter, qk_channels_of_input=True)
        output_adapter = OpticalFlowOutputAdapter(
            image_shape=tuple(decoder_config.image_shape),
            num_output_query_channels=input_adapter.num_input_channels,
            rescale_factor=decoder_config.rescale_factor,
        )
        output_query_provider = OpticalFlowQueryProvider(num_query_channels=input_adapter.num_input_channels)
        super().__init__(encoder, perceiver_io_decoder(config, output_adapter, output_query_provider))
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(b, 2, 27, h, w)`` patches of a frame pair; returns the flow ``(b, h, w, 2)``."""
        x_latent, x_adapted = self.encoder(x, return_adapted_input=True)
        return self.decoder(x_latent, x_adapted)
