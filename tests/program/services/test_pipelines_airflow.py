"""The pipelines against the real Airflow (3.3.2, tests/airflow_real/requirements.txt): the
example hybrid DAG parses with Airflow's own DagBag and its tasks land where the platform's
site table allows; a site the team's data may not use, or a DAG outside any team's bundle, is
an import error; the generated sign-in config makes FAB grant each IdP group its team's role,
which sees and runs only that team's DAGs; each team's bundle config is one GitDagBundle accepts.

`make test` installs that environment (.venv-airflow) and points HYBRIDML_AIRFLOW_VENV at it;
without it these tests are skipped (a plain `pytest` on a machine without the environment).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.pipelines import airflow as component
from components.kubernetes.pipelines.connections import conn_env, git_connection
from components.kubernetes.pipelines.remote import kubernetes_connection
from components.kubernetes.pipelines.values import FAB_AUTH_MANAGER
from components.kubernetes.pipelines.webserver_config import api_server_config
from components.kubernetes.work_queues.specs import worker_kubeconfig
from stacks.plan import pipelines as plan
from stacks.program.validate import parse_platform
from tests.conftest import ROOT
from tests.program.services.test_pipelines import with_pipelines

VENV = os.environ.get("HYBRIDML_AIRFLOW_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="HYBRIDML_AIRFLOW_VENV not set (make test sets it)")
HELPERS = ROOT / "tests" / "airflow_real"
EXAMPLE = ROOT / "docs" / "examples" / "hybrid_pipeline.py"


def _run(script: str, *args: str, env: dict[str, str], cwd: Path) -> Any:
    python = Path(VENV or "") / "bin" / "python"
    if not python.is_absolute():
        python = ROOT / python
    proc = subprocess.run([str(python), str(HELPERS / script), *args], capture_output=True,
                          text=True, cwd=cwd, env={"PATH": os.environ.get("PATH", ""), **env},
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _airflow_env(home: Path) -> dict[str, str]:
    return {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}


@pytest.fixture(scope="module")
def cfg():
    return parse_platform(with_pipelines())


def _parse(tmp: Path, cfg, files: dict[str, Path]) -> dict[str, Any]:
    """Parse DAG files laid out as in the bundles (`team-<name>/<file>`), the platform's
    module and site table mounted as on Airflow."""
    plugins = tmp / "plugins"
    plugins.mkdir()
    shutil.copy(component.SITES_MODULE, plugins / "hybridml_sites.py")
    (plugins / "sites.json").write_text(json.dumps(plan.site_table(cfg, "onprem")))
    for rel, src in files.items():
        (tmp / "dags" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, tmp / "dags" / rel)
    env = {**_airflow_env(tmp / "home"), "PYTHONPATH": str(plugins),
           "HYBRIDML_SITES_FILE": str(plugins / "sites.json")}
    return _run("parse_dags.py", str(tmp / "dags"), env=env, cwd=tmp)


def test_example_dag_parses_and_places_each_task_where_the_team_may_run(tmp_path, cfg):
    result = _parse(tmp_path, cfg, {"team-fraud/hybrid_pipeline.py": EXAMPLE})
    assert result["errors"] == {}
    dag = result["dags"]["fraud_hybrid_pipeline"]
    tasks = dag["tasks"]
    assert [tasks[t]["downstream"] for t in ("ingest", "train", "register_model", "roll_canary")] == [
        ["train"], ["register_model"], ["roll_canary"], []]
    queue = {"kueue.x-k8s.io/queue-name": "default"}
    ingest = tasks["ingest"]
    assert (ingest["namespace"], ingest["in_cluster"], ingest["conn"]) == (
        "team-fraud", False, "hybridml_aws_eu_west_1")
    assert queue.items() <= ingest["labels"].items()
    for name in ("train", "register_model", "roll_canary"):
        task = tasks[name]
        assert (task["namespace"], task["in_cluster"]) == ("team-fraud", True), name
        assert queue.items() <= task["labels"].items()
    assert all(t["restricted"] for t in tasks.values())  # Pod Security `restricted` in team namespaces
    # The DAG grants exactly what the platform's team role may do on a team DAG.
    assert dag["access_control"] == {"team-fraud": {k: sorted(v) for k, v in plan.TEAM_DAG_ACCESS.items()}}


def test_a_site_the_team_may_not_use_and_a_dag_outside_the_bundles_are_import_errors(tmp_path, cfg):
    result = _parse(tmp_path, cfg, {"team-risk/hybrid_pipeline.py": EXAMPLE,
                                    "elsewhere/hybrid_pipeline.py": EXAMPLE})
    assert result["dags"] == {}
    errors = {Path(k).parent.name: v for k, v in result["errors"].items()}
    assert errors["team-risk"] == ("hybridml_sites.PlacementRefused: task 'ingest' of team-risk: site "
                                   "'aws/eu-west-1' is not allowed for the team's data; allowed: onprem")
    assert errors["elsewhere"].startswith("hybridml_sites.PlacementRefused: ")
    assert "is in no team's DAG bundle (team-fraud, team-risk)" in errors["elsewhere"]


def test_fab_grants_each_group_its_teams_role_and_only_its_dags(tmp_path, cfg):
    p = cfg.services.pipelines
    config = tmp_path / "webserver_config.py"
    config.write_text(api_server_config(issuer_url=p.oidc.issuer_url, client_id=p.oidc.client_id,
                                        group_claim=p.oidc.group_claim, mapping=plan.roles_mapping(cfg)))
    env = {**_airflow_env(tmp_path), "AIRFLOW__FAB__CONFIG_FILE": str(config),
           "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
           "AIRFLOW__FAB__CUSTOM_ROLES": json.dumps(plan.custom_roles(cfg))}
    airflow = Path(VENV or "") / "bin" / "airflow"
    migrate = subprocess.run([str(airflow if airflow.is_absolute() else ROOT / airflow), "db", "migrate"],
                             capture_output=True, text=True, cwd=tmp_path, check=False, timeout=300,
                             env={"PATH": os.environ.get("PATH", ""), **env})
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    access = {k: sorted(v) for k, v in plan.TEAM_DAG_ACCESS.items()}
    dags = {"fraud_hybrid_pipeline": {"team-fraud": access}, "risk_scoring": {"team-risk": access}}
    users = {"alice": ["team-fraud"], "bob": ["risk-analysts", "unrelated"],
             "carol": ["ml-platform-admins"], "eve": ["team-risk"]}
    got = _run("fab_roles.py", json.dumps(users), json.dumps(dags), env=env, cwd=tmp_path)
    assert got.pop("_manager") == "PlatformSecurityManager"
    assert got == {
        "alice": {"roles": ["team-fraud"], "read": ["fraud_hybrid_pipeline"], "run": ["fraud_hybrid_pipeline"]},
        "bob": {"roles": ["team-risk"], "read": ["risk_scoring"], "run": ["risk_scoring"]},
        "carol": {"roles": ["Admin"], "read": sorted(dags), "run": sorted(dags)},
        # team-risk's members are in `risk-analysts` (its `group`): the namespace name grants nothing.
        "eve": {"roles": [], "read": [], "run": []},
    }


def test_each_teams_bundle_config_is_one_git_dag_bundle_accepts(tmp_path, cfg):
    """...with its connection in the form the platform's environment Secret holds it."""
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
    env = {**_airflow_env(tmp_path),
           "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(plan.dag_bundles(cfg))}
    for team in plan.pipeline_teams(cfg):
        conn_id = plan.git_connection_id(team)
        env[conn_env(conn_id)] = git_connection(team.pipelines.dag_repo, key)
    got = _run("bundles.py", env=env, cwd=tmp_path)
    git = {"class": "GitDagBundle", "refresh_interval": 60}
    assert got == {
        "team-fraud": {**git, "tracking_ref": "main", "git_conn_id": "git_fraud",
                       "repo_url": "git@git.hml.internal:fraud/dags.git", "key": key},
        "team-risk": {**git, "tracking_ref": "release", "git_conn_id": "git_risk",
                      "repo_url": "ssh://git.hml.internal/risk/dags.git", "key": key}}


def test_a_remote_sites_connection_is_one_the_kubernetes_provider_reaches_it_with(tmp_path):
    """...the connection RemoteSiteAccess builds from the cluster's kubeconfig and the token."""
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
    cluster = yaml.safe_dump({"clusters": [{"name": "eks", "cluster": {
        "server": "https://10.16.1.10", "certificate-authority-data": ca}}],
        "users": [{"name": "eks", "user": {"exec": {"command": "aws"}}}]})
    conn = kubernetes_connection(worker_kubeconfig(cluster, "tok-123", "hml-prod-aws-eu-west-1"))
    env = {**_airflow_env(tmp_path), conn_env(plan.connection_id("aws/eu-west-1")): conn}
    got = _run("k8s_connection.py", plan.connection_id("aws/eu-west-1"), env=env, cwd=tmp_path)
    assert got == {"host": "https://10.16.1.10", "authorization": "Bearer tok-123",
                   "in_cluster": False, "ca": True}
