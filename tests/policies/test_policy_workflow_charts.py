"""Airflow and JupyterHub releases: no bundled database in prod, no plain HTTP; through the pack."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_testkit import K8S, Case, assert_case, case, case_id, config, rec, run_cases

from components.kubernetes.pipelines.values import airflow_values

POLICY = "workflow-chart-database-and-tls"
RELEASE = "kubernetes:helm.sh/v3:Release"
#: The values the platform's own Airflow component writes.
AIRFLOW = airflow_values(namespace="airflow", bundles=(),
                         remote_log_folder="s3://logs/airflow-logs", remote_log_conn_id="hybridml_logs",
                         api_server_config="", env_secret_keys=(), service_account_annotations={},
                         labels={}, custom_roles={})
HUB: dict[str, Any] = {"hub": {"db": {"type": "postgres"}}, "proxy": {"service": {"type": "ClusterIP"}}}


def release(name: str, chart: str, values: dict[str, Any]) -> dict[str, Any]:
    return rec(RELEASE, name, {"chart": chart, "version": "1.0.0", "name": chart, "namespace": chart,
                               "values": values}, provider=K8S)


def changed(values: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(values)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def without(values: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != key}


def _case(name: str, expect: str, chart: str, values: dict[str, Any], message: str = "") -> Case:
    return case(POLICY, name, expect, [release(name, chart, values)], message=message)


CASES = [
    _case("airflow-platform-values", "pass", "airflow", AIRFLOW),
    _case("airflow-bundled-postgres", "fail", "airflow", changed(AIRFLOW, ("postgresql", "enabled"), True),
          "uses the chart's bundled PostgreSQL in prod (postgresql.enabled is not false)"),
    _case("airflow-chart-default-database", "fail", "airflow", without(AIRFLOW, "postgresql"),
          "uses the chart's bundled PostgreSQL in prod"),
    _case("airflow-plain-database", "fail", "airflow",
          changed(AIRFLOW, ("data", "metadataConnection"), {"sslmode": "disable"}),
          "without TLS (data.metadataConnection.sslmode 'disable'"),
    _case("airflow-ingress-without-tls", "fail", "airflow",
          changed(AIRFLOW, ("ingress", "apiServer"), {"enabled": True, "hosts": [{"name": "af.example.com"}]}),
          "the apiServer ingress is enabled without TLS (ingress.apiServer.tls)"),
    _case("airflow-ingress-with-tls", "pass", "airflow",
          changed(AIRFLOW, ("ingress", "apiServer"), {"enabled": True, "tls": {"enabled": True}})),
    _case("jupyterhub-postgres-behind-the-gateway", "pass", "jupyterhub", HUB),
    _case("jupyterhub-oci-chart", "pass", "oci://registry.example.com/charts/jupyterhub", HUB),
    _case("jupyterhub-sqlite", "fail", "jupyterhub", changed(HUB, ("hub", "db", "type"), "sqlite-pvc"),
          "keeps the hub database in the release in prod (hub.db.type 'sqlite-pvc')"),
    _case("jupyterhub-chart-defaults", "fail", "jupyterhub", {},
          "exposes its proxy as a LoadBalancer without TLS (proxy.https.enabled)"),
    _case("jupyterhub-plain-database-url", "fail", "jupyterhub",
          changed(HUB, ("hub", "db", "url"), "postgresql://hub@db:5432/hub?sslmode=disable"),
          "connects to its hub database without TLS"),
    _case("jupyterhub-https-proxy", "pass", "jupyterhub",
          changed(changed(HUB, ("proxy", "service", "type"), "LoadBalancer"), ("proxy", "https", "enabled"), True)),
    _case("other-chart-untouched", "pass", "kube-prometheus-stack", {}),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES, {**config("prod"), POLICY: {"environment": "prod"}})


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)


def test_a_bundled_database_is_allowed_outside_prod_but_plain_http_never():
    dev = [_case("airflow-bundled-dev", "pass", "airflow", changed(AIRFLOW, ("postgresql", "enabled"), True)),
           _case("jupyterhub-sqlite-dev", "pass", "jupyterhub", changed(HUB, ("hub", "db", "type"), "sqlite-pvc")),
           _case("jupyterhub-exposed-dev", "fail", "jupyterhub", without(HUB, "proxy"),
                 "exposes its proxy as a LoadBalancer without TLS")]
    result = run_cases(dev, {**config("prod"), POLICY: {"environment": "dev"}})
    for c in dev:
        assert_case(c, result)


def test_without_config_the_stack_name_decides():
    # The test records' stack is `test`: not prod, so only the TLS rules apply.
    c = _case("airflow-bundled-no-config", "pass", "airflow", changed(AIRFLOW, ("postgresql", "enabled"), True))
    assert_case(c, run_cases([c], config("prod")))
