"""The import rules of docs/library-design.md, read off the source: dependencies point one way."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"
TASKS = ("text/mlm", "text/classifier", "text/clm", "vision/image_classifier", "vision/optical_flow",
         "audio/symbolic", "multimodal/autoencoder")  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions (relative imports resolved)."""
    found = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("perceiver."):
            found.add(node.value)  # lazy imports name their module in a string
    return {name for name in found if name.startswith("perceiver")}


def task_of(module: str) -> str | None:
    for task in TASKS:
        prefix = "perceiver.model." + task.replace("/", ".")
        if module == prefix or module.startswith(prefix + "."):
            return task
    return None


FILES = sorted(SRC.rglob("*.py"))


def test_data_never_imports_model():
    bad = {module_name(f): sorted(i for i in imports(f) if i.startswith("perceiver.model"))
           for f in FILES if module_name(f).startswith("perceiver.data")}  # fmt: skip
    assert not {k: v for k, v in bad.items() if v}


def test_lightning_modules_never_import_hugging_face_wrappers():
    bad = {}
    for f in FILES:
        if f.name == "lightning.py":
            hf = sorted(i for i in imports(f) if i.split(".")[-1] in ("huggingface",) or ".huggingface." in i)
            if hf:
                bad[module_name(f)] = hf
    assert not bad


def test_task_packages_never_import_each_other():
    bad = {}
    for f in FILES:
        own = task_of(module_name(f))
        if own is None:
            continue
        others = sorted(i for i in imports(f) if task_of(i) not in (None, own))
        if others:
            bad[module_name(f)] = others
    assert not bad


# a finder that makes transformers look not installed (as ``importlib.util.find_spec`` and ``import`` see it)
BLOCK_TRANSFORMERS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "transformers" or name.startswith("transformers."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


CLM_FORWARD = """
config = CausalLanguageModelConfig(vocab_size=10, max_seq_len=8, max_latents=4, num_channels=16, num_heads=2)
CausalLanguageModel(config)(torch.zeros(1, 8, dtype=torch.long), prefix_len=4)
"""


@pytest.mark.parametrize(
    "module, build",
    [
        ("perceiver.model.text.clm.backend", CLM_FORWARD),
        ("perceiver.model.vision.image_classifier.backend", None),
        ("perceiver.model.text.mlm.backend", None),
        ("perceiver.model.audio.symbolic.backend", None),
    ],
)
def test_backends_import_without_transformers(module, build):
    code = BLOCK_TRANSFORMERS + f"import torch\nfrom {module} import *\nassert 'transformers' not in sys.modules"
    if build:
        code += f"\n{build}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SRC.parent)
    assert result.returncode == 0, result.stderr[-2000:]
