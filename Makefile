# The two set-up commands of the README. Both create .venv from the pinned
# dependencies on first use (and again when requirements.txt or pyproject.toml change).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

# The MLflow server the team-permission tests run (tests/mlflow_server/requirements.txt says
# why --no-deps).
MLFLOW_VENV := .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

# One worker per core, each test file on one worker (its module fixtures preview once there);
# the 15 slowest tests printed so a regression shows.
PYTEST_ARGS ?= -n auto --dist loadfile --durations=15

.PHONY: preview preview-prod test bench

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

$(MLFLOW_STAMP): tests/mlflow_server/requirements.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r tests/mlflow_server/requirements.txt
	touch $(MLFLOW_STAMP)

preview: $(STAMP)
	$(VENV)/bin/hybrid-ml preview dev

preview-prod: $(STAMP)
	$(VENV)/bin/hybrid-ml preview prod

# Lint first (ruff, rules in pyproject.toml): a finding fails the run like a failing test.
test: $(STAMP) $(MLFLOW_STAMP)
	$(VENV)/bin/ruff check .
	HYBRIDML_MLFLOW_VENV=$(MLFLOW_VENV) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/preview_bench.py
