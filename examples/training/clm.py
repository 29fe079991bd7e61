"""Train a Perceiver AR causal language model with the configs in examples/training/clm/.

python examples/training/clm.py                     # clm/pydoc.yaml: bundled CPython docs, CPU, 1200 steps
python examples/training/clm.py --max_steps 300 --model.num_channels=128
python examples/training/clm.py --example wikitext  # the reference's WikiText-103 run (hub data, GPUs)
python examples/training/clm.py --quick             # 2 steps of a tiny model
"""

from common import HERE, parse_args, run
from perceiver.scripts.text.clm import main as cli_main

QUICK = [
    "--data.max_seq_len=64",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--model.max_latents=16",
    "--model.num_channels=32",
    "--model.num_self_attention_layers=1",
    "--model.validation_sample_num_tokens=4",
]


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, cli_args = parse_args(__doc__.split("\n")[0], "clm", "pydoc", argv)
    return run(cli_main, HERE / "clm" / f"{args.example}.yaml", args, cli_args, QUICK)


if __name__ == "__main__":
    main()
