"""A real training run (the image-classifier CLI on the bundled digits) killed with SIGKILL after 1, 2 and 3
checkpoints appeared leaves only loadable checkpoints, and resumes from ``last.ckpt`` each time."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

CONFIG = """
model:
  num_latents: 4
  num_latent_channels: 16
  encoder:
    num_frequency_bands: 2
    num_cross_attention_heads: 1
    num_self_attention_heads: 2
    num_self_attention_layers_per_block: 1
    num_self_attention_blocks: 1
  decoder:
    num_output_query_channels: 16
    num_cross_attention_heads: 1
data:
  class_path: perceiver.data.vision.DigitsDataModule
  init_args:
    batch_size: 16
optimizer:
  class_path: torch.optim.AdamW
  init_args:
    lr: 1.0e-3
trainer:
  accelerator: cpu
  enable_progress_bar: false
  enable_model_summary: false
  logger: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args:
        dirpath: {ckpt_dir}
        every_n_train_steps: 1
        save_top_k: -1
        save_last: true
        filename: "{{step}}"
"""


def fit_command(config: Path, max_steps: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "perceiver.scripts.vision.image_classifier",
        "fit",
        f"--config={config}",
        f"--trainer.max_steps={max_steps}",
        f"--trainer.default_root_dir={config.parent}",
        *extra,
    ]


def step_checkpoints(ckpt_dir: Path) -> list[Path]:
    return sorted(ckpt_dir.glob("step=*.ckpt")) if ckpt_dir.exists() else []


def newest_checkpoint(ckpt_dir: Path) -> tuple[Path, int]:
    """Every .ckpt loads (weights_only: our checkpoints hold plain data); returns the one of the highest step. A kill
    may leave a hidden temporary file (``.<name>.ckpt.<random>.tmp``), never a truncated ``.ckpt``."""
    steps = {}
    for path in ckpt_dir.glob("*.ckpt"):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        assert "state_dict" in ckpt, path
        steps[path] = ckpt["global_step"]
    path = max(steps, key=lambda p: (steps[p], p.name == "last.ckpt"))
    return path, steps[path]


def run_until_checkpoints(cmd: list[str], ckpt_dir: Path, count: int, timeout: float = 240) -> None:
    """Start ``cmd`` and SIGKILL it as soon as ``count`` new step checkpoints exist."""
    before = len(step_checkpoints(ckpt_dir))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout
    try:
        while len(step_checkpoints(ckpt_dir)) < before + count:
            if proc.poll() is not None:
                pytest.fail(f"training exited ({proc.returncode}) before {count} checkpoints: {proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoints in time")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume(tmp_path):
    ckpt_dir = tmp_path / "ckpts"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(ckpt_dir=ckpt_dir))

    step, resume = 0, []
    for count in (1, 2, 3):
        run_until_checkpoints(fit_command(config, 10_000, *resume), ckpt_dir, count)
        newest, newest_step = newest_checkpoint(ckpt_dir)
        assert newest_step >= step + count  # progress since the last resume, never lost
        step, resume = newest_step, [f"--ckpt_path={newest}"]

    # resume with --ckpt_path=last and finish 2 steps later
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    if newest.name != "last.ckpt":  # killed between the step checkpoint and last.ckpt: resume from the former
        resume = [f"--ckpt_path={newest}"]
    else:
        resume = ["--ckpt_path=last"]
    result = subprocess.run(
        fit_command(config, step + 2, *resume), capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert newest_checkpoint(ckpt_dir)[1] == step + 2
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=True)["global_step"] == step + 2
