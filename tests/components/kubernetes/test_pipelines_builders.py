"""The pipelines package's pure builders, without Pulumi or Airflow: the chart values, the
sign-in config text, the environment Secret's connections, Airflow's egress and the DAGs'
placement module (with stand-in tasks; the real-Airflow checks are in
tests/program/services/test_pipelines_airflow.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from components.kubernetes.pipelines import hybridml_sites as sites
from components.kubernetes.pipelines.connections import conn_env, git_connection, s3_connection
from components.kubernetes.pipelines.network import airflow_egress
from components.kubernetes.pipelines.values import (
    ENV_SECRET,
    airflow_values,
    http_route_spec,
    statsd_monitor_spec,
)
from components.kubernetes.pipelines.webserver_config import CLIENT_SECRET_ENV, api_server_config

TABLE: dict[str, Any] = {
    "home": "onprem", "queueLabel": "kueue.x-k8s.io/queue-name",
    "teams": {"team-fraud": {"namespace": "team-fraud", "queue": "default",
                             "sites": {"onprem": None, "aws/eu-west-1": "hybridml_aws_eu_west_1"}},
              "team-risk": {"namespace": "team-risk", "queue": "default", "sites": {"onprem": None}}},
}


def _values(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        namespace="airflow",
        bundles=({"name": "team-fraud", "classpath": "x.GitDagBundle", "kwargs": {}},),
        remote_log_folder="s3://logs/airflow-logs", remote_log_conn_id="hybridml_logs",
        api_server_config="# config", env_secret_keys=("AIRFLOW_CONN_GIT_FRAUD", CLIENT_SECRET_ENV),
        service_account_annotations={}, labels={"hybridml.io/owner": "ml"},
        custom_roles={"team-fraud": []}, base_url="https://airflow.c1.example.internal")
    return airflow_values(**{**args, **over})


def test_values_read_every_secret_from_the_env_secret_and_never_bundle_a_database():
    values = _values()
    assert values["secret"] == [
        {"envName": "AIRFLOW_CONN_GIT_FRAUD", "secretName": ENV_SECRET, "secretKey": "AIRFLOW_CONN_GIT_FRAUD"},
        {"envName": CLIENT_SECRET_ENV, "secretName": ENV_SECRET, "secretKey": CLIENT_SECRET_ENV}]
    assert values["postgresql"]["enabled"] is False and values["redis"]["enabled"] is False
    assert values["createUserJob"]["enabled"] is False  # users come from the IdP
    assert json.loads(values["config"]["dag_processor"]["dag_bundle_config_list"])[0]["name"] == "team-fraud"
    assert values["config"]["api"]["base_url"] == "https://airflow.c1.example.internal"
    assert json.loads(values["config"]["fab"]["custom_roles"]) == {"team-fraud": []}


def test_sign_in_config_maps_groups_and_reads_the_client_secret_from_the_environment():
    text = api_server_config(issuer_url="https://idp.example.com/realms/ml/", client_id="airflow",
                             group_claim="roles", mapping={"g1": ["team-a"], "admins": ["Admin"]})
    namespace: dict[str, Any] = {}
    code = text.split("from airflow.providers")[0] + text.split("AUTH_TYPE = AUTH_OAUTH")[1].split("class ")[0]
    exec(compile(code, "webserver_config.py", "exec"), namespace)  # the parts without Airflow imports
    assert namespace["AUTH_ROLES_MAPPING"] == {"admins": ["Admin"], "g1": ["team-a"]}
    assert namespace["GROUP_CLAIM"] == "roles" and namespace["AUTH_ROLES_SYNC_AT_LOGIN"] is True
    remote = namespace["OAUTH_PROVIDERS"][0]["remote_app"]
    assert remote["server_metadata_url"] == "https://idp.example.com/realms/ml/.well-known/openid-configuration"
    assert f'os.environ.get("{CLIENT_SECRET_ENV}"' in text and "secret" not in remote["client_id"]


def test_connections_are_airflow_json_connections():
    assert conn_env("git_fraud") == "AIRFLOW_CONN_GIT_FRAUD"
    git = json.loads(git_connection("git@git.example.com:fraud/dags.git", "KEY"))
    assert git == {"conn_type": "git", "host": "git@git.example.com:fraud/dags.git",
                   "extra": {"private_key": "KEY", "strict_host_key_checking": "accept-new"}}
    s3 = json.loads(s3_connection("https://s3.lab:9000", "us-east-1", "id", "p@ss/word"))
    assert (s3["login"], s3["password"], s3["extra"]["endpoint_url"]) == ("id", "p@ss/word", "https://s3.lab:9000")


def test_egress_names_each_destination_and_its_ports():
    spec = airflow_egress(api_server_cidrs=["10.0.0.0/14"], api_server_ports=[443, 6443],
                          remote_site_cidrs=["10.16.0.0/16"], log_store_cidrs=["10.1.40.0/24"],
                          log_store_port=9000, git_cidrs=["10.5.0.0/24"], git_ports=[22, 2222, 22])
    rules = spec["egress"]
    assert spec["policyTypes"] == ["Egress"]
    assert rules[1] == {"to": [{"ipBlock": {"cidr": "10.1.40.0/24"}}], "ports": [{"protocol": "TCP", "port": 9000}]}
    assert [p["port"] for p in rules[3]["ports"]] == [22, 2222]
    assert {"ipBlock": {"cidr": "10.5.0.0/24"}} in rules[3]["to"]
    assert "10.0.0.0/8" in rules[2]["to"][0]["ipBlock"]["except"]  # public HTTPS only
    assert airflow_egress(api_server_cidrs=["10.0.0.0/14"], api_server_ports=[443], remote_site_cidrs=[],
                          log_store_cidrs=["10.1.40.0/24"], log_store_port=443, git_cidrs=[],
                          git_ports=[22])["egress"][-1]["ports"] == [{"protocol": "TCP", "port": 22}]


def test_route_is_on_the_gateways_https_listener_and_the_monitor_scrapes_statsd():
    route = http_route_spec("airflow.c1.example.internal")
    assert route["parentRefs"][0]["sectionName"] == "https"
    assert route["rules"][0]["backendRefs"][0]["name"] == "airflow-api-server"
    monitor = statsd_monitor_spec("airflow")
    assert monitor["endpoints"] == [{"port": "statsd-scrape", "interval": "30s"}]
    assert monitor["namespaceSelector"] == {"matchNames": ["airflow"]}


def _task(fileloc: str, task_id: str = "t") -> Any:
    return SimpleNamespace(task_id=task_id, dag=SimpleNamespace(fileloc=fileloc), labels={"app": "x"},
                           namespace="default", in_cluster=True, kubernetes_conn_id="kubernetes_default",
                           security_context={}, container_security_context=None)


def test_place_puts_the_task_in_the_teams_namespace_and_queue_on_the_site():
    remote = sites.place(_task("/bundles/team-fraud/abc/dags/p.py"), "aws/eu-west-1", TABLE)
    assert (remote.namespace, remote.in_cluster, remote.kubernetes_conn_id) == (
        "team-fraud", False, "hybridml_aws_eu_west_1")
    assert remote.labels == {"app": "x", "kueue.x-k8s.io/queue-name": "default",
                             "hybridml.io/site": "aws_eu-west-1"}
    assert remote.security_context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert remote.container_security_context["capabilities"] == {"drop": ["ALL"]}
    own = _task("/bundles/team-fraud/p.py")
    own.security_context = {"runAsUser": 1000, "runAsNonRoot": True}
    local = sites.place(own, "onprem", TABLE)
    assert (local.in_cluster, local.kubernetes_conn_id) == (True, "kubernetes_default")
    assert local.security_context == {"runAsUser": 1000, "runAsNonRoot": True}  # the task's own


@pytest.mark.parametrize("fileloc, site, message", [
    ("/bundles/team-risk/p.py", "aws/eu-west-1",
     "task 't' of team-risk: site 'aws/eu-west-1' is not allowed for the team's data; allowed: onprem"),
    ("/bundles/other/p.py", "onprem", "/bundles/other/p.py is in no team's DAG bundle (team-fraud, team-risk)"),
    ("/bundles/team-fraud/team-risk/p.py", "onprem", "is in no team's DAG bundle"),
])
def test_place_refuses_what_the_team_may_not_do(fileloc: str, site: str, message: str):
    with pytest.raises(sites.PlacementRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        sites.place(_task(fileloc), site, TABLE)


def test_the_site_table_comes_from_the_file_the_platform_mounts(tmp_path, monkeypatch):
    monkeypatch.delenv(sites.SITES_FILE_ENV, raising=False)
    with pytest.raises(sites.PlacementRefused, match="HYBRIDML_SITES_FILE is not set"):
        sites.load_sites()
    (tmp_path / "sites.json").write_text(json.dumps(TABLE))
    monkeypatch.setenv(sites.SITES_FILE_ENV, str(tmp_path / "sites.json"))
    assert sites.allowed_sites("/b/team-fraud/p.py") == ["onprem", "aws/eu-west-1"]


def test_task_role_is_granted_per_team_namespace_to_the_launching_identity_only():
    from components.kubernetes.pipelines.remote import TASK_RULES, task_role_binding

    home = task_role_binding("team-fraud", "airflow", "airflow-worker")
    assert home["metadata"] == {"name": "airflow-tasks", "namespace": "team-fraud"}
    assert home["roleRef"]["kind"] == "ClusterRole" and home["subjects"] == [
        {"kind": "ServiceAccount", "name": "airflow-worker", "namespace": "airflow"}]
    verbs = {(g, r): rule["verbs"] for rule in TASK_RULES for g in rule["apiGroups"] for r in rule["resources"]}
    assert "create" in verbs[("batch", "jobs")] and verbs[("", "pods/log")] == ["get"]
    assert not any(r in ("secrets", "roles", "rolebindings", "pods/exec") for _, r in verbs)
