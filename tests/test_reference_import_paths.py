"""Every public name of perceiver-io 0.11's model modules is importable from the same module here.

``tests/fixtures/reference_public_names.json`` was read off the installed reference package (0.11.0): per module,
the names it defined or re-exported from its own package (typing helpers and names of other task packages left
out)."""

import importlib
import json
from pathlib import Path

import pytest

NAMES = json.loads((Path(__file__).parent / "fixtures" / "reference_public_names.json").read_text())


@pytest.mark.parametrize("module", sorted(NAMES))
def test_reference_names_import_from_the_reference_module(module):
    mod = importlib.import_module(module)
    missing = [name for name in NAMES[module] if not hasattr(mod, name)]
    assert not missing, f"{module} lacks {missing}"
