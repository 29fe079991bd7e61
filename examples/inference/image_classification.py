"""Classify images with the converted ``deepmind/vision-perceiver-fourier`` (the ``image-classification`` pipeline).

python examples/inference/image_classification.py             # converts the official model (downloads once)
python examples/inference/image_classification.py --source deepmind/vision-perceiver-conv
python examples/inference/image_classification.py --tiny      # offline: a small random model, 5 classes
"""

import argparse
import tempfile

from PIL import Image
from skimage import data
from transformers import pipeline

from perceiver.model.vision.image_classifier import convert_model


def main(argv: list[str] | None = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="deepmind/vision-perceiver-fourier", help="-fourier, -learned or -conv")
    parser.add_argument("--output_dir", default=None, help="where to save the converted model (default: temporary)")
    parser.add_argument("--tiny", action="store_true", help="convert a small random source model (offline)")
    parser.add_argument("images", nargs="*", help="image files (default: scikit-image's cat and astronaut)")
    args = parser.parse_args(argv)

    source = args.source
    if args.tiny:
        from tiny_sources import tiny_source

        source = tiny_source("vision-perceiver-fourier")
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="perceiver-io-img-clf-")
    convert_model(output_dir, source_repo_id=source)  # saves the model and its image processor

    classifier = pipeline("image-classification", model=output_dir)
    images = [Image.open(p) for p in args.images] or [
        Image.fromarray(data.chelsea()),
        Image.fromarray(data.astronaut()),
    ]
    results = classifier(images, top_k=3)
    for i, top in enumerate(results):
        print(f"image {i}: " + ", ".join(f"{r['label']} ({r['score']:.3f})" for r in top))
    return results


if __name__ == "__main__":
    main()
