"""Atomic checkpoint writes, the CLI's default CheckpointIO, and clear errors for truncated checkpoint files."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from perceiver.model.core.checkpoint import (
    CorruptCheckpointError,
    atomic_torch_save,
    check_safetensors_file,
    load_checkpoint_file,
)


def test_atomic_torch_save_round_trip_and_permissions(tmp_path):
    path = tmp_path / "sub" / "a.ckpt"
    atomic_torch_save({"x": torch.arange(3)}, path)
    assert torch.equal(torch.load(path)["x"], torch.arange(3))
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_torch_save_failure_keeps_previous_file(tmp_path):
    path = tmp_path / "a.ckpt"
    atomic_torch_save({"step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_torch_save({"step": 2, "bad": Unpicklable()}, path)
    assert torch.load(path)["step"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_sigkill_while_writing_leaves_the_previous_checkpoint(tmp_path):
    """A process killed in the middle of a (slow) write leaves the old complete file, never a truncated one."""
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1, "w": torch.zeros(4)}, path)
    script = textwrap.dedent(
        f"""
        import sys, time, torch
        from perceiver.model.core.checkpoint import atomic_write

        def slow_write(f):
            for i in range(1000):
                f.write(b"x" * 65536)
                if i == 10:
                    print("writing", flush=True)
                time.sleep(0.01)

        atomic_write({str(path)!r}, slow_write)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        tmp_files = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(tmp_files) == 1 and tmp_files[0].name.startswith(".last.ckpt.")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert torch.load(path)["step"] == 1  # the previous checkpoint is intact


def test_truncated_ckpt_error_names_the_file(tmp_path):
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"w": torch.randn(64, 64)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match="model.ckpt") as info:
        load_checkpoint_file(path)
    assert isinstance(info.value, ValueError) and "truncated" in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        load_checkpoint_file(tmp_path / "missing.ckpt")
    path.write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match="model.ckpt"):
        load_checkpoint_file(path)


@pytest.mark.parametrize("keep", [0, 5, 20, -10])
def test_truncated_safetensors_error_names_the_file(tmp_path, keep):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"w": torch.randn(32, 32)}, str(path))
    check_safetensors_file(path)  # complete file: no error
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CorruptCheckpointError, match="model.safetensors"):
        check_safetensors_file(path)


def test_atomic_checkpoint_io_is_the_cli_default():
    from lightning.pytorch.plugins import TorchCheckpointIO

    from perceiver.scripts.checkpoint_io import AtomicCheckpointIO
    from perceiver.scripts.cli import with_atomic_checkpoint_io

    assert [type(p) for p in with_atomic_checkpoint_io(None)] == [AtomicCheckpointIO]
    other = TorchCheckpointIO()
    assert with_atomic_checkpoint_io([other]) == [other]  # a user's CheckpointIO wins
    assert [type(p) for p in with_atomic_checkpoint_io("bf16-mixed")] == [str, AtomicCheckpointIO]


def test_atomic_checkpoint_io_save_load_remove(tmp_path):
    from perceiver.scripts.checkpoint_io import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    path = tmp_path / "x.ckpt"
    io.save_checkpoint({"global_step": 3}, path)
    assert io.load_checkpoint(path)["global_step"] == 3
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CorruptCheckpointError, match="x.ckpt"):
        io.load_checkpoint(path)
    io.remove_checkpoint(path)
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        io.load_checkpoint(tmp_path / "nope.ckpt")


def test_cli_trainer_uses_atomic_checkpoint_io(tmp_path):
    from pathlib import Path

    from perceiver.scripts.checkpoint_io import AtomicCheckpointIO
    from perceiver.scripts.vision.image_classifier import main

    config = Path(__file__).parents[2] / "examples" / "training" / "img_clf" / "digits.yaml"
    cli = main(["--config", str(config), f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false"], run=False)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
