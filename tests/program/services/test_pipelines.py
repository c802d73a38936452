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

from stacks.plan import pipelines as plan
from stacks.preview.manifests import helm_releases, kubernetes_objects
from stacks.preview.run import PLACEHOLDER, run_preview
from stacks.program.validate import parse_platform
from tests.conftest import CANARY, ROOT, canary_mocks, stack_platform, write_stack
from tests.conftest import config_problems as problems_of

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


# --- the prod stack with pipelines, end to end ---------------------------------------------------

def test_snippet_validates_and_the_committed_stacks_stay_without_pipelines():
    cfg = parse_platform(with_pipelines())
    assert cfg.services.pipelines is not None and cfg.services.pipelines.clusters == ["onprem"]
    assert parse_platform(stack_platform("prod")).services.pipelines is None


def test_policy_pack_finds_nothing_in_the_pipeline_resources(prod):
    from stacks.preview.analyzer_client import run_policy_pack

    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod.plan["resources"], config, analyze_all_resources=True)
    mine = [d for d in report.diagnostics if d.urn and "airflow" in d.urn]
    assert mine == [], [(d.policy_name, d.urn, d.message) for d in mine]
    assert len([r for r in prod.plan["resources"] if "airflow" in r["urn"]]) > 15


def test_prod_preview_is_schema_valid(prod):
    assert prod.schema_check.errors == []


def test_airflow_is_the_pinned_chart_on_the_sites_postgres_never_its_bundled_one(prod):
    rel = _release(prod)
    assert (rel["cluster"], rel["namespace"], rel["chart"], rel["version"]) == (
        ONPREM, "airflow", "airflow", "1.22.0")
    values = rel["values"]
    assert values["defaultAirflowTag"] == values["airflowVersion"] == "3.3.2"
    assert values["postgresql"] == {"enabled": False} and values["pgbouncer"] == {"enabled": False}
    assert values["data"] == {"metadataSecretName": "airflow-metadata"}
    assert values["executor"] == "KubernetesExecutor" and values["statsd"] == {"enabled": True}
    [db] = _objects(prod, "Cluster")
    assert db.name == "airflow-postgres" and db.body["spec"]["instances"] == 3  # HA in prod
    [backup] = _objects(prod, "ScheduledBackup")
    assert backup.body["spec"]["method"] == "volumeSnapshot"


def test_metadata_connection_requires_tls_and_its_password_stays_secret(prod):
    [secret] = [o for o in _objects(prod, "Secret") if o.name == "airflow-metadata"]
    assert secret.body["stringData"] == "[secret]"
    [raw] = [r for r in prod.capture.resources
             if r.type == "kubernetes:core/v1:Secret" and r.name == "airflow-onprem-prod-metadata"]
    uri = json.dumps(raw.inputs["stringData"])
    assert (f"postgresql://airflow:{CANARY}-airflow-db-onprem-prod-password"
            "@airflow-postgres-rw.airflow.svc:5432/airflow?sslmode=require") in uri
    assert CANARY not in json.dumps(prod.plan)


def test_each_team_has_its_own_git_bundle_with_a_deploy_key_never_in_clear(prod):
    config = _release(prod)["values"]["config"]
    bundles = json.loads(config["dag_processor"]["dag_bundle_config_list"])
    assert [(b["name"], b["kwargs"]["git_conn_id"], b["kwargs"]["tracking_ref"]) for b in bundles] == [
        ("team-fraud", "git_fraud", "main"), ("team-risk", "git_risk", "release")]
    assert all(b["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle" for b in bundles)
    env = {e["envName"] for e in _release(prod)["values"]["secret"]}
    assert {"AIRFLOW_CONN_GIT_FRAUD", "AIRFLOW_CONN_GIT_RISK", "AIRFLOW_CONN_HYBRIDML_LOGS",
            "AIRFLOW_CONN_HYBRIDML_AWS_EU_WEST_1", "HYBRIDML_OIDC_CLIENT_SECRET"} == env
    [secret] = [o for o in _objects(prod, "Secret") if o.name == "airflow-platform-env"]
    assert secret.body["stringData"] == "[secret]"
    text = json.dumps(prod.plan)
    assert PLACEHOLDER not in text  # the deploy keys' and client secret's preview stand-ins
    [raw] = [r for r in prod.capture.resources
             if r.type == "kubernetes:core/v1:Secret" and r.name == "airflow-onprem-prod-env"]
    conn = json.dumps(raw.inputs["stringData"])
    assert "git@git.hml.internal:fraud/dags.git" in conn and PLACEHOLDER in conn


def test_task_logs_go_to_the_onprem_bucket_and_sign_in_is_the_idp(prod):
    config = _release(prod)["values"]["config"]
    assert config["logging"] == {"remote_logging": "True", "remote_log_conn_id": "hybridml_logs",
                                 "remote_base_log_folder": "s3://hml-prod-airflow-logs/airflow-logs"}
    assert config["core"]["auth_manager"].endswith("FabAuthManager")
    server_config = _release(prod)["values"]["apiServer"]["apiServerConfig"]
    assert '"ml-platform-admins": [\n        "Admin"' in server_config
    assert '"team-fraud": [\n        "team-fraud"' in server_config
    assert '"risk-analysts": [\n        "team-risk"' in server_config
    assert '"https://sso.hml.internal/realms/ml" + "/.well-known/openid-configuration"' in server_config


def test_site_table_lets_each_team_place_tasks_only_where_its_data_may_go(prod):
    [cm] = [o for o in _objects(prod, "ConfigMap") if o.name == "hybridml-sites"]
    table = json.loads(cm.body["data"]["sites.json"])
    assert table["teams"]["team-fraud"] == {"namespace": "team-fraud", "queue": "default", "sites": {
        "onprem": None, "aws/eu-west-1": "hybridml_aws_eu_west_1"}}
    assert table["teams"]["team-risk"]["sites"] == {"onprem": None}
    assert "def place(" in cm.body["data"]["hybridml_sites.py"]


def test_airflow_egress_is_named_ranges_and_ports(prod):
    [policy] = [o for o in _objects(prod, "NetworkPolicy") if o.name == "airflow-egress"]
    rules = policy.body["spec"]["egress"]
    ports = [sorted(p["port"] for p in r["ports"]) for r in rules]
    assert ports == [[443, 6443], [443], [443], [22], [443]]
    assert rules[1]["to"] == [{"ipBlock": {"cidr": "10.1.40.0/24"}}]  # the log store only
    assert rules[4]["to"] == [{"ipBlock": {"cidr": "10.16.0.0/16"}}]  # aws/eu-west-1 over the VPN


# --- plan, pure ------------------------------------------------------------------------------------

def test_roles_mapping_gives_each_group_its_teams_role_and_nothing_else():
    cfg = parse_platform(with_pipelines())
    mapping = plan.roles_mapping(cfg)
    assert plan.roles_for(mapping, ["team-fraud"]) == ["team-fraud"]
    assert plan.roles_for(mapping, ["risk-analysts", "team-fraud"]) == ["team-fraud", "team-risk"]
    assert plan.roles_for(mapping, ["ml-platform-admins"]) == ["Admin"]
    assert plan.roles_for(mapping, ["team-risk", "someone-else"]) == []  # risk's group is risk-analysts


def test_secret_keys_list_the_client_secret_log_keys_and_every_deploy_key():
    assert plan.secret_keys(parse_platform(with_pipelines())) == [
        "airflowOidcClientSecret", "airflowLogsS3AccessKeyId", "airflowLogsS3SecretAccessKey",
        "fraudDagDeployKey", "riskDagDeployKey"]


def test_hybrid_ml_secrets_names_the_deploy_keys(tmp_path):
    project = write_stack(tmp_path, "prod", with_pipelines())
    proc = subprocess.run([sys.executable, "-m", "stacks", "secrets", "prod", "-C", str(project)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "fraudDagDeployKey" in proc.stdout and "riskDagDeployKey" in proc.stdout


def test_a_restricted_classification_keeps_tasks_on_prem():
    platform = with_pipelines()
    platform["residency"]["classifications"]["secret"] = {"allowedRegions": ["eu-central-1"]}
    fraud = platform["teams"][0]
    fraud["sites"], fraud["dataClassification"] = ["onprem"], "secret"
    cfg = parse_platform(platform)
    assert plan.task_sites(cfg, cfg.teams[0]) == ["onprem"]
    assert plan.site_allowed(cfg, cfg.teams[0], "aws/eu-central-1")
    assert not plan.site_allowed(cfg, cfg.teams[0], "aws/eu-west-1")


# --- refusals --------------------------------------------------------------------------------------

def test_a_pipeline_site_outside_the_teams_residency_is_refused():
    platform = with_pipelines()
    platform["residency"]["classifications"]["secret"] = {"allowedRegions": ["eu-west-1"]}
    platform["teams"][0]["dataClassification"] = "secret"
    platform["teams"][0]["pipelines"]["sites"] = ["onprem", "gcp/europe-west4"]
    [line] = problems_of(platform)
    assert line == (f"{K}.teams[0].pipelines.sites[1]: bad value 'gcp/europe-west4'; outside the "
                    "residency of the team's 'secret' data; allowed: the team's sites that "
                    "residency allows (onprem, aws/eu-west-1)")


def test_a_missing_dag_source_and_an_unset_deploy_key_key_are_refused():
    platform = with_pipelines()
    del platform["teams"][0]["pipelines"]["dagRepo"]
    del platform["teams"][1]["pipelines"]["deployKeyKey"]
    lines = problems_of(platform)
    assert any(line.startswith(f"{K}.teams[0].pipelines.dagRepo: missing") for line in lines), lines
    assert any(line.startswith(f"{K}.teams[1].pipelines.deployKeyKey: missing") for line in lines), lines


def test_a_shared_deploy_key_a_cloud_cluster_and_missing_onprem_logs_are_refused():
    platform = with_pipelines(clusters=["onprem", "aws/eu-west-1"])
    platform["teams"][1]["pipelines"]["deployKeyKey"] = "fraudDagDeployKey"
    del platform["services"]["pipelines"]["onprem"]
    lines = problems_of(platform)
    P = f"{K}.services.pipelines"
    assert (f"{P}.clusters[1]: bad value 'aws/eu-west-1'; Airflow runs on the on-prem cluster "
            "(tasks reach the cloud sites over the VPN); allowed: onprem") in lines
    assert any(line.startswith(f"{P}.onprem: missing; required when onprem is in") for line in lines)
    assert any(line.startswith(f"{K}.teams[1].pipelines.deployKeyKey: bad value 'fraudDagDeployKey'")
               for line in lines)


def test_team_pipelines_without_the_service_are_refused():
    platform = with_pipelines()
    del platform["services"]["pipelines"]
    lines = problems_of(platform)
    assert any(line.startswith(f"{K}.teams[0].pipelines: bad value") and "services.pipelines" in line
               for line in lines)


def test_cli_refuses_a_pipeline_site_outside_residency_with_exit_2(tmp_path):
    platform = with_pipelines()
    platform["teams"][1]["pipelines"]["sites"] = ["aws/eu-west-1"]
    project = write_stack(tmp_path, "prod", platform)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "stacks", "preview", "prod", "-C", str(project),
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{K}.teams[1].pipelines.sites[0]: bad value 'aws/eu-west-1'; "
            "not one of the team's sites") in proc.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    platform = with_pipelines("dev", teams=[{**RISK, "sites": ["onprem"]}])
    del platform["services"]["pipelines"]["onprem"]["volumeSnapshotClass"]
    return run_preview(write_stack(tmp_path_factory.mktemp("pipelines-dev"), "dev", platform), "dev")


def test_dev_target_previews_schema_valid_and_policy_clean_with_one_database_instance(dev):
    from stacks.preview.analyzer_client import run_policy_pack

    assert dev.schema_check.errors == []
    config = json.loads((ROOT / "policies" / "config.dev.json").read_text())
    report = run_policy_pack(ROOT / "policies", dev.plan["resources"], config, analyze_all_resources=True)
    assert [d for d in report.diagnostics if "airflow" in (d.urn or "")] == []
    [db] = [o for o in kubernetes_objects(dev.plan)
            if o.kind == "Cluster" and o.namespace == "airflow" and o.cluster == "onprem-dev"]
    assert db.body["spec"]["instances"] == 1  # no HA outside prod
    assert not [o for o in kubernetes_objects(dev.plan) if o.kind == "ScheduledBackup" and o.namespace == "airflow"]
    [rel] = [r for r in helm_releases(dev.plan) if r["name"] == "airflow"]
    assert rel["cluster"] == "onprem-dev" and rel["values"]["postgresql"] == {"enabled": False}


def test_ui_route_and_statsd_monitor_on_the_cluster(prod):
    [route] = [o for o in _objects(prod, "HTTPRoute") if o.name == "airflow"]
    assert route.body["spec"]["hostnames"] == ["airflow.onprem-prod.ml.hml.internal"]
    values = _release(prod)["values"]
    assert values["config"]["api"]["base_url"] == "https://airflow.onprem-prod.ml.hml.internal"
    [monitor] = [o for o in _objects(prod, "ServiceMonitor") if o.name == "airflow-statsd"]
    assert monitor.body["spec"]["endpoints"][0]["port"] == "statsd-scrape"


def test_a_remote_site_gets_its_own_task_identity_and_a_connection_with_its_token(prod):
    aws = "hml-prod-aws-eu-west-1"
    objects = [o for o in kubernetes_objects(prod.plan) if o.cluster == aws]
    [account] = [o for o in objects if o.kind == "ServiceAccount" and o.namespace == "airflow-remote"]
    assert account.name == "airflow-tasks"
    [role] = [o for o in objects if o.kind == "ClusterRole" and o.name == "airflow-tasks"]
    assert {r["apiGroups"][0]: r["resources"] for r in role.body["rules"]}["batch"] == ["jobs"]
    assert not [o for o in objects if o.kind == "ClusterRoleBinding" and o.name == "airflow-tasks"]
    # Its connection (a kubeconfig with that token, known once the remote cluster made it) is
    # in a Secret of its own that the chart reads as AIRFLOW_CONN_HYBRIDML_AWS_EU_WEST_1.
    [secret] = [o for o in _objects(prod, "Secret") if o.name == "airflow-site-connections"]
    assert secret.body["stringData"] == "[secret]"
    assert {"envName": "AIRFLOW_CONN_HYBRIDML_AWS_EU_WEST_1", "secretName": "airflow-site-connections",
            "secretKey": "AIRFLOW_CONN_HYBRIDML_AWS_EU_WEST_1"} in _release(prod)["values"]["secret"]
    # risk's tasks stay on-prem: no identity on the other cloud sites
    assert not [o for o in kubernetes_objects(prod.plan) if o.namespace == "airflow-remote" and o.cluster != aws]


def test_airflow_may_run_task_jobs_only_in_the_teams_namespace_on_its_task_sites(prod):
    bindings = {(o.cluster, o.namespace): o.body for o in kubernetes_objects(prod.plan)
                if o.kind == "RoleBinding" and o.name == "airflow-tasks"}
    for (cluster, namespace), body in bindings.items():
        assert namespace.startswith("team-")
        assert body["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                   "kind": "ClusterRole", "name": "airflow-tasks"}
        # At home the chart's worker launches Jobs; on a remote site the remote identity.
        expected = ("airflow", "airflow-worker") if cluster == "onprem-prod" \
            else ("airflow-remote", "airflow-tasks")
        assert [(s["namespace"], s["name"]) for s in body["subjects"]] == [expected]
    assert ("onprem-prod", "team-risk") in bindings
    # risk's tasks stay on-prem (its classification), so it has no binding in the cloud.
    assert not [k for k in bindings if k[1] == "team-risk" and k[0] != "onprem-prod"]
    assert any(cluster == "hml-prod-aws-eu-west-1" for cluster, _ in bindings)
