"""Configs of the multimodal autoencoder: what the encoder takes (clip, patches, Fourier bands, modality padding) and
what the decoder puts out, with their checks."""

from dataclasses import dataclass

from perceiver.model.core.config import DecoderConfig, EncoderConfig, PerceiverIOConfig
from perceiver.model.core.utils import require_positive, require_probability

MODALITIES = ("audio", "image", "label")  # the order of the encoder input and of the outputs


@dataclass
class MultimodalEncoderConfig(EncoderConfig):
    num_frames: int = 16
    image_shape: tuple[int, int, int] = (224, 224, 3)
    image_patch_size: int = 4
    image_temporal_patch_size: int = 1
    num_image_frequency_bands: int = 32
    audio_samples_per_frame: int = 1920
    audio_samples_per_patch: int = 16
    num_audio_frequency_bands: int = 192
    num_classes: int = 700
    min_padding_size: int = 4
    audio_mask_prob: float = 0.0
    image_mask_prob: float = 0.0
    label_mask_prob: float = 1.0

    @property
    def num_audio_samples(self) -> int:
        return self.num_frames * self.audio_samples_per_frame

    @property
    def num_audio_patches(self) -> int:
        return self.num_audio_samples // self.audio_samples_per_patch

    @property
    def video_shape(self) -> tuple[int, int, int]:
        """``(frames, height, width)`` of the video."""
        return self.num_frames, self.image_shape[0], self.image_shape[1]

    @property
    def video_patch_grid(self) -> tuple[int, int, int]:
        t, h, w = self.video_shape
        return t // self.image_temporal_patch_size, h // self.image_patch_size, w // self.image_patch_size


@dataclass
class MultimodalDecoderConfig(DecoderConfig):
    num_output_channels: int = 512
    num_label_query_channels: int = 1024
    min_padding_size: int = 2
    chunk_size: int = 4096


MultimodalAutoencoderConfig = PerceiverIOConfig[MultimodalEncoderConfig, MultimodalDecoderConfig]


def validate_encoder_config(config: MultimodalEncoderConfig) -> None:
    require_positive(
        num_frames=config.num_frames,
        image_patch_size=config.image_patch_size,
        image_temporal_patch_size=config.image_temporal_patch_size,
        num_image_frequency_bands=config.num_image_frequency_bands,
        audio_samples_per_frame=config.audio_samples_per_frame,
        audio_samples_per_patch=config.audio_samples_per_patch,
        num_audio_frequency_bands=config.num_audio_frequency_bands,
        num_classes=config.num_classes,
    )
    if len(config.image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {config.image_shape!r}")
    require_positive(height=config.image_shape[0], width=config.image_shape[1], channels=config.image_shape[2])
    t, h, w = config.video_shape
    tp, p = config.image_temporal_patch_size, config.image_patch_size
    if t % tp or h % p or w % p:
        raise ValueError(
            f"video of shape (frames, height, width) = {(t, h, w)} must divide into patches of {(tp, p, p)}"
        )
    if config.num_audio_samples % config.audio_samples_per_patch:
        raise ValueError(
            f"num_frames * audio_samples_per_frame = {config.num_audio_samples} must be divisible by "
            f"audio_samples_per_patch = {config.audio_samples_per_patch}"
        )
    if config.min_padding_size < 0:
        raise ValueError(f"min_padding_size must be >= 0, got {config.min_padding_size}")
    require_probability(
        audio_mask_prob=config.audio_mask_prob,
        image_mask_prob=config.image_mask_prob,
        label_mask_prob=config.label_mask_prob,
    )
