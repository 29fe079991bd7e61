"""Shared by the training example scripts: run a task's Lightning CLI on one of the YAML configs next to them."""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def parse_args(
    description: str, task_dir: str, default_example: str, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, list[str]]:
    """Options shared by the scripts; unknown arguments (``--model.num_channels=64`` ...) go to the CLI."""
    examples = sorted(p.stem for p in (HERE / task_dir).glob("*.yaml"))
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--example", choices=examples, default=default_example, help="the YAML config to run")
    parser.add_argument("--max_steps", type=int, default=None, help="override the config's training steps")
    parser.add_argument("--output_dir", default=None, help="logs and checkpoints (default: the config's)")
    parser.add_argument("--quick", action="store_true", help="a few steps of a tiny model: checks that it runs")
    return parser.parse_known_args(argv)


def run(
    cli_main: Callable[..., Any],
    config: Path,
    args: argparse.Namespace,
    cli_args: list[str],
    quick_args: list[str],
) -> dict[str, float]:
    """``fit`` with ``config``, then the last logged metrics (``val_loss`` ...) as floats."""
    argv = ["fit", f"--config={config}"]
    if args.quick:
        argv += quick_args + [
            "--trainer.max_steps=2",
            "--trainer.val_check_interval=2",
            "--trainer.check_val_every_n_epoch=null",
            "--trainer.limit_val_batches=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
        ]
    if args.max_steps is not None:
        argv.append(f"--trainer.max_steps={args.max_steps}")
    if args.output_dir is not None:
        argv.append(f"--trainer.default_root_dir={args.output_dir}")
    sys.argv = sys.argv[:1]  # the CLI gets its arguments from argv below (it warns when sys.argv has others)
    cli = cli_main(argv + cli_args)
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    print(f"{config.relative_to(HERE)}: step {cli.trainer.global_step}, " + ", ".join(
        f"{k} {v:.4f}" for k, v in sorted(metrics.items())
    ))  # fmt: skip
    return metrics
