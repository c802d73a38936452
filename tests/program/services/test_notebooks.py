"""Team notebooks as planned: prod with `services.notebooks` on-prem and team `fraud` with
notebooks previews schema-valid and policy-clean; the hub is the pinned chart behind the Gateway,
its client secret only in a Secret; the team namespace lets the hub run servers there."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.plan.notebooks import hub_settings
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.run import run_preview
from stacks.program.validate import parse_platform
from tests.conftest import ROOT, config_problems, stack_platform, write_stack
from tests.program.conftest import TEAM_FRAUD

ONPREM = "onprem-prod"
NOTEBOOKS = {"clusters": ["onprem"], "oidc": {
    "issuerUrl": "https://login.example.com/realms/ml", "clientId": "jupyterhub",
    "adminGroups": ["platform-admins"]}, "database": {"volumeSnapshotClass": "csi-snapshots"}}


def with_notebooks() -> dict[str, Any]:
    platform = stack_platform("prod")
    platform["kubernetes"]["namespaces"].append({"name": "notebooks"})
    platform["services"]["notebooks"] = json.loads(json.dumps(NOTEBOOKS))
    platform["teams"] = [{**TEAM_FRAUD, "notebooks": True}]
    return platform


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return run_preview(write_stack(tmp_path_factory.mktemp("nb-prod"), "prod", with_notebooks()), "prod")


def _objects(plan: dict[str, Any], kind: str) -> list[Any]:
    return [o for o in kubernetes_objects(plan) if o.kind == kind and o.cluster == ONPREM]


def test_the_hub_is_the_pinned_chart_with_the_team_profiles_mounted(prod):
    assert prod.schema_check.errors == []
    release = next(r for r in prod.plan["helmReleases"] if r["name"] == "jupyterhub")
    assert (release["cluster"], release["version"]) == (ONPREM, "4.4.0")
    values = release["values"]
    assert values["proxy"]["service"]["type"] == "ClusterIP"
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert values["cull"]["timeout"] == 3600
    config = next(o.body for o in _objects(prod.plan, "ConfigMap") if o.name == "hybridml-hub")
    settings = json.loads(config["data"]["hub_settings.json"])
    assert [t["name"] for t in settings["teams"]] == ["fraud"]
    profiles = settings["teams"][0]["profiles"]
    assert profiles[0]["slug"] == "fraud-cpu"
    assert all(p["kubespawner_override"]["namespace"] == "team-fraud" for p in profiles)
    gpu = [p for p in profiles if "extra_resource_limits" in p["kubespawner_override"]]
    assert gpu and all(p["kubespawner_override"]["extra_labels"]["kueue.x-k8s.io/queue-name"]
                       == "default" for p in gpu)


def test_the_client_secret_is_never_in_helm_values(prod):
    release = next(r for r in prod.plan["helmReleases"] if r["name"] == "jupyterhub")
    env = release["values"]["hub"]["extraEnv"]["OAUTH_CLIENT_SECRET"]
    assert env == {"valueFrom": {"secretKeyRef": {"name": "notebooks-oidc", "key": "client-secret"}}}
    secret = next(o for o in _objects(prod.plan, "Secret") if o.name == "notebooks-oidc")
    assert secret.namespace == "notebooks"


def test_in_prod_the_hub_keeps_its_state_in_postgres_over_tls_with_the_password_from_a_secret(prod):
    release = next(r for r in prod.plan["helmReleases"] if r["name"] == "jupyterhub")
    db = release["values"]["hub"]["db"]
    assert db["type"] == "postgres"
    assert db["url"] == ("postgresql+psycopg2://jupyterhub@jupyterhub-postgres-rw.notebooks.svc:5432"
                         "/jupyterhub?sslmode=require")
    assert "password" not in db
    assert release["values"]["hub"]["extraEnv"]["PGPASSWORD"] == {
        "valueFrom": {"secretKeyRef": {"name": "notebooks-db", "key": "password"}}}
    secret = next(o for o in _objects(prod.plan, "Secret") if o.name == "notebooks-db")
    assert secret.namespace == "notebooks"
    [cluster] = [o.body for o in _objects(prod.plan, "Cluster") if o.namespace == "notebooks"]
    assert cluster["metadata"]["name"] == "jupyterhub-postgres"
    assert cluster["spec"]["instances"] == 3
    [backup] = [o for o in _objects(prod.plan, "ScheduledBackup") if o.namespace == "notebooks"]
    assert backup.body["spec"]["method"] == "volumeSnapshot"


def test_only_the_hub_reaches_its_database_and_the_hub_may_leave_for_it(prod):
    policies = {o.name: o.body["spec"] for o in _objects(prod.plan, "NetworkPolicy")
                if o.namespace == "notebooks"}
    clients = [r for spec in policies.values() for r in spec.get("ingress", [])
               if {"protocol": "TCP", "port": 5432} in r.get("ports", [])
               and any(f.get("podSelector", {}).get("matchLabels") == {"app": "jupyterhub", "component": "hub"}
                       for f in r["from"])]
    assert clients, policies
    release = next(r for r in prod.plan["helmReleases"] if r["name"] == "jupyterhub")
    egress = release["values"]["hub"]["networkPolicy"]["egress"]
    assert {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "jupyterhub-postgres"}}}],
            "ports": [{"protocol": "TCP", "port": 5432}]} in egress


def test_the_hub_is_reached_through_the_gateway_and_may_run_servers_in_the_team_namespace(prod):
    route = next(o.body for o in _objects(prod.plan, "HTTPRoute") if o.namespace == "notebooks")
    assert route["spec"]["hostnames"][0].startswith("notebooks.")
    assert route["spec"]["parentRefs"][0]["sectionName"] == "https"
    binding = next(o.body for o in _objects(prod.plan, "RoleBinding")
                   if o.namespace == "team-fraud" and o.name == "notebooks-hub")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "notebooks"}]
    policy = next(o.body for o in _objects(prod.plan, "NetworkPolicy")
                  if o.namespace == "team-fraud" and o.name == "notebook-servers")
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8888}]


def test_policy_pack_finds_nothing_in_the_notebook_resources(prod):
    from stacks.preview.analyzer_client import run_policy_pack

    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod.plan["resources"], config, analyze_all_resources=True)
    mine = [d for d in report.diagnostics if d.urn and "notebooks" in d.urn]
    assert mine == [], [(d.policy_name, d.urn, d.message) for d in mine]


# --- dev: the same objects on the dev stack's on-prem cluster ------------------------------------

DEV_TEAM = {"name": "vision", "owner": "vision-ml", "costCenter": "ML-4300", "sites": ["onprem"],
            "gpus": 1, "notebooks": True}


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    platform = stack_platform("dev")
    platform["kubernetes"]["namespaces"].append({"name": "notebooks"})
    platform["services"]["notebooks"] = json.loads(json.dumps(NOTEBOOKS))
    platform["teams"] = [DEV_TEAM]
    return run_preview(write_stack(tmp_path_factory.mktemp("nb-dev"), "dev", platform), "dev")


def test_dev_gets_the_hub_on_prem_with_the_teams_profiles(dev):
    assert dev.schema_check.errors == []
    objects = [o for o in kubernetes_objects(dev.plan) if o.cluster == "onprem-dev"]
    config = next(o.body for o in objects if o.kind == "ConfigMap" and o.name == "hybridml-hub")
    [team] = json.loads(config["data"]["hub_settings.json"])["teams"]
    assert team["groups"] == ["team-vision"]
    assert team["profiles"][0]["kubespawner_override"]["namespace"] == "team-vision"
    assert {(o.kind, o.namespace) for o in objects if o.name == "notebooks-hub"} == {
        ("Role", "team-vision"), ("RoleBinding", "team-vision")}
    assert any(o.kind == "ServiceMonitor" and o.namespace == "notebooks" for o in objects)
    # Outside prod the chart's SQLite on a volume, no PostgreSQL and no password Secret.
    release = next(r for r in dev.plan["helmReleases"] if r["name"] == "jupyterhub")
    assert release["values"]["hub"]["db"] == {"type": "sqlite-pvc"}
    assert "PGPASSWORD" not in release["values"]["hub"]["extraEnv"]
    assert not [o for o in objects if o.namespace == "notebooks" and o.kind == "Cluster"
                or o.name == "notebooks-db"]


# --- what the config means (no preview) ---------------------------------------------------------

def _problems(platform: dict[str, Any]) -> list[str]:
    # Without the project prefix every path starts with.
    return [p.removeprefix("hybrid-ml-platform:platform.") for p in config_problems(platform)]


def test_unpinned_images_unknown_clusters_and_hubless_teams_are_refused_with_key_paths():
    platform = with_notebooks()
    platform["services"]["notebooks"].update(
        {"image": "quay.io/jupyter/scipy-notebook:latest", "clusters": ["onprem", "aws/us-east-9"]})
    platform["teams"].append({**TEAM_FRAUD, "name": "ads", "sites": ["aws/eu-west-1"],
                              "awsRoleArn": "arn:aws:iam::444455556666:role/ads-ml", "queue": {},
                              "topics": [], "notebooks": True})
    problems = _problems(platform)
    assert any(p.startswith("services.notebooks.image: bad value") and "latest" in p for p in problems)
    assert any(p.startswith("services.notebooks.clusters[1]") for p in problems)
    assert any(p.startswith("teams[1].sites") and "a site with a hub" in p for p in problems)


def test_in_prod_a_cloud_hub_and_a_hub_database_without_backups_are_refused():
    platform = with_notebooks()
    platform["services"]["notebooks"].update({"clusters": ["onprem", "aws/eu-west-1"],
                                               "database": {"storageGb": 200}})
    problems = _problems(platform)
    assert any(p.startswith("services.notebooks.database.storageGb: bad value 200")
               and "at most 166" in p for p in problems), problems
    assert any(p.startswith("services.notebooks.clusters[1]: bad value 'aws/eu-west-1'")
               and "allowed: onprem" in p for p in problems), problems
    assert any(p.startswith("services.notebooks.database.volumeSnapshotClass") and "required in prod" in p
               for p in problems), problems


def test_in_prod_the_hub_and_airflow_share_one_postgres_operator_without_mlflow(tmp_path):
    from tests.program.services.test_pipelines import SNIPPET

    platform = with_notebooks()
    platform["kubernetes"]["namespaces"].append({"name": "airflow"})
    platform["services"]["pipelines"] = json.loads(json.dumps(SNIPPET["pipelines"]))
    mlflow = platform["services"]["mlflow"]
    mlflow["clusters"] = [c for c in mlflow["clusters"] if c != "onprem"]
    mlflow.pop("onprem", None)
    result = run_preview(write_stack(tmp_path, "prod", platform), "prod")
    # The hub's database installs CloudNativePG on-prem; Airflow's database reuses it (a second
    # release of the same chart in cnpg-system would fail a real `pulumi up`).
    operators = [r["cluster"] for r in result.plan["helmReleases"] if r["name"] == "cloudnative-pg"]
    assert operators == [ONPREM]
    clusters = {o.namespace for o in kubernetes_objects(result.plan)
                if o.kind == "Cluster" and o.cluster == ONPREM}
    assert {"notebooks", "airflow"} <= clusters


def test_a_team_with_notebooks_needs_the_service():
    platform = stack_platform("prod")
    platform["teams"] = [{**TEAM_FRAUD, "notebooks": True}]
    assert any(p.startswith("teams[0].notebooks") and "services.notebooks" in p
               for p in _problems(platform))


def test_without_work_queues_gpu_profiles_follow_the_pools_and_gpu_less_teams_get_cpu_only():
    platform = with_notebooks()
    platform["services"].pop("workQueues")
    platform["teams"][0].pop("queue")
    platform["teams"].append({**DEV_TEAM, "name": "risk", "gpus": 0})
    cfg = parse_platform(platform)
    fraud, risk = hub_settings(cfg, "onprem", "onprem-prod")["teams"]
    gpu = fraud["profiles"][1]["kubespawner_override"]
    assert gpu["node_selector"]["hybridml.io/gpu-type"]
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert [p["slug"] for p in risk["profiles"]] == ["risk-cpu"]


def test_the_teams_dashboard_shows_its_notebook_servers_and_home_volumes(prod):
    [cm] = [o for o in _objects(prod.plan, "ConfigMap") if o.name == "dashboard-team-fraud"]
    panels = {p["title"]: p["targets"][0]["expr"]
              for p in json.loads(cm.body["data"]["team-fraud.json"])["panels"]}
    assert 'pod=~"jupyter-.*"' in panels["Notebooks: servers running"]
    assert 'persistentvolumeclaim=~"home-.*"' in panels["Notebooks: fullest home volume"]
    # fraud has no pipelines here: no pipeline panels.
    assert not [t for t in panels if t.startswith("Jobs ")]
