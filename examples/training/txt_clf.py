"""Train a Perceiver IO text classifier with the configs in examples/training/txt_clf/.

    python examples/training/txt_clf.py                       # txt_clf/local.yaml on a task built from bundled text
    python examples/training/txt_clf.py --data.train_files=[my-train.jsonl] --data.valid_files=[my-valid.jsonl]
    python examples/training/txt_clf.py --example imdb_dec    # the reference's IMDb runs (hub data, GPU)
    python examples/training/txt_clf.py --quick               # 2 steps of a tiny model

Without data files of your own, the script writes a small offline task: paragraphs of four CPython documentation
topics, labelled with their topic (jsonl files with ``text`` and ``label``).
"""

import json
import random
from pathlib import Path

from common import HERE, parse_args, run
from perceiver.data.text.local import pydoc_topics
from perceiver.scripts.text.classifier import main as cli_main

TOPICS = ["compound", "string-methods", "debugger", "typesmapping"]  # labels 0..3 (81-188 paragraphs each)

QUICK = [
    "--data.max_seq_len=64",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--model.num_latents=8",
    "--model.num_latent_channels=32",
    "--model.encoder.num_input_channels=32",
    "--model.encoder.num_self_attention_layers_per_block=1",
    "--model.decoder.num_output_query_channels=32",
]


def write_topic_task(data_dir: Path, valid_fraction: float = 0.2, seed: int = 0) -> tuple[Path, Path]:
    """Paragraphs (at least 80 characters) of ``TOPICS`` with their topic index, split into train/valid jsonl."""
    topics = pydoc_topics()
    rows = [
        {"text": " ".join(p.split()), "label": label}
        for label, name in enumerate(TOPICS)
        for p in topics[name].split("\n\n")
        if len(p.strip()) >= 80
    ]
    random.Random(seed).shuffle(rows)
    num_valid = int(len(rows) * valid_fraction)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = data_dir / "train.jsonl", data_dir / "valid.jsonl"
    for path, part in zip(paths, (rows[num_valid:], rows[:num_valid])):
        path.write_text("".join(json.dumps(row) + "\n" for row in part))
    return paths


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, cli_args = parse_args(__doc__.split("\n")[0], "txt_clf", "local", argv)
    if args.example == "local" and not any(a.startswith("--data.train_files") for a in cli_args):
        train, valid = write_topic_task(Path(args.output_dir or "logs/txt-clf-local") / "data")
        cli_args = [f"--data.train_files=[{train}]", f"--data.valid_files=[{valid}]", "--data.num_classes=4"] + cli_args
    return run(cli_main, HERE / "txt_clf" / f"{args.example}.yaml", args, cli_args, QUICK)


if __name__ == "__main__":
    main()
