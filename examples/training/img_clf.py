"""Train a Perceiver IO image classifier with the configs in examples/training/img_clf/.

python examples/training/img_clf.py                  # img_clf/digits.yaml: scikit-learn digits, CPU
python examples/training/img_clf.py --max_steps 500  # about a minute on 2 cores
python examples/training/img_clf.py --example mnist  # the reference's MNIST run (hub data)
python examples/training/img_clf.py --quick          # 2 steps of a tiny model
"""

from common import HERE, parse_args, run
from perceiver.scripts.vision.image_classifier import main as cli_main

QUICK = [
    "--data.batch_size=16",
    "--model.num_latents=4",
    "--model.num_latent_channels=16",
    "--model.encoder.num_self_attention_layers_per_block=1",
    "--model.decoder.num_output_query_channels=16",
]


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, cli_args = parse_args(__doc__.split("\n")[0], "img_clf", "digits", argv)
    return run(cli_main, HERE / "img_clf" / f"{args.example}.yaml", args, cli_args, QUICK)


if __name__ == "__main__":
    main()
