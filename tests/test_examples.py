"""The example scripts run offline (``--tiny`` models, ``--quick`` training) and print what they promise."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from PIL import Image

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_script(path: Path, *argv: str, monkeypatch) -> dict:
    """Run ``path`` as ``__main__`` with ``argv`` in this process (the imports are shared, so it is fast)."""
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    monkeypatch.syspath_prepend(str(path.parent))  # the scripts import their sibling helper module
    try:
        return runpy.run_path(str(path), run_name="__main__")
    finally:
        for name in ("common", "tiny_sources"):  # sibling helpers: do not leak them to other tests
            sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def _in_tmp_single_thread(tmp_path, monkeypatch):
    """Each script runs in its own folder; its models are small, so one thread is faster on a shared machine."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_fill_mask(capsys, monkeypatch):
    run_script(EXAMPLES / "inference" / "fill_mask.py", "--tiny", "--top_k=2", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert out.count("  mask ") == 5  # one candidate list per [MASK] byte


def test_text_classification(capsys, monkeypatch):
    run_script(EXAMPLES / "inference" / "text_classification.py", "--tiny", monkeypatch=monkeypatch)
    lines = [line for line in capsys.readouterr().out.splitlines() if "NEGATIVE" in line]
    assert len(lines) == 2 and all("POSITIVE" in line for line in lines)


def test_text_generation(capsys, monkeypatch):
    script = EXAMPLES / "inference" / "text_generation.py"
    run_script(script, "--tiny", "--max_new_tokens=6", "--num_latents=4", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "greedy:" in out and "top-p sampling:" in out and "beam search:" in out


def test_image_classification(capsys, monkeypatch):
    run_script(EXAMPLES / "inference" / "image_classification.py", "--tiny", monkeypatch=monkeypatch)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("image ")]
    assert len(lines) == 2 and all(line.count("LABEL_") == 3 for line in lines)


def test_optical_flow_on_small_frames(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (56, 80, 3), dtype=np.uint8)
    Image.fromarray(frame).save("a.png")
    Image.fromarray(np.roll(frame, 2, axis=1)).save("b.png")
    script = EXAMPLES / "inference" / "optical_flow.py"
    run_script(script, "--tiny", "--output=flow.png", "a.png", "b.png", monkeypatch=monkeypatch)
    assert "flow (56, 80, 2)" in capsys.readouterr().out
    assert Image.open("flow.png").size == (3 * 80, 56)  # both frames and the rendering side by side


def test_symbolic_audio_generation(tmp_path, monkeypatch):
    script = EXAMPLES / "inference" / "symbolic_audio_generation.py"
    run_script(script, "--tiny", "--prompt_tokens=16", "--max_new_tokens=16", monkeypatch=monkeypatch)
    midi = pretty_midi.PrettyMIDI("continuation.mid")
    assert sum(len(i.notes) for i in midi.instruments) > 0


def test_convert_from_local_folders(tmp_path, capsys, monkeypatch):
    sys.path.insert(0, str(EXAMPLES / "inference"))
    try:
        from tiny_sources import tiny_source
    finally:
        sys.path.remove(str(EXAMPLES / "inference"))
        sys.modules.pop("tiny_sources", None)
    names = ["language-perceiver", "optical-flow-perceiver"]
    for name in names:
        tiny_source(name, tmp_path / "hf" / name)
    run_script(EXAMPLES / "convert.py", "--source_dir=hf", "--output_dir=models", "--only", *names,
               monkeypatch=monkeypatch)  # fmt: skip
    assert (tmp_path / "models" / "perceiver-io-mlm" / "tokenizer_config.json").exists()
    assert (tmp_path / "models" / "perceiver-io-optical-flow" / "config.json").exists()
    assert capsys.readouterr().out.count(" parameters)") == 2


TRAINING = ["img_clf", "txt_clf", "audio", "clm", "mlm"]
FAST_TRAINING = {"img_clf", "txt_clf", "audio"}  # 1-2 s each; the text models prepare the whole corpus (4 s)


@pytest.mark.parametrize(
    "task", [t if t in FAST_TRAINING else pytest.param(t, marks=pytest.mark.slow) for t in TRAINING]
)  # fmt: skip
def test_training_quick(task, monkeypatch):
    namespace = run_script(
        EXAMPLES / "training" / f"{task}.py", "--quick", "--output_dir=logs", monkeypatch=monkeypatch
    )
    del namespace
    assert list(Path("logs").rglob("*.ckpt")), "the run saves a checkpoint"


def test_isoflop_study_quick(tmp_path, capsys, monkeypatch):
    namespace = run_script(
        EXAMPLES / "scaling" / "isoflop.py", "--quick", "--output_dir=isoflop", monkeypatch=monkeypatch
    )
    del namespace
    out = capsys.readouterr().out
    assert out.count("e+0") >= 9 and "Fitted law:\nN_opt = " in out  # 3 budgets x 3 models, then the law
    results = json.loads((tmp_path / "isoflop" / "isoflop.json").read_text())
    assert len(results["runs"]) == 9 and len(results["optima"]) == 3
    assert all(abs(run["flops"] - run["budget"]) <= run["flops"] / run["steps"] for run in results["runs"])
    assert Image.open(tmp_path / "isoflop" / "isoflop.png").size[0] > 500
