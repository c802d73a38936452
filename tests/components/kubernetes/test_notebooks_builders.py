"""The notebooks hub's pure builders: Helm values with no secret in them, the hub's and proxy's network reach, the team-namespace rules, and the hub
module's profile and admission logic without the JupyterHub packages."""

from __future__ import annotations

import json

import pytest

from components.kubernetes.notebooks import HUB_RULES, http_route_spec, server_policy_spec
from components.kubernetes.notebooks import hybridml_hub as hub
from components.kubernetes.notebooks.values import HubDatabase, chart_values, database_url


def _values(**over) -> dict:
    args = dict(idle_timeout_seconds=3600, max_age_seconds=0,
                image="quay.io/jupyterhub/k8s-singleuser-sample:4.4.0", home_size="10Gi",
                storage_class="encrypted", idp_cidrs=("10.20.0.0/16",),
                api_server_cidrs=("10.0.0.0/8",), gateway_namespace="gateway",
                monitoring_namespace="monitoring")
    return chart_values(**{**args, **over})


DB = HubDatabase(url=database_url(username="jupyterhub", host="jupyterhub-postgres-rw.notebooks.svc",
                                  port=5432, database="jupyterhub", sslmode="require"),
                 pod_labels={"cnpg.io/cluster": "jupyterhub-postgres"}, port=5432)


def test_the_postgres_values_name_no_password():
    values = _values(database=DB)
    assert values["hub"]["db"] == {"type": "postgres", "url": (
        "postgresql+psycopg2://jupyterhub@jupyterhub-postgres-rw.notebooks.svc:5432/jupyterhub"
        "?sslmode=require")}
    assert values["hub"]["extraEnv"]["PGPASSWORD"] == {"valueFrom": {"secretKeyRef": {
        "name": "notebooks-db", "key": "password"}}}
    # Without a database the chart's SQLite, and no password variable at all.
    assert _values()["hub"]["db"] == {"type": "sqlite-pvc"}
    assert "PGPASSWORD" not in _values()["hub"]["extraEnv"]


def test_the_hub_may_reach_its_database_pods_only_on_the_postgres_port():
    egress = _values(database=DB)["hub"]["networkPolicy"]["egress"]
    assert egress[-1] == {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "jupyterhub-postgres"}}}],
                          "ports": [{"protocol": "TCP", "port": 5432}]}
    assert len(_values()["hub"]["networkPolicy"]["egress"]) == len(egress) - 1


def test_the_client_secret_comes_from_a_secret_reference_only():
    values = _values()
    assert values["hub"]["extraEnv"] == {"OAUTH_CLIENT_SECRET": {"valueFrom": {"secretKeyRef": {
        "name": "notebooks-oidc", "key": "client-secret"}}}}
    assert "secret" not in json.dumps(values["hub"]["config"]).lower()


def test_the_hub_reaches_only_dns_the_idp_the_api_and_the_servers():
    policy = _values()["hub"]["networkPolicy"]
    allowed = {k for k, v in policy["egressAllowRules"].items() if v}
    assert allowed == {"dnsPortsKubeSystemNamespace"}
    idp, api, servers = policy["egress"]
    assert idp["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {"ipBlock": {"cidr": "10.20.0.0/16"}} in idp["to"]
    assert "10.0.0.0/8" in idp["to"][0]["ipBlock"]["except"]  # no private range but the IdP's
    assert [p["port"] for p in api["ports"]] == [443, 6443]
    assert servers["ports"] == [{"protocol": "TCP", "port": 8888}]
    assert servers["to"][0]["podSelector"] == {"matchLabels": {"hybridml.io/notebook-server": "true"}}


def test_only_the_gateway_reaches_the_proxy_and_the_proxy_only_the_servers():
    chp = _values()["proxy"]["chp"]["networkPolicy"]
    assert chp["allowedIngressPorts"] == []
    assert chp["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "gateway"}}}], "ports": [{"protocol": "TCP", "port": 8000}]}]
    assert [r["ports"][0]["port"] for r in chp["egress"]] == [8888]
    assert not any(chp["egressAllowRules"][k] for k in ("nonPrivateIPs", "privateIPs"))


def test_no_privileged_helpers_and_idle_servers_are_culled():
    values = _values(idle_timeout_seconds=1800, max_age_seconds=86400)
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is False
    assert values["scheduling"]["userScheduler"]["enabled"] is False
    assert values["prePuller"]["hook"]["enabled"] is False
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 1800
    assert values["cull"]["maxAge"] == 86400
    assert values["hub"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_team_namespaces_admit_the_proxy_and_hub_on_the_server_port_only():
    spec = server_policy_spec("notebooks")
    assert spec["podSelector"] == {"matchLabels": {"hybridml.io/notebook-server": "true"}}
    [ingress] = spec["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8888}]
    assert [p["podSelector"]["matchLabels"]["component"] for p in ingress["from"]] == ["proxy", "hub"]
    assert all(p["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "notebooks"}}
               for p in ingress["from"])
    assert spec["egress"][0]["ports"] == [{"protocol": "TCP", "port": 8081}]
    assert {r for rule in HUB_RULES for r in rule["resources"]} == {
        "pods", "persistentvolumeclaims", "events"}


def test_the_route_is_on_the_gateways_https_listener_without_a_request_timeout():
    spec = http_route_spec("notebooks.onprem-prod.ml.example.com")
    assert spec["parentRefs"][0]["sectionName"] == "https"
    assert spec["rules"][0]["backendRefs"][0]["name"] == "proxy-public"
    assert spec["rules"][0]["timeouts"] == {"request": "0s"}  # kernels' websockets stay open


SETTINGS = {"teams": [
    {"name": "a", "groups": ["ga", "oid-a"], "profiles": [{"slug": "a-cpu"}, {"slug": "a-l4"}]},
    {"name": "b", "groups": ["gb"], "profiles": [{"slug": "b-cpu"}]}]}


def test_a_member_gets_their_teams_profiles_with_the_first_as_default():
    profiles = hub.profiles_for(SETTINGS, ["oid-a"], admin=False)
    assert [p["slug"] for p in profiles] == ["a-cpu", "a-l4"]
    assert profiles[0]["default"] is True
    assert "default" not in SETTINGS["teams"][0]["profiles"][0]  # the settings stay untouched


def test_an_admin_sees_every_team_and_a_stranger_nothing():
    assert [p["slug"] for p in hub.profiles_for(SETTINGS, [], admin=True)] == ["a-cpu", "a-l4", "b-cpu"]
    with pytest.raises(hub.NoProfiles):
        hub.profiles_for(SETTINGS, ["other"], admin=False)
    assert hub.member_groups(SETTINGS) == {"ga", "oid-a", "gb"}


def test_groups_come_from_every_group_claim_as_string_or_list():
    info = {"groups": ["ga", 3], "roles": "gb", "other": ["x"]}
    assert hub.claim_groups(info, ["groups", "roles"]) == {"ga", "gb"}


def test_discovery_refuses_a_document_of_another_issuer():
    doc = {"issuer": "https://evil.example.com", "authorization_endpoint": "a",
           "token_endpoint": "t", "userinfo_endpoint": "u"}
    with pytest.raises(ValueError, match="names issuer"):
        hub.discover("https://login.example.com/realms/ml", lambda _url: json.dumps(doc).encode())
    doc["issuer"] = "https://login.example.com/realms/ml/"
    assert hub.discover("https://login.example.com/realms/ml",
                        lambda _url: json.dumps(doc).encode())["token_url"] == "t"


def test_admins_manage_servers_but_cannot_open_them():
    assert _values()["hub"]["config"]["JupyterHub"]["admin_access"] is False


def test_the_hub_admits_team_servers_and_prometheus_only_on_its_port():
    servers, prometheus = _values()["hub"]["networkPolicy"]["ingress"]
    assert servers["from"][0]["podSelector"] == {"matchLabels": {"hybridml.io/notebook-server": "true"}}
    assert prometheus["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]
    assert servers["ports"] == prometheus["ports"] == [{"protocol": "TCP", "port": 8081}]
