import numpy as np
import PIL.Image
import pytest
import torch

from perceiver.data.vision.optical_flow import (
    OpticalFlowProcessor,
    border_weights,
    extract_patches,
    grid_indices,
    render_optical_flow,
    to_frame,
)


def naive_patches(frame: np.ndarray, k: int = 3) -> np.ndarray:
    """Pixel by pixel: the k x k neighbourhood (zero outside the frame), ordered row, column, channel."""
    h, w, c = frame.shape
    out = np.zeros((k * k * c, h, w), dtype=frame.dtype)
    r = k // 2
    for y in range(h):
        for x in range(w):
            values = []
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    yy, xx = y + dy, x + dx
                    inside = 0 <= yy < h and 0 <= xx < w
                    values.extend(frame[yy, xx] if inside else np.zeros(c, frame.dtype))
            out[:, y, x] = values
    return out


def frames(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))


def test_extract_patches_equals_naive_loop():
    frame = np.random.default_rng(0).normal(size=(5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(extract_patches(frame), naive_patches(frame))
    assert extract_patches(frame).shape == (27, 5, 7)


def test_preprocess_windows_hold_scaled_patches_of_both_frames():
    processor = OpticalFlowProcessor((4, 6), patch_min_overlap=1)
    f1, f2 = frames(7, 10)
    windows, grid = processor.preprocess((f1, f2))
    assert windows.shape == (len(grid), 2, 27, 4, 6) and windows.dtype == torch.float32
    assert windows.min() >= -1.0 and windows.max() <= 1.0
    for i, (y, x) in enumerate(grid):
        for t, frame in enumerate((f1, f2)):
            expected = naive_patches(frame.astype(np.float32) / 255.0 * 2.0 - 1.0)[:, y : y + 4, x : x + 6]
            np.testing.assert_allclose(windows[i, t].numpy(), expected, atol=1e-6)
    both, grids = processor.preprocess_batch([(f1, f2), (f2, f1)])
    assert both.shape[0] == 2 * len(grid) and grids == [grid, grid]


GRID_CASES = [
    ((13, 30), (8, 12), 2),
    ((368, 1024), (368, 496), 20),
    ((436, 1024), (368, 496), 20),
    ((8, 12), (8, 12), 3),
]


@pytest.mark.parametrize(("size", "patch", "overlap"), GRID_CASES)
def test_grid_covers_the_frame_with_overlapping_windows(size, patch, overlap):
    grid = grid_indices(size, patch, overlap)
    covered = np.zeros(size, dtype=int)
    for y, x in grid:
        assert 0 <= y <= size[0] - patch[0] and 0 <= x <= size[1] - patch[1]
        covered[y : y + patch[0], x : x + patch[1]] += 1
    assert covered.min() >= 1
    for axis in (0, 1):
        starts = sorted({corner[axis] for corner in grid})
        assert starts[0] == 0 and starts[-1] == size[axis] - patch[axis]  # flush with both borders
        assert all(b - a <= patch[axis] - overlap for a, b in zip(starts, starts[1:]))


def test_merging_constant_window_flows_gives_that_constant():
    processor = OpticalFlowProcessor((8, 12), patch_min_overlap=3, flow_scale_factor=20)
    grid = grid_indices((21, 40), (8, 12), 3)
    predictions = torch.tensor([0.25, -0.5]).expand(len(grid), 8, 12, 2)
    flow = processor.postprocess(predictions, (21, 40))
    assert flow.shape == (21, 40, 2)
    np.testing.assert_allclose(flow, np.broadcast_to([5.0, -10.0], (21, 40, 2)), atol=1e-5)


def test_merging_weights_by_distance_to_the_window_border():
    processor = OpticalFlowProcessor((4, 4), patch_min_overlap=2, flow_scale_factor=1)
    grid = grid_indices((4, 6), (4, 4), 2)
    assert grid == [(0, 0), (0, 2)]
    predictions = torch.stack([torch.zeros(4, 4, 1), torch.ones(4, 4, 1)])
    flow = processor.postprocess(predictions, (4, 6))[..., 0]
    weights = border_weights((4, 4))
    np.testing.assert_array_equal(weights, [[1, 1, 1, 1], [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1]])
    np.testing.assert_allclose(flow[:, :2], 0.0)  # only the first window
    np.testing.assert_allclose(flow[:, 4:], 1.0)  # only the second window
    expected_col_2 = weights[:, 0] / (weights[:, 2] + weights[:, 0])  # first window at column 2, second at 0
    np.testing.assert_allclose(flow[:, 2], expected_col_2, atol=1e-6)


def test_process_runs_a_model_over_the_windows():
    processor = OpticalFlowProcessor((4, 6), patch_min_overlap=1, flow_scale_factor=2)
    calls = []

    def model(x):  # flow = mean of frame 2's centre pixel minus frame 1's, per channel pair
        calls.append(x.shape[0])
        diff = x[:, 1, 12:15] - x[:, 0, 12:15]
        return diff[:, :2].permute(0, 2, 3, 1)

    f1, f2 = frames(7, 10)
    flow = processor.process(model, [(f1, f2)], batch_size=2)
    assert flow.shape == (1, 7, 10, 2) and max(calls) <= 2
    expected = (f2[..., :2].astype(np.float32) - f1[..., :2]) / 255.0 * 2.0 * 2
    np.testing.assert_allclose(flow[0], expected, atol=1e-5)


def test_frame_types_agree():
    f1, _ = frames(5, 6)
    expected = to_frame(f1)
    for variant in (PIL.Image.fromarray(f1), torch.from_numpy(f1), torch.from_numpy(f1).permute(2, 0, 1), f1 / 255.0):
        np.testing.assert_allclose(to_frame(variant), expected, atol=1e-4)


def test_render_optical_flow():
    flow = np.zeros((5, 6, 2), dtype=np.float32)
    image = render_optical_flow(flow)
    assert image.shape == (5, 6, 3) and image.dtype == np.uint8
    assert (image == 255).all()  # zero flow is white
    flow[0, 0] = [3.0, 0.0]  # rightwards: red at full saturation
    flow[0, 1] = [-3.0, 0.0]  # leftwards: cyan
    flow[0, 2] = [1.5, 0.0]  # half the largest magnitude: half saturated
    image = render_optical_flow(torch.from_numpy(flow))
    np.testing.assert_array_equal(image[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(image[0, 1], [0, 255, 255])
    np.testing.assert_array_equal(image[0, 2], [255, 128, 128])
    np.testing.assert_array_equal(render_optical_flow(flow, max_magnitude=6.0)[0, 0], [255, 128, 128])


def test_bad_input():
    processor = OpticalFlowProcessor((8, 12), patch_min_overlap=2)
    f1, f2 = frames(13, 30)
    with pytest.raises(ValueError, match="same size"):
        processor.preprocess((f1, f2[:, :29]))
    with pytest.raises(ValueError, match="smaller than the model's window"):
        processor.preprocess((f1[:7], f2[:7]))
    with pytest.raises(TypeError, match="pair"):
        processor.preprocess(f1)
    with pytest.raises(TypeError, match="PIL image, numpy array or torch tensor"):
        processor.preprocess((f1, [[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"RGB image of shape \(h, w, 3\)"):
        processor.preprocess((f1[..., :2], f2[..., :2]))
    with pytest.raises(ValueError, match="predictions must have shape"):
        processor.postprocess(torch.zeros(2, 8, 12, 2), (13, 30))
    with pytest.raises(ValueError, match=r"flow must be an array of shape \(h, w, 2\)"):
        render_optical_flow(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="patch_min_overlap"):
        OpticalFlowProcessor((8, 12), patch_min_overlap=8)
    with pytest.raises(ValueError, match="patch_size"):
        OpticalFlowProcessor((8,))
    with pytest.raises(ValueError, match="batch_size"):
        processor.process(lambda x: x, [(f1, f2)], batch_size=0)
