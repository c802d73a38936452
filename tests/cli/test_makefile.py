"""The set-up commands: a Python too old is named before anything is installed, a .venv another
Python made is recreated, and the runtime set holds no test tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.conftest import ROOT

TEST_TOOLS = {"pytest", "pytest-xdist", "hypothesis", "ruff"}

#: A stand-in interpreter of version VERSION: answers the version probe, makes a `venv` (a copy
#: of itself) and lets every pip install succeed, logging each call.
FAKE_PYTHON = """#!/bin/sh
echo "$0 $*" >> "{log}"
case "$1" in
  -c) echo {version} ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi ;;
esac
"""


def _fake_python(path: Path, version: str, log: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON.format(version=version, log=log))
    path.chmod(0o755)
    return path


@pytest.fixture
def checkout(tmp_path) -> Path:
    """What the Makefile's set-up recipes read, in a folder of their own."""
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "pyproject.toml",
                 "tests/mlflow_server/requirements.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _make(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=checkout, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_python_below_3_11_is_named_first_and_leaves_no_venv(checkout, tmp_path):
    log = tmp_path / "calls.log"
    old = _fake_python(tmp_path / "bin" / "python3.10", "3.10", log)
    proc = _make(checkout, "preview", f"PYTHON={old}")
    assert proc.returncode != 0
    assert proc.stderr.startswith(f"error: hybrid-ml-platform needs Python 3.11+ (one of 3.11 3.12 3.13); "
                                  f"{old} is 3.10.")
    assert "make preview PYTHON=python3.12" in proc.stderr
    assert not (checkout / ".venv").exists()
    assert "pip" not in log.read_text() and "venv" not in log.read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_venv_made_by_another_python_is_recreated(checkout, tmp_path):
    log = tmp_path / "calls.log"
    _fake_python(checkout / ".venv" / "bin" / "python", "3.10", log)  # a failed earlier attempt
    (checkout / ".venv" / "leftover").write_text("from the 3.10 attempt")
    good = _fake_python(tmp_path / "bin" / "python3.12", "3.12", log)
    proc = _make(checkout, ".venv/.installed", f"PYTHON={good}")
    assert proc.returncode == 0, proc.stderr
    assert f".venv was made by another Python: recreating it with {good} (3.12)" in proc.stdout
    assert not (checkout / ".venv" / "leftover").exists()
    calls = log.read_text()
    assert f"{good} -m venv .venv" in calls
    assert "-m pip install --quiet --disable-pip-version-check -r requirements.txt" in calls
    assert "requirements-dev.txt" not in calls  # the runtime set only, as `make preview` needs


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_installs_the_test_tools_and_preview_does_not():
    def recipe(target: str) -> str:
        return subprocess.run(["make", "-n", "-B", target, "PYTHON=python3"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=True).stdout

    assert "-r requirements-dev.txt" in recipe("test")
    assert "requirements-dev.txt" not in recipe("preview")
    assert ".venv/bin/hybrid-ml preview dev" in recipe("preview")


def test_the_makefile_accepts_the_pythons_pyproject_allows():
    listed = re.search(r"^PYTHON_VERSIONS := (.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    allowed = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert listed is not None
    assert listed.group(1).split() == [f"3.{m}" for m in range(8, 20) if f"3.{m}" in allowed]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if line and not line.startswith(("#", "-r ")):
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            pins[package.lower().replace("_", "-")] = version
    return pins


def test_the_runtime_set_holds_no_test_tools_and_both_sets_are_pinned():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert not TEST_TOOLS & set(runtime)
    assert set(dev) >= TEST_TOOLS
    assert not set(runtime) & set(dev)
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        package, _, version = requirement.partition("==")
        assert runtime[package.lower().replace("_", "-")] == version, requirement
    for requirement in project["optional-dependencies"]["test"]:
        package, _, version = requirement.partition("==")
        assert dev[package.lower()] == version, requirement
    # `pulumi install` installs requirements.txt (the pip toolchain's file) into this virtualenv.
    options = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": ".venv"}
