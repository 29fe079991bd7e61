"""Convert DeepMind's official Perceiver IO checkpoints into models of this library, saved as Hugging Face folders.

    python examples/convert.py --output_dir models                    # all six, from the hub (about 2 GB)
    python examples/convert.py --output_dir models --only language-perceiver optical-flow-perceiver
    python examples/convert.py --output_dir models --source_dir hf    # offline: reads hf/<name> folders

Each model is saved to ``<output_dir>/perceiver-io-<task>``.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

from perceiver.model import multimodal
from perceiver.model.text import mlm
from perceiver.model.vision import image_classifier, optical_flow

# source name (deepmind/<name> on the hub) -> (converter, target folder name)
CONVERSIONS: dict[str, tuple[Callable, str]] = {
    "language-perceiver": (mlm.convert_model, "perceiver-io-mlm"),
    "vision-perceiver-fourier": (image_classifier.convert_model, "perceiver-io-img-clf-fourier"),
    "vision-perceiver-learned": (image_classifier.convert_model, "perceiver-io-img-clf-learned"),
    "vision-perceiver-conv": (image_classifier.convert_model, "perceiver-io-img-clf-conv"),
    "optical-flow-perceiver": (optical_flow.convert_model, "perceiver-io-optical-flow"),
    "multimodal-perceiver": (multimodal.convert_model, "perceiver-io-multimodal"),
}


def main(argv: list[str] | None = None) -> dict[str, Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", default="models")
    parser.add_argument("--source_dir", default=None, help="read <source_dir>/<name> instead of deepmind/<name>")
    parser.add_argument("--only", nargs="+", choices=sorted(CONVERSIONS), default=list(CONVERSIONS))
    args = parser.parse_args(argv)

    saved = {}
    for name in args.only:
        convert, target = CONVERSIONS[name]
        source = str(Path(args.source_dir) / name) if args.source_dir else f"deepmind/{name}"
        save_dir = Path(args.output_dir) / target
        model = convert(save_dir, source_repo_id=source)
        num_params = sum(p.numel() for p in model.parameters())
        print(f"{source} -> {save_dir} ({num_params:,} parameters)")
        saved[name] = save_dir
    return saved


if __name__ == "__main__":
    main()
