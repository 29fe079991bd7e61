"""Train a Perceiver IO masked language model with the configs in examples/training/mlm/.

python examples/training/mlm.py                  # mlm/pydoc.yaml: bundled CPython docs, CPU, 1500 steps
python examples/training/mlm.py --example imdb   # fine-tune krasserm/perceiver-io-mlm on IMDb (hub, GPU)
python examples/training/mlm.py --quick          # 2 steps of a tiny model
"""

from common import HERE, parse_args, run
from perceiver.scripts.text.mlm import main as cli_main

QUICK = [
    "--data.max_seq_len=64",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--model.num_latents=8",
    "--model.num_latent_channels=32",
    "--model.encoder.num_input_channels=32",
    "--model.encoder.num_cross_attention_qk_channels=32",
    "--model.encoder.num_cross_attention_v_channels=32",
    "--model.encoder.num_self_attention_qk_channels=32",
    "--model.encoder.num_self_attention_v_channels=32",
    "--model.encoder.num_self_attention_layers_per_block=1",
    "--model.decoder.num_cross_attention_qk_channels=32",
    "--model.decoder.num_cross_attention_v_channels=32",
]


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, cli_args = parse_args(__doc__.split("\n")[0], "mlm", "pydoc", argv)
    return run(cli_main, HERE / "mlm" / f"{args.example}.yaml", args, cli_args, QUICK)


if __name__ == "__main__":
    main()
