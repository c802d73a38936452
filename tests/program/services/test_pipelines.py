"""Pipelines end to end: a prod stack with `services.pipelines` and team `fraud` running
pipelines previews schema-valid and policy-clean; Airflow keeps its metadata in the site's
PostgreSQL over TLS (never the chart's bundled database), reads each team's DAGs from its own
bundle with a deploy key that never appears in clear, and writes the site table the DAGs place
tasks with; bad config is refused with key path, value and what is allowed."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from stacks.checks.problems import ConfigError
from stacks.plan import pipelines as plan
from stacks.preview.manifests import helm_releases, kubernetes_objects
from stacks.preview.run import PLACEHOLDER, run_preview
from stacks.program.validate import parse_platform
from tests.conftest import CANARY, ROOT, canary_mocks, stack_platform, write_stack

SNIPPET = yaml.safe_load("""
pipelines:
  clusters: [onprem]
  oidc:
    issuerUrl: https://sso.hml.internal/realms/ml
    clientId: airflow
    adminGroups: [ml-platform-admins]
  onprem:
    logs:
      endpointUrl: https://s3.ams-dc1.hml.internal
      endpointCidrs: [10.1.40.0/24]
      bucket: hml-prod-airflow-logs
      accessKeyIdKey: airflowLogsS3AccessKeyId
      secretAccessKeyKey: airflowLogsS3SecretAccessKey
    volumeSnapshotClass: csi-rbdplugin-snapclass
""")
FRAUD: dict[str, Any] = {
    "name": "fraud", "owner": "fraud-ml", "costCenter": "ML-4200",
    "sites": ["onprem", "aws/eu-west-1"], "dataClassification": "confidential",
    "awsRoleArn": "arn:aws:iam::444455556666:role/fraud-ml",
    "pipelines": {"dagRepo": "git@git.hml.internal:fraud/dags.git", "deployKeyKey": "fraudDagDeployKey"},
}
RISK: dict[str, Any] = {
    "name": "risk", "owner": "risk-ml", "costCenter": "ML-4300", "sites": ["onprem"],
    "group": "risk-analysts",
    "pipelines": {"dagRepo": "ssh://git.hml.internal/risk/dags.git", "dagBranch": "release",
                  "deployKeyKey": "riskDagDeployKey"},
}
K = "hybrid-ml-platform:platform"
ONPREM = "onprem-prod"


def with_pipelines(stack: str = "prod", teams: list[dict[str, Any]] | None = None,
                   **over: Any) -> dict[str, Any]:
    platform = stack_platform(stack)
    platform["kubernetes"]["namespaces"].append({"name": "airflow"})
    platform.setdefault("services", {})["pipelines"] = {**copy.deepcopy(SNIPPET["pipelines"]), **over}
    platform["teams"] = copy.deepcopy(teams if teams is not None else [FRAUD, RISK])
    return platform


def problems_of(platform: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(platform)
    return [str(p) for p in info.value.problems]


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    project = write_stack(tmp_path_factory.mktemp("pipelines-prod"), "prod", with_pipelines())
    return run_preview(project, "prod", resource_mocks=canary_mocks())


def _objects(result, kind: str, namespace: str = "airflow") -> list:
    return [o for o in kubernetes_objects(result.plan)
            if o.kind == kind and o.namespace == namespace and o.cluster == ONPREM]


def _release(result) -> dict[str, Any]:
    [rel] = [r for r in helm_releases(result.plan) if r["name"] == "airflow"]
    return rel
