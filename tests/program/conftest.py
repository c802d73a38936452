"""A prod project with team `fraud` added (confidential data, 2 GPUs per GPU type, one L40S
guaranteed on-prem, bursting to AWS) and its preview, shared by the team tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from stacks.preview.team_file import TeamFile
from tests.conftest import ROOT

TEAM_FRAUD: dict[str, Any] = {
    "name": "fraud", "owner": "fraud-ml", "costCenter": "ML-4200",
    "sites": ["onprem", "aws/eu-west-1"], "dataClassification": "confidential", "gpus": 2,
    "awsRoleArn": "arn:aws:iam::444455556666:role/fraud-ml",
    "topics": [{"name": "events"}, {"name": "scores"}],
    "queue": {"gpus": {"nvidia-l40s": 1}, "burstTo": ["aws/eu-west-1"]},
}


def team_project(tmp: Path, with_team: bool = False) -> Path:
    """A copy of the project's stack files and policy pack in `tmp`; prod with `fraud`."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    shutil.copytree(ROOT / "policies", tmp / "policies")
    if with_team:
        edit = TeamFile(tmp / "Pulumi.prod.yaml", "hybrid-ml-platform")
        edit.add(TEAM_FRAUD)
        (tmp / "Pulumi.prod.yaml").write_text(edit.text())
    return tmp


@pytest.fixture(scope="session")
def prod_team_project(tmp_path_factory) -> Path:
    return team_project(tmp_path_factory.mktemp("prod-team"), with_team=True)


@pytest.fixture(scope="session")
def prod_team(prod_team_project) -> Any:
    """The offline preview of prod with team `fraud` (once per test worker)."""
    from stacks.preview.run import run_preview

    return run_preview(prod_team_project, "prod")
