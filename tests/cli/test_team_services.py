"""`hybrid-ml team add --notebooks / --pipelines ...`: the entry written, the URLs printed, the
flags refused without what they need; `team remove` says what stays (home volumes, DAG history)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.cli.main import main
from tests.conftest import CONFIG_KEY, ROOT
from tests.program.services.test_notebooks import NOTEBOOKS
from tests.program.services.test_pipelines import SNIPPET as PIPELINES

ROLE = "arn:aws:iam::444455556666:role/vision-ml"
REPO = "git@git.example.com:vision/dags.git"


def _project(tmp: Path, services: dict[str, Any]) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    platform = doc["config"][CONFIG_KEY]
    platform["kubernetes"]["namespaces"] += [{"name": "notebooks"}, {"name": "airflow"}]
    platform["services"].update(services)
    (tmp / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _project(tmp_path, {"notebooks": NOTEBOOKS, "pipelines": PIPELINES["pipelines"]})


def _add(capsys: Any, project: Path, *flags: str) -> tuple[int, str, str]:
    code = main(["team", "add", "vision", "--stack", "prod", "-C", str(project), "--owner",
                 "vision-ml", "--cost-center", "ML-4300", "--sites", "onprem", "--gpus", "1",
                 *flags, "--no-preview"])
    out, err = capsys.readouterr()
    return code, out, err


def _entry(project: Path) -> dict[str, Any]:
    doc = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())
    return next(t for t in doc["config"][CONFIG_KEY]["teams"] if t["name"] == "vision")


def test_add_with_notebooks_and_pipelines_writes_both_and_prints_the_urls(capsys, project):
    code, out, err = _add(capsys, project, "--notebooks", "--pipelines", "--dag-repo", REPO,
                          "--dag-deploy-key-key", "visionDagKey")
    assert code == 0, err
    entry = _entry(project)
    assert entry["notebooks"] is True
    assert entry["pipelines"] == {"dagRepo": REPO, "deployKeyKey": "visionDagKey"}
    assert "Notebooks: https://notebooks.onprem-prod." in out
    assert "profiles vision-cpu, vision-" in out  # CPU first, then its GPU flavors on-prem
    assert "Pipelines: https://airflow.onprem-prod." in out and "branch main" in out


def test_pipelines_without_its_repository_or_key_is_refused_and_nothing_written(capsys, project):
    before = (project / "Pulumi.prod.yaml").read_text()
    code, _, err = _add(capsys, project, "--pipelines", "--dag-repo", REPO)
    assert code == 2
    assert "--pipelines needs --dag-deploy-key-key" in err
    code, _, err = _add(capsys, project, "--dag-branch", "dev")
    assert code == 2 and "--dag-branch only goes with --pipelines" in err
    assert (project / "Pulumi.prod.yaml").read_text() == before


def test_notebooks_without_a_hub_in_the_stack_is_refused_with_the_key_path(capsys, tmp_path):
    project = _project(tmp_path, {})
    code, _, err = _add(capsys, project, "--notebooks")
    assert code == 2
    assert "notebooks" in err and "services.notebooks" in err


def test_remove_says_the_home_volumes_and_dag_history_stay_behind(capsys, project, monkeypatch):
    code, _, err = _add(capsys, project, "--notebooks", "--pipelines", "--dag-repo", REPO,
                        "--dag-deploy-key-key", "visionDagKey")
    assert code == 0, err
    # The removal's preview is not what this test is about: an empty plan owns nothing.
    monkeypatch.setattr("stacks.cli.team._preview_plan", lambda *_: {"resources": []})
    code = main(["team", "remove", "vision", "--stack", "prod", "-C", str(project)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "notebook home volumes (PVCs home-* in team-vision" in err
    assert "DAG runs' history stays in Airflow's database" in err
