"""Position information: integer positions, rotary frequency encodings, rotary embedding and Fourier features."""

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


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
    """Rotary angles for integer positions: ``pos * 1/10000^(2i/dim)`` for ``i < ceil(dim / 2)``, each frequency
    repeated twice (interleaved), so ``2 * ceil(dim / 2)`` channels: an odd ``dim`` rotates one channel more than
    it names (``dim=1``: one pair at frequency 1), as in perceiver-io 0.11, whose models were trained that way."""

    def __init__(self, dim: int):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)

    @property
    def num_channels(self) -> int:
        """Channels each encoding has (and rotates): ``2 * ceil(dim / 2)``."""
        return 2 * self.inv_freq.shape[0]

    def forward(self, abs_pos: torch.Tensor) -> torch.Tensor:
        angles = abs_pos.to(self.inv_freq.dtype).unsqueeze(-1) * self.inv_freq
        return angles.repeat_interleave(2, dim=-1)


class RotaryPositionEmbedding:
    """Rotates the first ``rotate_dim`` channels of each head by position-dependent angles (interleaved pairs).

    ``frq_pos_enc`` has shape ``(b, n, rotate_dim)`` (what :class:`FrequencyPositionEncoding` returns, as in
    perceiver-io 0.11), ``(b, 1, n, rotate_dim)`` (broadcast over heads) or ``(n, rotate_dim)``. A tensor of length
    ``l <= n`` is rotated with the first ``l`` encodings, or with the last ``l`` if ``right_align`` (queries that are
    the last positions of a sequence, as Perceiver AR latents are). The cosine and sine tables are computed once per
    head dim and dtype and reused by every layer that rotates with this embedding.
    """

    def __init__(self, frq_pos_enc: torch.Tensor, right_align: bool = False):
        if frq_pos_enc.shape[-1] % 2 != 0:
            raise ValueError(
                f"frq_pos_enc must have an even number of channels (interleaved pairs), got {frq_pos_enc.shape[-1]}"
            )
        if frq_pos_enc.dim() == 3:
            frq_pos_enc = frq_pos_enc.unsqueeze(1)  # (b, n, d) -> (b, 1, n, d): the same angles for every head
        self.frq_pos_enc = frq_pos_enc
        self.rotate_dim = frq_pos_enc.shape[-1]
        self.right_align = right_align
        self._tables: dict[tuple[int, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def rotate(self, t: torch.Tensor) -> torch.Tensor:
        head_dim, seq_len = t.shape[-1], t.shape[-2]
        if self.rotate_dim > head_dim:
            raise ValueError(f"rotary embedding rotates {self.rotate_dim} channels but heads have only {head_dim}")
        full_width = head_dim % 2 == 0
        cos, sin = self._cos_sin(head_dim if full_width else self.rotate_dim, t.dtype)
        if seq_len != cos.shape[-2]:
            start = cos.shape[-2] - seq_len if self.right_align else 0
            cos, sin = cos[..., start : start + seq_len, :], sin[..., start : start + seq_len, :]
        if full_width:
            # pass-through channels have cos 1 and sin 0: rotating the whole head leaves them exactly unchanged
            return torch.addcmul(t * cos, swap_pairs(t), sin)
        t_rot, t_pass = t[..., : self.rotate_dim], t[..., self.rotate_dim :]
        return torch.cat((torch.addcmul(t_rot * cos, swap_pairs(t_rot), sin), t_pass), dim=-1)

    def _cos_sin(self, width: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """``cos`` and ``sin`` of the angles, ``width`` channels wide; ``sin`` carries the rotation's signs, so a
        pair ``(x1, x2)`` becomes ``x * cos + swap_pairs(x) * sin = (x1 cos - x2 sin, x2 cos + x1 sin)``."""
        key = (width, dtype)
        if key not in self._tables:
            angles = self.frq_pos_enc
            signs = torch.tensor([-1.0, 1.0], dtype=angles.dtype, device=angles.device).repeat(self.rotate_dim // 2)
            cos, sin = angles.cos(), angles.sin() * signs
            if width > self.rotate_dim:
                cos = F.pad(cos, (0, width - self.rotate_dim), value=1.0)
                sin = F.pad(sin, (0, width - self.rotate_dim), value=0.0)
            self._tables[key] = (cos.to(dtype), sin.to(dtype))
        return self._tables[key]


def swap_pairs(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2, x3, x4] -> [x2, x1, x4, x3]``."""
    return x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)


class FourierPositionEncoding(nn.Module):
    """Fourier features of a spatial grid: ``[pos, sin(pi*f*pos), cos(pi*f*pos)]`` per spatial dimension.

    Coordinates are ``linspace(-1, 1)`` per dimension; frequencies ``linspace(1, r/2, num_frequency_bands)`` where
    ``r`` is the dimension's size, or its entry in ``max_resolution`` when given (a grid coarser than the resolution
    the frequencies were chosen for, as after a strided convolution). The encoding of ``input_shape`` is a buffer of
    shape ``(prod(input_shape), num_position_encoding_channels())``; :meth:`encoding_for` gives the encoding of a
    grid of another shape with the same frequencies.
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
        self.max_resolution = tuple(max_resolution or input_shape)
        if len(self.max_resolution) != len(self.input_shape):
            raise ValueError(
                f"max_resolution {self.max_resolution} must have one entry per dimension of input_shape "
                f"{self.input_shape}"
            )
        encoding = fourier_features(self.input_shape, num_frequency_bands, include_positions, self.max_resolution)
        self.register_buffer("position_encoding", encoding)
        # the encoding of the last other grid shape asked for: inputs of one size in a row compute it once
        self._other_shape: tuple[tuple, torch.Tensor] | None = None

    def num_position_encoding_channels(self, include_positions: bool | None = None) -> int:
        include = self.include_positions if include_positions is None else include_positions
        return len(self.input_shape) * (2 * self.num_frequency_bands + int(include))

    def encoding_for(self, input_shape: Sequence[int]) -> torch.Tensor:
        """The encoding ``(prod(input_shape), channels)`` of a grid of ``input_shape`` (coordinates spanning [-1, 1]
        whatever its size), with this encoding's frequencies; on the buffer's device and in its dtype."""
        input_shape = tuple(input_shape)
        if input_shape == self.input_shape:
            return self.position_encoding
        if len(input_shape) != len(self.input_shape) or min(input_shape, default=0) <= 0:
            raise ValueError(
                f"input_shape must have {len(self.input_shape)} positive sizes (as {self.input_shape}), "
                f"got {input_shape}"
            )
        buffer = self.position_encoding
        key = (input_shape, buffer.device, buffer.dtype)
        if self._other_shape is None or self._other_shape[0] != key:
            encoding = fourier_features(
                input_shape, self.num_frequency_bands, self.include_positions, self.max_resolution, buffer.device
            )
            self._other_shape = (key, encoding.to(buffer.dtype))
        return self._other_shape[1]

    def forward(self, b: int, input_shape: Sequence[int] | None = None) -> torch.Tensor:
        encoding = self.position_encoding if input_shape is None else self.encoding_for(input_shape)
        return encoding.unsqueeze(0).expand(b, -1, -1)


def spatial_positions(input_shape: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    """Grid coordinates in [-1, 1], shape ``(*input_shape, len(input_shape))``."""
    coords = [torch.linspace(-1.0, 1.0, steps=size, device=device) for size in input_shape]
    return torch.stack(torch.meshgrid(*coords, indexing="ij"), dim=-1)


def fourier_features(
    input_shape: Sequence[int],
    num_frequency_bands: int,
    include_positions: bool = True,
    max_resolution: Sequence[int] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    pos = spatial_positions(input_shape, device).reshape(-1, len(input_shape))
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


__all__ = ["FourierPositionEncoding", "FrequencyPositionEncoding", "RotaryPositionEmbedding", "positions"]
