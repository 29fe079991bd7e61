"""Position information: integer positions, rotary frequency encodings, rotary embedding and Fourier features."""

import math
from collections.abc import Sequence

import torch
import torch.nn as nn


def positions(b: int, n: int, shift: torch.Tensor | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Integer positions ``0..n-1`` for each of ``b`` rows, each row moved left by ``shift`` and clamped at 0.

    With left padding, ``shift`` is the number of pad tokens per row, so the first real token has position 0.
    """
    pos = torch.arange(n, device=device).unsqueeze(0).expand(b, n)
    if shift is not None:
        if shift.shape != (b, 1):
            raise ValueError(f"shift must have shape {(b, 1)} but has shape {tuple(shift.shape)}")
        pos = pos - shift.to(pos.device)
    return pos.clamp(min=0)


class FrequencyPositionEncoding(nn.Module):
    """Rotary angles for integer positions: ``pos * 1/10000^(2i/dim)``, each frequency repeated twice (interleaved)."""

    def __init__(self, dim: int):
        super().__init__()
        if dim <= 0 or dim % 2 != 0:
            raise ValueError(f"dim must be a positive even number, got {dim}")
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, abs_pos: torch.Tensor) -> torch.Tensor:
        angles = abs_pos.to(self.inv_freq.dtype).unsqueeze(-1) * self.inv_freq
        return angles.repeat_interleave(2, dim=-1)


class RotaryPositionEmbedding:
    """Rotates the first ``rotate_dim`` channels of each head by position-dependent angles (interleaved pairs).

    ``frq_pos_enc`` has shape ``(b, 1, n, rotate_dim)`` or ``(n, rotate_dim)``. A tensor of length ``l <= n`` is
    rotated with the first ``l`` encodings, or with the last ``l`` if ``right_align`` (queries that are the last
    positions of a sequence, as Perceiver AR latents are).
    """

    def __init__(self, frq_pos_enc: torch.Tensor, right_align: bool = False):
        self.frq_pos_enc = frq_pos_enc
        self.rotate_dim = frq_pos_enc.shape[-1]
        self.right_align = right_align

    def rotate(self, t: torch.Tensor) -> torch.Tensor:
        seq_len = t.shape[-2]
        enc = self.frq_pos_enc[..., -seq_len:, :] if self.right_align else self.frq_pos_enc[..., :seq_len, :]
        t_rot, t_pass = t[..., : self.rotate_dim], t[..., self.rotate_dim :]
        t_rot = t_rot * enc.cos().to(t.dtype) + rotate_pairs(t_rot) * enc.sin().to(t.dtype)
        return torch.cat((t_rot, t_pass), dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2, x3, x4] -> [-x2, x1, -x4, x3]``."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


class FourierPositionEncoding(nn.Module):
    """Fourier features of a spatial grid: ``[pos, sin(pi*f*pos), cos(pi*f*pos)]`` per spatial dimension.

    Coordinates are ``linspace(-1, 1)`` per dimension; frequencies ``linspace(1, r/2, num_frequency_bands)`` where
    ``r`` is the dimension's size, or its entry in ``max_resolution`` when given (a grid coarser than the resolution
    the frequencies were chosen for, as after a strided convolution). The encoding is a buffer of shape
    ``(prod(input_shape), num_position_encoding_channels())``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_frequency_bands: int,
        include_positions: bool = True,
        max_resolution: Sequence[int] | None = None,
    ):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.num_frequency_bands = num_frequency_bands
        self.include_positions = include_positions
        encoding = fourier_features(self.input_shape, num_frequency_bands, include_positions, max_resolution)
        self.register_buffer("position_encoding", encoding)

    def num_position_encoding_channels(self, include_positions: bool | None = None) -> int:
        include = self.include_positions if include_positions is None else include_positions
        return len(self.input_shape) * (2 * self.num_frequency_bands + int(include))

    def forward(self, b: int) -> torch.Tensor:
        return self.position_encoding.unsqueeze(0).expand(b, -1, -1)


def spatial_positions(input_shape: Sequence[int]) -> torch.Tensor:
    """Grid coordinates in [-1, 1], shape ``(*input_shape, len(input_shape))``."""
    coords = [torch.linspace(-1.0, 1.0, steps=size) for size in input_shape]
    return torch.stack(torch.meshgrid(*coords, indexing="ij"), dim=-1)


def fourier_features(
    input_shape: Sequence[int],
    num_frequency_bands: int,
    include_positions: bool = True,
    max_resolution: Sequence[int] | None = None,
) -> torch.Tensor:
    pos = spatial_positions(input_shape).reshape(-1, len(input_shape))
    return fourier_encode(pos, max_resolution or input_shape, num_frequency_bands, include_positions)


def fourier_encode(
    pos: torch.Tensor, max_resolution: Sequence[int], num_frequency_bands: int, include_positions: bool = True
) -> torch.Tensor:
    """Fourier features of arbitrary coordinates ``pos`` of shape ``(..., d)`` in [-1, 1]: the last dimension
    becomes ``[pos, sin(all dims x bands), cos(all dims x bands)]`` (DeepMind's channel order)."""
    # one frequency ramp per spatial dimension, up to its Nyquist frequency
    freqs = torch.stack([torch.linspace(1.0, r / 2.0, steps=num_frequency_bands) for r in max_resolution])
    freqs = freqs.to(pos.device)
    angles = (pos.unsqueeze(-1) * freqs).flatten(-2) * math.pi  # (..., dims * bands), dimension-major
    parts = [pos] if include_positions else []
    parts += [torch.sin(angles), torch.cos(angles)]
    return torch.cat(parts, dim=-1)
