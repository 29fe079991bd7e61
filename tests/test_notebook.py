"""``examples/inference.ipynb`` runs top to bottom offline (small random models), so it cannot rot."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "examples" / "inference.ipynb"
PIPELINES = [
    "fill-mask", "text-classification", "text-generation", "image-classification", "optical-flow",
    "symbolic-audio-generation",
]  # fmt: skip


def test_inference_notebook_runs_offline_and_shows_pictures_and_audio(tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert all(f'pipeline("{task}"' in sources for task in PIPELINES)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # small models: one thread is faster on a shared machine
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute(env=dict(os.environ))

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "offline: small random models" in text
    assert text.count("mask ") == 5 and "greedy:" in text and "contrastive search:" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    audio = [o for o in outputs if "audio/wav" in o.get("data", {}).get("text/html", "") or
             "<audio" in o.get("data", {}).get("text/html", "")]  # fmt: skip
    assert len(images) == 3 and len(audio) == 1  # images, optical flow, piano roll; the continuation's sound
