"""The ``optical-flow`` pipeline: frame pairs (PIL, numpy or torch) in, flow fields or rendered flow images out."""

from typing import Any

import numpy as np
import PIL.Image
import torch
from transformers import Pipeline

from perceiver.data.vision.optical_flow import OpticalFlowProcessor, render_optical_flow


def _is_frame(x: Any) -> bool:
    return isinstance(x, PIL.Image.Image | np.ndarray | torch.Tensor)


class OpticalFlowPipeline(Pipeline):
    """``pipeline("optical-flow", model=...)(pair)`` with ``pair = (frame_1, frame_2)`` returns the flow from
    frame 1 to frame 2, ``(h, w, 2)`` (x, y displacement in pixels), or with ``render=True`` an RGB image
    ``(h, w, 3)``. A list of pairs returns a list. Frames of any size at least the model's window are tiled into
    overlapping windows; ``micro_batch_size`` windows go through the model at a time. ``progress_bar``: show a
    progress bar over the windows (default: when a pair needs more than one model call and stderr is a terminal)."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args: Any, patch_min_overlap: int | None = None, flow_scale_factor: float = 20, **kwargs: Any):
        super().__init__(*args, **kwargs)
        image_shape = tuple(self.model.config.backend_config.encoder.image_shape)
        if patch_min_overlap is None:
            patch_min_overlap = min(20, min(image_shape) // 4)  # 20 for the official 368x496 window
        self.flow_processor = OpticalFlowProcessor(image_shape, patch_min_overlap, flow_scale_factor)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, tuple | list) and len(inputs) == 2 and all(_is_frame(x) for x in inputs):
            inputs = tuple(inputs)  # one pair
        elif isinstance(inputs, list | tuple):
            if not all(isinstance(p, tuple | list) for p in inputs):
                raise TypeError("inputs must be a pair of frames (frame_1, frame_2) or a list of such pairs")
            inputs = [tuple(p) for p in inputs]
            if not inputs:
                return []
        else:
            raise TypeError(f"inputs must be a pair of frames or a list of pairs, got {type(inputs).__name__}")
        return super().__call__(inputs, **kwargs)

    def _sanitize_parameters(
        self,
        micro_batch_size: int | None = None,
        render: bool | None = None,
        progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        forward_params, postprocess_params = {}, {}
        if micro_batch_size is not None:
            if not isinstance(micro_batch_size, int) or micro_batch_size <= 0:
                raise ValueError(f"micro_batch_size must be a positive int, got {micro_batch_size!r}")
            forward_params["micro_batch_size"] = micro_batch_size
        if progress_bar is not None:
            if not isinstance(progress_bar, bool):
                raise TypeError(f"progress_bar must be a bool or None, got {type(progress_bar).__name__}")
            forward_params["progress_bar"] = progress_bar
        if render is not None:
            postprocess_params["render"] = render
        return {}, forward_params, postprocess_params

    def preprocess(self, image_pair: tuple[Any, Any]) -> dict[str, Any]:
        windows, _ = self.flow_processor.preprocess(image_pair)
        height, width = self.flow_processor.check_pair(image_pair)[0].shape[:2]
        return {"windows": windows, "image_shape": (height, width)}

    def _forward(
        self, model_inputs: dict[str, Any], micro_batch_size: int = 1, progress_bar: bool | None = None
    ) -> dict[str, Any]:
        from tqdm.auto import tqdm

        windows = model_inputs["windows"].to(self.model.dtype)
        chunks = windows.split(micro_batch_size)
        # None: tqdm's own choice (shown on a terminal), for pairs that take more than one model call
        disable = not progress_bar if progress_bar is not None else (None if len(chunks) > 1 else True)
        bar = tqdm(total=len(windows), desc="optical flow windows", unit="window", disable=disable)
        flows = []
        with bar:
            for chunk in chunks:
                flows.append(self.model(inputs=chunk).logits)
                bar.update(len(chunk))
        return {"flows": torch.cat(flows), "image_shape": model_inputs["image_shape"]}

    def postprocess(self, model_outputs: dict[str, Any], render: bool = False) -> np.ndarray:
        flow = self.flow_processor.postprocess(model_outputs["flows"], model_outputs["image_shape"])
        return render_optical_flow(flow) if render else flow
