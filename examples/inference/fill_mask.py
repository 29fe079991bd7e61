"""Fill masked bytes with the converted ``deepmind/language-perceiver`` (the ``fill-mask`` pipeline).

python examples/inference/fill_mask.py               # converts the official model (downloads 800 MB once)
python examples/inference/fill_mask.py --tiny        # offline: a small random model of the same class
"""

import argparse
import tempfile

from transformers import pipeline

from perceiver.model.text.mlm import convert_model


def main(argv: list[str] | None = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="deepmind/language-perceiver", help="hub id or folder of the source")
    parser.add_argument("--output_dir", default=None, help="where to save the converted model (default: temporary)")
    parser.add_argument("--tiny", action="store_true", help="convert a small random source model (offline)")
    parser.add_argument("--top_k", type=int, default=3)
    args = parser.parse_args(argv)

    source = args.source
    if args.tiny:
        from tiny_sources import tiny_source

        source = tiny_source("language-perceiver")
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="perceiver-io-mlm-")
    convert_model(output_dir, source_repo_id=source)

    fill_mask = pipeline("fill-mask", model=output_dir)
    # one [MASK] per byte: the model predicts each masked byte
    text = "This is a short [MASK][MASK][MASK][MASK][MASK] about Perceiver IO."
    results = fill_mask(text, top_k=args.top_k)
    print(text)
    for i, candidates in enumerate(results):
        print(f"  mask {i}: " + ", ".join(f"{c['token_str']!r} ({c['score']:.3f})" for c in candidates))
    return results


if __name__ == "__main__":
    main()
