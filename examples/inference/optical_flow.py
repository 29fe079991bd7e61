"""Estimate optical flow between two frames with the converted ``deepmind/optical-flow-perceiver``.

    python examples/inference/optical_flow.py                 # converts the official model (downloads once)
    python examples/inference/optical_flow.py a.png b.png --output flow.png
    python examples/inference/optical_flow.py --tiny          # offline: a small random model (meaningless flow)

Without frame files, the two views of scikit-image's stereo motorcycle pair are used (a horizontal disparity).
"""

import argparse
import tempfile

import numpy as np
from PIL import Image
from skimage import data
from transformers import pipeline

from perceiver.model.vision.optical_flow import OpticalFlowPerceiver, convert_model, render_optical_flow


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="deepmind/optical-flow-perceiver", help="hub id or folder")
    parser.add_argument("--tiny", action="store_true", help="convert a small random source model (offline)")
    parser.add_argument("--output", default=None, help="save the frames and the flow rendering to this PNG")
    parser.add_argument("--micro_batch_size", type=int, default=4)
    parser.add_argument("frames", nargs="*", help="two image files")
    args = parser.parse_args(argv)
    if len(args.frames) not in (0, 2):
        parser.error(f"give two frames or none, got {len(args.frames)}")

    source = args.source
    if args.tiny:
        from tiny_sources import tiny_source

        source = tiny_source("optical-flow-perceiver")
    model_dir = tempfile.mkdtemp(prefix="perceiver-io-optical-flow-")
    convert_model(model_dir, source_repo_id=source)

    if args.frames:
        frame_1, frame_2 = (np.asarray(Image.open(p).convert("RGB")) for p in args.frames)
    else:
        frame_1, frame_2, _ = data.stereo_motorcycle()
    flow_pipeline = pipeline("optical-flow", model=OpticalFlowPerceiver.from_pretrained(model_dir))
    flow = flow_pipeline((frame_1, frame_2), micro_batch_size=args.micro_batch_size)  # (h, w, 2): x, y in pixels
    magnitude = np.linalg.norm(flow, axis=-1)
    print(f"flow {flow.shape}: mean x {flow[..., 0].mean():.2f}, mean y {flow[..., 1].mean():.2f} px, "
          f"largest displacement {magnitude.max():.2f} px")  # fmt: skip
    if args.output:
        Image.fromarray(np.concatenate([frame_1, frame_2, render_optical_flow(flow)], axis=1)).save(args.output)
        print(f"wrote {args.output}")
    return flow


if __name__ == "__main__":
    main()
