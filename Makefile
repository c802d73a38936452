# The two set-up commands of the README. Both create .venv from the pinned
# dependencies on first use (and again when requirements.txt or pyproject.toml change);
# `make test` adds the test tools (requirements-dev.txt).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

# The Python versions pyproject.toml's requires-python allows (tests/cli/test_makefile.py keeps
# them equal). Checked before anything is installed: an older Python would otherwise fail deep in
# pip with a wall of "no matching distribution" lines and leave a .venv behind.
PYTHON_VERSIONS := 3.11 3.12 3.13

# `$(call venv_for,INTERPRETER,VENV_DIR)`: stop unless INTERPRETER is a supported Python; then
# remove VENV_DIR if another Python made it (an earlier attempt with the wrong one), so that
# `python -m venv` below starts afresh instead of keeping the broken one.
define venv_for
@v=$$($(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
case " $(PYTHON_VERSIONS) " in *" $$v "*) ;; *) \
  echo "error: hybrid-ml-platform needs Python 3.11+ (one of $(PYTHON_VERSIONS)); $(1) is $${v:-not a Python that runs}." >&2; \
  echo "Install one and run e.g. make $(MAKECMDGOALS) PYTHON=python3.12" >&2; exit 1;; esac; \
if [ -e $(2) ] && [ "$$($(2)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$$v" ]; then \
  echo "$(2) was made by another Python: recreating it with $(1) ($$v)"; rm -rf $(2); fi
endef

# The MLflow server the team-permission tests run (tests/mlflow_server/requirements.txt says
# why --no-deps).
MLFLOW_VENV := .venv-mlflow
MLFLOW_STAMP := $(MLFLOW_VENV)/.installed

# The JupyterHub packages of the notebooks hub image the hub-module tests drive
# (tests/jupyterhub_real/requirements.txt).
JUPYTERHUB_VENV := .venv-jupyterhub
JUPYTERHUB_STAMP := $(JUPYTERHUB_VENV)/.installed

# The Airflow the pipeline tests parse DAGs and check sign-in with
# (tests/airflow_real/requirements.txt: every package pinned, installed with --no-deps).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

# One worker per core, each test file on one worker (its module fixtures preview once there);
# the 15 slowest tests printed so a regression shows.
PYTEST_ARGS ?= -n auto --dist loadfile --durations=15

.PHONY: preview preview-prod test bench

$(STAMP): requirements.txt pyproject.toml
	$(call venv_for,$(PYTHON),$(VENV))
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The test tools, never in the runtime set (`pulumi install` reads requirements.txt only).
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(DEV_STAMP)

$(MLFLOW_STAMP): tests/mlflow_server/requirements.txt
	$(call venv_for,$(PYTHON),$(MLFLOW_VENV))
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r tests/mlflow_server/requirements.txt
	touch $(MLFLOW_STAMP)

$(JUPYTERHUB_STAMP): tests/jupyterhub_real/requirements.txt
	$(call venv_for,$(PYTHON),$(JUPYTERHUB_VENV))
	$(PYTHON) -m venv $(JUPYTERHUB_VENV)
	$(JUPYTERHUB_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/jupyterhub_real/requirements.txt
	touch $(JUPYTERHUB_STAMP)

$(AIRFLOW_STAMP): tests/airflow_real/requirements.txt
	$(call venv_for,$(PYTHON),$(AIRFLOW_VENV))
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r tests/airflow_real/requirements.txt
	touch $(AIRFLOW_STAMP)

preview: $(STAMP)
	$(VENV)/bin/hybrid-ml preview dev

preview-prod: $(STAMP)
	$(VENV)/bin/hybrid-ml preview prod

# Lint first (ruff, rules in pyproject.toml): a finding fails the run like a failing test.
test: $(DEV_STAMP) $(MLFLOW_STAMP) $(JUPYTERHUB_STAMP) $(AIRFLOW_STAMP)
	$(VENV)/bin/ruff check .
	HYBRIDML_MLFLOW_VENV=$(MLFLOW_VENV) HYBRIDML_JUPYTERHUB_VENV=$(JUPYTERHUB_VENV) HYBRIDML_AIRFLOW_VENV=$(AIRFLOW_VENV) $(VENV)/bin/python -m pytest $(PYTEST_ARGS) --ignore=tests/e2e
	$(MAKE) e2e

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/preview_bench.py

# --- e2e: a real etcd + kube-apiserver judging every object the previews render --------------
# (docs/testing.md). `e2e-toolchain` builds them from Go modules (versions:
# tests/e2e/toolchain/versions.env) into ${HYBRIDML_E2E_CACHE:-~/.cache/hybrid-ml-e2e}, reused when
# present; needs Go >= 1.26 and openssl. `e2e` runs tests/e2e, where a missing toolchain fails.
.PHONY: e2e-toolchain e2e e2e-engine-toolchain

e2e-toolchain:
	@command -v go >/dev/null || { echo "error: the e2e toolchain is built with Go (>= 1.26): install it, e.g. from https://go.dev/dl/" >&2; exit 1; }
	tests/e2e/toolchain/build.sh

e2e: $(DEV_STAMP) e2e-toolchain
	HYBRIDML_E2E_REQUIRED=1 $(VENV)/bin/python -m pytest tests/e2e -p no:xdist --durations=5

# Not in CI: the Pulumi CLI and kubernetes provider for a real-engine run, which waits for a
# served Python language host (docs/testing.md); about 30 min cold, 2-4 GB RAM.
e2e-engine-toolchain:
	tests/e2e/toolchain/build.sh pulumi pulumi-resource-kubernetes
