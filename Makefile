# Every target sets up .venv itself when it is missing.
PYTHON ?= python3
VENV := .venv
LINT_PATHS := $(wildcard src tests benchmarks examples)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv test test-slow lint format bench demo demo-digits demo-music docs-check images clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[text,vision,audio,examples,dev,export]"
	touch $@

test: venv
	$(PY) -m pytest

test-slow: venv
	$(PY) -m pytest -m slow

lint: venv
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)

format: venv
	$(PY) -m ruff check --fix $(LINT_PATHS)
	$(PY) -m ruff format $(LINT_PATHS)

bench: venv
	$(PIP) install -q -c constraints.txt -e ".[bench]"
	$(PY) -m benchmarks.run

demo: venv
	$(PY) -m perceiver.demo

demo-digits: venv
	$(PY) -m perceiver.demo digits

demo-music: venv
	$(PY) -m perceiver.demo_music

images: venv
	$(PY) examples/make_images.py

docs-check: venv
	$(PY) -m pytest tests/test_docs.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
