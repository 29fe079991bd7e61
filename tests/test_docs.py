"""Every fenced Python block in README.md and docs/ runs, so the docs cannot rot.

Blocks of one page run in order in one namespace, in a temporary working directory. An HTML comment on the line
before a block changes how it runs:

- ``<!-- docs-test: replace OLD => NEW -->`` substitutes text (small sizes, a local folder for a hub id); several
  replace comments may precede one block;
- ``<!-- docs-test: skip (reason) -->`` skips a block that cannot run offline (downloads, a GPU).

Each page's namespace starts with the helpers of ``tests/docs_helpers.py`` (``DOCS_NAMESPACE``), so a replacement
may use them, e.g. ``<!-- docs-test: replace "deepmind/language-perceiver" => tiny_source("mlm") -->`` converts a
small random local model instead of downloading the official one.
"""

import re
from pathlib import Path

import pytest
import torch

from tests.docs_helpers import DOCS_NAMESPACE

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"((?:<!-- docs-test:[^\n]*-->\n)*)```python\n(.*?)```", re.S)
DIRECTIVE = re.compile(r"<!-- docs-test: (skip|replace)(.*?)-->")


def blocks(page: Path) -> list[tuple[str, bool]]:
    result = []
    for directives, code in BLOCK.findall(page.read_text()):
        skip = False
        for kind, arg in DIRECTIVE.findall(directives):
            if kind == "skip":
                skip = True
            else:
                old, new = (part.strip() for part in arg.split("=>", 1))
                code = code.replace(old, new)
        result.append((code, skip))
    return result


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the docs' models are small: one thread is faster than two on a machine shared with other jobs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_page(page, namespace={"__name__": f"docs_{page.stem}", **DOCS_NAMESPACE})
    finally:
        torch.set_num_threads(threads)


def run_page(page: Path, namespace: dict) -> None:
    for i, (code, skip) in enumerate(blocks(page)):
        if skip:
            continue
        try:
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{page.name}, python block {i + 1} fails:\n{code}") from e


def test_directives_replace_and_skip(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        '<!-- docs-test: replace 1024 => 8 -->\n<!-- docs-test: replace "hub/id" => tiny_source("mlm") -->\n'
        '```python\nx = load("hub/id", size=1024)\n```\n\n'
        "<!-- docs-test: skip (needs a GPU) -->\n```python\nrun_on_gpu()\n```\n"
        "```python\ny = 1024\n```\n"
    )
    assert blocks(page) == [
        ('x = load(tiny_source("mlm"), size=8)\n', False),
        ("run_on_gpu()\n", True),
        ("y = 1024\n", False),  # a directive applies to the next block only
    ]


def test_tiny_source_rejects_unknown_kind():
    from tests.docs_helpers import tiny_source

    with pytest.raises(ValueError, match="kind must be one of"):
        tiny_source("vision-perceiver")
