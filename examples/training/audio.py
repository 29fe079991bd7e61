"""Train a Perceiver AR symbolic audio model with the configs in examples/training/audio/.

python examples/training/audio.py                      # audio/bach_chorales.yaml: music21's chorales, CPU
python examples/training/audio.py --example maestro_v3 # the reference's MAESTRO run (downloads, GPUs)
python examples/training/audio.py --quick              # 2 steps of a tiny model on 3 chorales
"""

from common import HERE, parse_args, run
from perceiver.scripts.audio.symbolic import main as cli_main

QUICK = [
    "--data.max_seq_len=64",
    "--data.max_chorales=3",
    "--data.batch_size=4",
    "--data.num_workers=0",
    "--data.preproc_workers=1",
    "--model.max_latents=16",
    "--model.num_channels=32",
    "--model.num_self_attention_layers=1",
]


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, cli_args = parse_args(__doc__.split("\n")[0], "audio", "bach_chorales", argv)
    return run(cli_main, HERE / "audio" / f"{args.example}.yaml", args, cli_args, QUICK)


if __name__ == "__main__":
    main()
