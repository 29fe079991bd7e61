"""Classify texts with a Perceiver IO text classifier (the ``text-classification`` pipeline).

python examples/inference/text_classification.py                      # krasserm/perceiver-io-txt-clf-imdb
python examples/inference/text_classification.py --model path/to/dir  # e.g. a convert_checkpoint folder
python examples/inference/text_classification.py --tiny               # offline: a small random classifier
"""

import argparse
import tempfile

from transformers import pipeline

from perceiver.data.text.tokenizer import perceiver_bytes_tokenizer
from perceiver.model.core import ClassificationDecoderConfig
from perceiver.model.text.classifier import (
    PerceiverTextClassifier,
    PerceiverTextClassifierConfig,
    TextClassifierConfig,
    TextEncoderConfig,
)

TEXTS = [
    "I watched this film twice and would watch it again: the cast is superb.",
    "A dull, predictable plot and wooden acting. I left after an hour.",
]


def tiny_classifier() -> str:
    """A small random classifier with the IMDb labels and the bytes tokenizer, saved to a temporary folder."""
    config = TextClassifierConfig(
        encoder=TextEncoderConfig(vocab_size=262, max_seq_len=256, num_input_channels=64),
        decoder=ClassificationDecoderConfig(num_classes=2, num_output_query_channels=64),
        num_latents=16,
        num_latent_channels=64,
    )
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    hf_config = PerceiverTextClassifierConfig(config, id2label=labels, label2id={v: k for k, v in labels.items()})
    path = tempfile.mkdtemp(prefix="tiny-txt-clf-")
    PerceiverTextClassifier(hf_config).save_pretrained(path)
    perceiver_bytes_tokenizer().save_pretrained(path)
    return path


def main(argv: list[str] | None = None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="krasserm/perceiver-io-txt-clf-imdb", help="hub id or folder")
    parser.add_argument("--tiny", action="store_true", help="a small random classifier (offline)")
    args = parser.parse_args(argv)

    classifier = pipeline("text-classification", model=tiny_classifier() if args.tiny else args.model)
    results = classifier(TEXTS, top_k=None)  # every label with its score, best first
    for text, scores in zip(TEXTS, results):
        print(f"{text[:50]!r}: " + ", ".join(f"{s['label']} {s['score']:.3f}" for s in scores))
    return results


if __name__ == "__main__":
    main()
