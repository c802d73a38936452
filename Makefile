# The two set-up commands of the README. Both create .venv from the pinned
# dependencies on first use (and again when requirements.txt or pyproject.toml change).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: preview preview-prod test bench

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

preview: $(STAMP)
	$(VENV)/bin/hybrid-ml preview dev

preview-prod: $(STAMP)
	$(VENV)/bin/hybrid-ml preview prod

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/preview_bench.py
