"""Perceiver IO multimodal autoencoder (Kinetics video + audio + class label, ``deepmind/multimodal-perceiver``).

The encoder input concatenates three modalities, each brought to a common width with a learned per-modality
padding: audio patches with 1-D Fourier features, video patches (space-to-depth) with 3-D Fourier features, and the
class label as a one-hot vector, replaced by a learned mask token with probability ``label_mask_prob`` (1 for the
official model: the label is predicted from video and audio). The decoder has one query per output point (audio
patch, video pixel, label), built from Fourier features of the point's position (a learned query for the label),
again padded to a common width. Queries are independent of each other, so they are decoded in chunks of
``chunk_size`` and memory stays bounded however many output points there are (802,816 pixels per official clip).
"""

import math

import torch
import torch.nn as nn

from perceiver.model.core.adapter import InputAdapter, OutputAdapter
from perceiver.model.core.builders import perceiver_io_encoder
from perceiver.model.core.perceiver_io import PerceiverDecoder, PerceiverIO
from perceiver.model.core.position import fourier_encode, fourier_features
from perceiver.model.core.utils import require_positive
from perceiver.model.multimodal.autoencoder.config import (  # noqa: F401 (configs stay importable from here)
    MODALITIES,
    MultimodalAutoencoderConfig,
    MultimodalDecoderConfig,
    MultimodalEncoderConfig,
    validate_encoder_config,
)


class MultimodalInputAdapter(InputAdapter):
    """``{"audio": (b, n) or (b, n, 1), "image": (b, t, h, w, c), "label": (b, num_classes) or None}`` ->
    ``(b, num_audio_patches + num_video_patches + 1, num_input_channels)``.

    As ``transformers``' multimodal preprocessor, clips of other lengths and frame sizes are accepted (whole patches:
    ``t``, ``h``, ``w`` and ``n`` divisible by the patch sizes): the Fourier features are those of the input's
    patch grid, with the frequencies of the configured clip.
    """

    def __init__(self, config: MultimodalEncoderConfig):
        validate_encoder_config(config)
        patch_channels = config.image_temporal_patch_size * config.image_patch_size**2 * config.image_shape[2]
        widths = {
            "audio": config.audio_samples_per_patch + 2 * config.num_audio_frequency_bands + 1,
            "image": patch_channels + 3 * (2 * config.num_image_frequency_bands + 1),
            "label": config.num_classes,
        }
        num_channels = max(widths.values()) + config.min_padding_size
        super().__init__(num_channels)
        self.config = config
        # Fourier features follow from the config: computed on first use per device and input size (the configured
        # one and the last other), never saved with the weights
        self._position_encodings: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self.padding = nn.ParameterDict({m: nn.Parameter(torch.zeros(1, num_channels - widths[m])) for m in MODALITIES})
        self.mask = nn.ParameterDict({m: nn.Parameter(torch.zeros(1, num_channels)) for m in MODALITIES})
        with torch.no_grad():
            for param in [*self.padding.values(), *self.mask.values()]:
                param.normal_(0.0, 0.02)

    def forward(self, x: dict[str, torch.Tensor | None]) -> torch.Tensor:
        audio, image, label = check_inputs(x, self.config)
        b = image.shape[0]
        c = self.config
        video_patch_grid = (
            image.shape[1] // c.image_temporal_patch_size,
            image.shape[2] // c.image_patch_size,
            image.shape[3] // c.image_patch_size,
        )
        num_audio_patches = audio.shape[1] // c.audio_samples_per_patch
        audio_enc, image_enc = self.position_encodings(image.device, num_audio_patches, video_patch_grid)
        audio = audio.reshape(b, -1, self.config.audio_samples_per_patch)
        audio = torch.cat([audio, audio_enc.expand(b, -1, -1).to(audio.dtype)], dim=-1)
        image = space_to_depth(image, self.config.image_temporal_patch_size, self.config.image_patch_size)
        image = torch.cat([image, image_enc.expand(b, -1, -1).to(image.dtype)], dim=-1)
        if label is None:
            label = image.new_zeros(b, self.config.num_classes)
        label = label.to(image.dtype).unsqueeze(1)

        parts = []
        for name, part in zip(MODALITIES, (audio, image, label)):
            padding = self.padding[name].to(part.dtype).expand(b, part.shape[1], -1)
            part = torch.cat([part, padding], dim=-1)
            parts.append(self._mask(name, part))
        return torch.cat(parts, dim=1)

    def position_encodings(
        self,
        device: torch.device,
        num_audio_patches: int | None = None,
        video_patch_grid: tuple[int, int, int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fourier features of the audio patches ``(n_audio, 2*bands+1)`` and video patches ``(n_video, ...)``, by
        default those of the configured clip."""
        c = self.config
        configured = (c.num_audio_patches, tuple(c.video_patch_grid))
        size = (num_audio_patches or c.num_audio_patches, tuple(video_patch_grid or c.video_patch_grid))
        key = (device, *size)
        if key not in self._position_encodings:
            if size != configured:
                # keep the configured clip's features and those of the last other size only
                self._position_encodings = {k: v for k, v in self._position_encodings.items() if k[1:] == configured}
            audio = fourier_features((size[0],), c.num_audio_frequency_bands, max_resolution=(c.num_audio_samples,))
            image = fourier_features(size[1], c.num_image_frequency_bands, max_resolution=c.video_shape)
            self._position_encodings[key] = (audio.to(device), image.to(device))
        return self._position_encodings[key]

    def _mask(self, name: str, x: torch.Tensor) -> torch.Tensor:
        prob = getattr(self.config, f"{name}_mask_prob")
        if prob == 0.0:
            return x
        token = self.mask[name].to(x.dtype)
        if prob == 1.0:
            return token.expand_as(x)
        # masking is part of the model (as in the official one), in training and inference alike
        keep = torch.rand(x.shape[:2] + (1,), device=x.device) >= prob
        return torch.where(keep, x, token)


def check_inputs(x: dict, config: MultimodalEncoderConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if not isinstance(x, dict):
        raise TypeError(f"x must be a dict with keys 'audio', 'image' and 'label', got {type(x).__name__}")
    unknown = set(x) - set(MODALITIES)
    if unknown:
        raise ValueError(f"x has unknown modalities {sorted(unknown)}; allowed: {list(MODALITIES)}")
    audio, image, label = x.get("audio"), x.get("image"), x.get("label")
    if not isinstance(image, torch.Tensor) or not isinstance(audio, torch.Tensor):
        raise TypeError("x['audio'] and x['image'] must be tensors")
    expected_image = (*config.video_shape, config.image_shape[2])
    patch = (config.image_temporal_patch_size, config.image_patch_size, config.image_patch_size)
    if (
        image.dim() != 5
        or image.shape[-1] != config.image_shape[2]
        or any(size == 0 or size % p for size, p in zip(image.shape[1:4], patch))
    ):
        raise ValueError(
            f"x['image'] must have shape (batch_size, frames, height, width, channels) = (batch_size, "
            f"{', '.join(map(str, expected_image))}), or other frames, height and width divisible by the patch "
            f"size {patch}, got {tuple(image.shape)}"
        )
    b = image.shape[0]
    if audio.dim() == 3 and audio.shape[-1] == 1:
        audio = audio[..., 0]
    if (
        audio.dim() != 2
        or audio.shape[0] != b
        or audio.shape[1] == 0
        or audio.shape[1] % config.audio_samples_per_patch
    ):
        raise ValueError(
            f"x['audio'] must have shape (batch_size, num_audio_samples) = ({b}, {config.num_audio_samples}), or "
            f"another number of samples divisible by audio_samples_per_patch ({config.audio_samples_per_patch}), "
            f"got {tuple(audio.shape)}"
        )
    if label is None:
        if config.label_mask_prob < 1.0:
            raise ValueError("x['label'] is required unless label_mask_prob = 1 (the label is always masked)")
    elif tuple(label.shape) != (b, config.num_classes):
        raise ValueError(
            f"x['label'] must have shape (batch_size, num_classes) = ({b}, {config.num_classes}), "
            f"got {tuple(label.shape)}"
        )
    return audio, image, label


def space_to_depth(video: torch.Tensor, temporal_patch_size: int, patch_size: int) -> torch.Tensor:
    """``(b, t, h, w, c)`` -> ``(b, (t/tp)*(h/p)*(w/p), tp*p*p*c)``, patch channels ordered (time, row, col, c)."""
    b, t, h, w, c = video.shape
    tp, p = temporal_patch_size, patch_size
    video = video.reshape(b, t // tp, tp, h // p, p, w // p, p, c).permute(0, 1, 3, 5, 2, 4, 6, 7)
    return video.reshape(b, (t // tp) * (h // p) * (w // p), tp * p * p * c)


def subsampled_positions(indices: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Coordinates ``-1 + 2 * i / n`` per dimension of flat ``indices`` into a grid of ``shape`` (the output
    positions of the official decoder)."""
    coords = torch.stack(torch.unravel_index(indices, shape), dim=-1).to(torch.float32)
    return -1.0 + 2.0 * coords / torch.tensor(shape, dtype=torch.float32, device=indices.device)


class MultimodalQueryProvider(nn.Module):
    """Decoder queries of any subset of output points: Fourier features of audio-patch and video-pixel positions,
    a learned label query, each padded to ``num_query_channels`` with a learned per-modality padding."""

    def __init__(self, encoder: MultimodalEncoderConfig, decoder: MultimodalDecoderConfig):
        super().__init__()
        require_positive(num_label_query_channels=decoder.num_label_query_channels)
        if decoder.min_padding_size < 0:
            raise ValueError(f"min_padding_size must be >= 0, got {decoder.min_padding_size}")
        self.audio_shape = (encoder.num_audio_patches,)
        self.audio_resolution = (encoder.num_audio_samples,)
        self.audio_bands = encoder.num_audio_frequency_bands
        self.image_shape = encoder.video_shape
        self.image_bands = encoder.num_image_frequency_bands
        widths = {
            "audio": 2 * self.audio_bands + 1,
            "image": 3 * (2 * self.image_bands + 1),
            "label": decoder.num_label_query_channels,
        }
        self._num_query_channels = max(widths.values()) + decoder.min_padding_size
        self.label_query = nn.Parameter(torch.empty(1, decoder.num_label_query_channels))
        self.padding = nn.ParameterDict(
            {m: nn.Parameter(torch.empty(1, self._num_query_channels - widths[m])) for m in MODALITIES}
        )
        with torch.no_grad():
            for param in [self.label_query, *self.padding.values()]:
                param.normal_(0.0, 0.02)

    @property
    def num_query_channels(self) -> int:
        return self._num_query_channels

    def num_outputs(self, modality: str) -> int:
        return {"audio": self.audio_shape[0], "image": math.prod(self.image_shape), "label": 1}[modality]

    def forward(self, modality: str, indices: torch.Tensor) -> torch.Tensor:
        """Queries ``(len(indices), num_query_channels)`` of the output points ``indices`` (flat) of ``modality``."""
        if modality == "audio":
            query = fourier_encode(
                subsampled_positions(indices, self.audio_shape), self.audio_resolution, self.audio_bands
            )
        elif modality == "image":
            query = fourier_encode(subsampled_positions(indices, self.image_shape), self.image_shape, self.image_bands)
        else:
            query = self.label_query.expand(len(indices), -1)
        query = query.to(self.padding[modality].dtype)
        return torch.cat([query, self.padding[modality].expand(len(indices), -1)], dim=-1)


class MultimodalOutputAdapter(OutputAdapter):
    """A shared projection to ``num_output_channels``, then per-modality heads: audio samples per patch, image
    channels per pixel, class logits."""

    def __init__(self, encoder: MultimodalEncoderConfig, decoder: MultimodalDecoderConfig, num_query_channels: int):
        super().__init__()
        require_positive(num_output_channels=decoder.num_output_channels)
        c = decoder.num_output_channels
        self.linear = nn.Linear(num_query_channels, c)
        self.heads = nn.ModuleDict(
            {
                "audio": nn.Linear(c, encoder.audio_samples_per_patch),
                "image": nn.Linear(c, encoder.image_shape[2]),
                "label": nn.Linear(c, encoder.num_classes),
            }
        )

    def forward(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        return self.heads[modality](self.linear(x))


class MultimodalDecoder(PerceiverDecoder):
    """Decodes the requested output points of every modality in chunks of ``chunk_size`` queries."""

    def __init__(self, encoder: MultimodalEncoderConfig, decoder: MultimodalDecoderConfig, num_latent_channels: int):
        query_provider = MultimodalQueryProvider(encoder, decoder)
        kwargs = decoder.base_kwargs()
        if kwargs["num_cross_attention_qk_channels"] is None:
            kwargs["num_cross_attention_qk_channels"] = num_latent_channels  # as the official decoder
        super().__init__(
            output_adapter=MultimodalOutputAdapter(encoder, decoder, query_provider.num_query_channels),
            output_query_provider=query_provider,
            num_latent_channels=num_latent_channels,
            **kwargs,
        )
        self.encoder_config = encoder
        self.chunk_size = decoder.chunk_size

    def forward(
        self,
        x_latent: torch.Tensor,
        output_points: dict[str, torch.Tensor | None] | None = None,
        chunk_size: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Outputs of all points (``output_points=None``) of the configured clip, whatever the input's size (as
        ``transformers``): ``audio`` ``(b, num_audio_samples)``, ``image`` ``(b, frames, height, width, channels)``,
        ``label`` ``(b, num_classes)``. With ``output_points``
        (modality -> flat indices into the audio patches or video pixels; the label is always decoded) only those:
        ``audio`` ``(b, len * samples_per_patch)``, ``image`` ``(b, len, channels)``."""
        chunk_size = self.chunk_size if chunk_size is None else chunk_size
        require_positive(chunk_size=chunk_size)
        points = self._points(output_points, x_latent.device)
        b = x_latent.shape[0]
        outputs = {}
        for modality, indices in points.items():
            chunks = []
            for chunk in indices.split(chunk_size):
                query = self.output_query_provider(modality, chunk).to(x_latent.dtype)
                output = self.cross_attn(query.unsqueeze(0).expand(b, -1, -1), x_latent).last_hidden_state
                chunks.append(self.output_adapter(output, modality))
            outputs[modality] = torch.cat(chunks, dim=1)
        outputs["label"] = outputs["label"][:, 0]
        outputs["audio"] = outputs["audio"].flatten(1)
        if output_points is None or output_points.get("image") is None:
            outputs["image"] = outputs["image"].reshape(b, *self.encoder_config.video_shape, -1)
        return outputs

    def _points(self, output_points: dict | None, device: torch.device) -> dict[str, torch.Tensor]:
        output_points = output_points or {}
        unknown = set(output_points) - set(MODALITIES)
        if unknown:
            raise ValueError(f"output_points has unknown modalities {sorted(unknown)}; allowed: {list(MODALITIES)}")
        points = {}
        for modality in MODALITIES:
            n = self.output_query_provider.num_outputs(modality)
            indices = output_points.get(modality) if modality != "label" else None
            if indices is None:
                points[modality] = torch.arange(n, device=device)
                continue
            indices = torch.as_tensor(indices, device=device)
            if indices.dtype.is_floating_point or indices.dim() != 1:
                raise ValueError(f"output_points[{modality!r}] must be a 1-D tensor of integer indices")
            if indices.numel() and (indices.min() < 0 or indices.max() >= n):
                raise ValueError(f"output_points[{modality!r}] must lie in [0, {n - 1}]")
            points[modality] = indices.long()
        return points


class MultimodalAutoencoder(PerceiverIO):
    def __init__(self, config: MultimodalAutoencoderConfig):
        # the modality fields of config.encoder configure the adapter
        encoder = perceiver_io_encoder(config, MultimodalInputAdapter(config.encoder), qk_channels_of_input=True)
        decoder = MultimodalDecoder(config.encoder, config.decoder, config.num_latent_channels)
        super().__init__(encoder, decoder)
        self.config = config

    def forward(
        self,
        x: dict[str, torch.Tensor | None],
        output_points: dict[str, torch.Tensor | None] | None = None,
        chunk_size: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Reconstructs audio and video and predicts the label (see ``MultimodalDecoder.forward``)."""
        return self.decoder(self.encoder(x), output_points=output_points, chunk_size=chunk_size)
