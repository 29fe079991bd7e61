"""Optical flow pre- and postprocessing on numpy and torch: 3x3 patches of frame pairs, tiling of frames of any size
into overlapping model-sized windows, merging of the window flows, and rendering flow as a colour-wheel image.

Follows the DeepMind Perceiver IO optical flow colab: frames are scaled to [-1, 1]; every pixel becomes its 3x3
neighbourhood (TF ``extract_patches`` order: row, column, channel) with 'SAME' zero padding; windows overlap by at
least ``patch_min_overlap`` pixels and the last row/column of windows is flush with the frame border; window flows
are averaged with weights that grow with the distance to the window border, then scaled by ``flow_scale_factor``.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch


def to_frame(frame: Any, name: str = "frame") -> np.ndarray:
    """An RGB frame ``(h, w, 3)`` as float32 in [0, 255] from a PIL image, a numpy array or a torch tensor
    (``(h, w, 3)`` channels last, or ``(3, h, w)``; integers in [0, 255], floats in [0, 1] or [0, 255])."""
    if isinstance(frame, PIL.Image.Image):
        return np.asarray(frame.convert("RGB"), dtype=np.float32)
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} must be a PIL image, numpy array or torch tensor, got {type(frame).__name__}")
    if frame.ndim == 3 and frame.shape[-1] != 3 and frame.shape[0] == 3:
        frame = np.moveaxis(frame, 0, -1)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"{name} must be an RGB image of shape (h, w, 3) or (3, h, w), got {tuple(frame.shape)}")
    if frame.dtype == np.uint8:
        return frame.astype(np.float32)
    if np.issubdtype(frame.dtype, np.floating) and frame.size and frame.max() <= 1.0:
        return frame.astype(np.float32) * 255.0
    if not np.issubdtype(frame.dtype, np.number):
        raise TypeError(f"{name} has unsupported dtype {frame.dtype}")
    return frame.astype(np.float32)


def extract_patches(frame: np.ndarray, kernel_size: int = 3) -> np.ndarray:
    """Every pixel's ``kernel_size x kernel_size`` neighbourhood with TF 'SAME' zero padding: ``(h, w, c)`` ->
    ``(k*k*c, h, w)``, channels ordered (row offset, column offset, channel)."""
    h, w, c = frame.shape
    pad_total = kernel_size - 1  # 'SAME' at stride 1: output size = input size
    before, after = pad_total // 2, pad_total - pad_total // 2
    padded = np.pad(frame, ((before, after), (before, after), (0, 0)))
    shifted = [padded[dy : dy + h, dx : dx + w] for dy in range(kernel_size) for dx in range(kernel_size)]
    return np.concatenate(shifted, axis=-1).transpose(2, 0, 1)


def grid_indices(image_shape: Sequence[int], patch_size: Sequence[int], min_overlap: int) -> list[tuple[int, int]]:
    """Top-left corners of windows of ``patch_size`` that cover a frame of ``image_shape`` (h, w), overlapping by
    at least ``min_overlap`` pixels, the last ones flush with the bottom and right borders."""
    starts = []
    for size, patch in zip(image_shape[:2], patch_size):
        if min_overlap >= patch:
            raise ValueError(f"patch_min_overlap ({min_overlap}) must be smaller than the window size {patch}")
        if size < patch:
            raise ValueError(f"frame size {tuple(image_shape[:2])} is smaller than the window {tuple(patch_size)}")
        # clamped to size - patch: the last window is flush with the border and none reaches beyond it
        starts.append(sorted({min(start, size - patch) for start in range(0, size, patch - min_overlap)}))
    return list(itertools.product(*starts))


def border_weights(patch_size: Sequence[int]) -> np.ndarray:
    """``(h, w)`` weights: 1 + the distance to the nearest window border (a pyramid)."""
    h, w = patch_size
    wy = np.minimum(np.arange(h) + 1, h - np.arange(h))
    wx = np.minimum(np.arange(w) + 1, w - np.arange(w))
    return np.minimum(wy[:, None], wx[None, :]).astype(np.float32)


class OpticalFlowProcessor:
    """Frame pairs -> model input windows, model output windows -> one flow field per pair.

    :param patch_size: the model's window (h, w), e.g. ``(368, 496)``.
    :param patch_min_overlap: minimum overlap of neighbouring windows in pixels.
    :param flow_scale_factor: factor from the model's output to pixel displacements.
    """

    def __init__(
        self, patch_size: Sequence[int] = (368, 496), patch_min_overlap: int = 20, flow_scale_factor: float = 20
    ):
        if len(patch_size) != 2 or any(not isinstance(s, int) or s <= 0 for s in patch_size):
            raise ValueError(f"patch_size must be two positive ints (h, w), got {patch_size!r}")
        if not isinstance(patch_min_overlap, int) or patch_min_overlap < 0:
            raise ValueError(f"patch_min_overlap must be an int >= 0, got {patch_min_overlap!r}")
        if patch_min_overlap >= min(patch_size):
            raise ValueError(f"patch_min_overlap ({patch_min_overlap}) must be smaller than patch_size {patch_size}")
        self.patch_size = tuple(patch_size)
        self.patch_min_overlap = patch_min_overlap
        self.flow_scale_factor = flow_scale_factor

    def check_pair(self, image_pair: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(image_pair, tuple | list) or len(image_pair) != 2:
            raise TypeError(f"image_pair must be a pair (frame_1, frame_2), got {type(image_pair).__name__}")
        frame_1, frame_2 = (to_frame(f, f"frame_{i + 1}") for i, f in enumerate(image_pair))
        if frame_1.shape != frame_2.shape:
            raise ValueError(f"frames must have the same size, got {frame_1.shape[:2]} and {frame_2.shape[:2]}")
        h, w = frame_1.shape[:2]
        if h < self.patch_size[0] or w < self.patch_size[1]:
            raise ValueError(f"frames of size {(h, w)} are smaller than the model's window {self.patch_size}")
        return frame_1, frame_2

    def preprocess(self, image_pair: Any) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """One frame pair -> windows ``(num_windows, 2, 27, h, w)`` and the windows' top-left corners."""
        frames = self.check_pair(image_pair)
        patches = np.stack([extract_patches(f / 255.0 * 2.0 - 1.0) for f in frames])  # (2, 27, H, W)
        grid = grid_indices(frames[0].shape, self.patch_size, self.patch_min_overlap)
        ph, pw = self.patch_size
        windows = np.stack([patches[..., y : y + ph, x : x + pw] for y, x in grid])
        return torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)), grid

    def preprocess_batch(self, image_pairs: Sequence[Any]) -> tuple[torch.Tensor, list[list[tuple[int, int]]]]:
        """Several pairs of equal frame size -> their windows concatenated, and each pair's window corners."""
        outputs = [self.preprocess(pair) for pair in image_pairs]
        return torch.cat([windows for windows, _ in outputs]), [grid for _, grid in outputs]

    def postprocess(self, predictions: torch.Tensor | np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
        """Window flows ``(num_windows, h, w, 2)`` of one pair -> its flow ``(H, W, 2)`` in pixels."""
        flows = predictions.detach().float().cpu().numpy() if isinstance(predictions, torch.Tensor) else predictions
        grid = grid_indices(image_shape, self.patch_size, self.patch_min_overlap)
        if flows.shape[0] != len(grid) or tuple(flows.shape[1:3]) != self.patch_size:
            raise ValueError(
                f"predictions must have shape ({len(grid)}, {self.patch_size[0]}, {self.patch_size[1]}, c) for frames "
                f"of size {tuple(image_shape[:2])}, got {tuple(flows.shape)}"
            )
        h, w = image_shape[:2]
        ph, pw = self.patch_size
        weights = border_weights(self.patch_size)[..., None]
        total = np.zeros((h, w, flows.shape[-1]), dtype=np.float64)
        count = np.zeros((h, w, 1), dtype=np.float64)
        for (y, x), flow in zip(grid, flows):
            total[y : y + ph, x : x + pw] += flow * weights
            count[y : y + ph, x : x + pw] += weights
        return (total / count * self.flow_scale_factor).astype(np.float32)

    def process(
        self, model: Callable[[torch.Tensor], torch.Tensor], image_pairs: Sequence[Any], batch_size: int = 1
    ) -> np.ndarray:
        """Flow ``(B, H, W, 2)`` of each pair (all of one frame size), running ``model`` on ``batch_size`` windows
        at a time."""
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        flows = []
        for pair in image_pairs:
            windows, _ = self.preprocess(pair)
            predictions = torch.cat([model(chunk) for chunk in windows.split(batch_size)])
            flows.append(self.postprocess(predictions, to_frame(pair[0]).shape))
        return np.stack(flows)


def render_optical_flow(flow: np.ndarray | torch.Tensor, max_magnitude: float | None = None) -> np.ndarray:
    """Flow ``(h, w, 2)`` (x, y displacements) -> RGB ``(h, w, 3)`` uint8 on a colour wheel: hue = direction,
    saturation = magnitude relative to ``max_magnitude`` (default: the largest magnitude in ``flow``), full
    brightness, so zero flow is white."""
    if isinstance(flow, torch.Tensor):
        flow = flow.detach().float().cpu().numpy()
    if not isinstance(flow, np.ndarray) or flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be an array of shape (h, w, 2), got {getattr(flow, 'shape', type(flow))}")
    dx, dy = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    magnitude = np.hypot(dx, dy)
    scale = magnitude.max() if max_magnitude is None else max_magnitude
    saturation = np.clip(magnitude / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(magnitude)
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    return (hsv_to_rgb(hue, saturation, np.ones_like(hue)) * 255.0 + 0.5).astype(np.uint8)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] -> RGB in [0, 1], shape ``(..., 3)``."""
    sector = h * 6.0
    i = np.floor(sector).astype(int) % 6
    f = sector - np.floor(sector)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros((*h.shape, 3))
    for k, (r, g, b) in enumerate(choices):
        where = i == k
        rgb[where] = np.stack([r[where], g[where], b[where]], axis=-1)
    return rgb
