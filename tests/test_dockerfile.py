"""The Dockerfile cannot be built here (no Docker engine): check what can be checked without building it."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_dockerfile_copies_only_existing_paths():
    text = (ROOT / "Dockerfile").read_text()
    copied = [p for line in re.findall(r"^COPY (.+)$", text, re.M) for p in line.split()[:-1]]
    assert copied, "the Dockerfile copies nothing"
    for path in copied:
        assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_dockerfile_installs_like_the_makefile():
    install = re.search(r"install -q -c constraints.txt -e (\S+)", (ROOT / "Makefile").read_text())
    assert install, "the Makefile has no editable install under the constraints"
    extras = install.group(1)
    docker = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"pip install -q .*-c constraints.txt -e {re.escape(extras)}", docker)
    assert 'CMD ["make", "test"]' in docker
