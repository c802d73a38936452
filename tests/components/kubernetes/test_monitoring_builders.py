"""The pure builders of the monitoring package and of the alert rules: Helm values by concern,
NetworkPolicy and monitor specs, route and auth specs, and the rules rendered from
alert_rules.yaml. No Pulumi engine: plain arguments in, plain dicts out."""

from __future__ import annotations

import re

import pytest

from components.kubernetes import alert_rules
from components.kubernetes.alert_rules import (
    alert_groups,
    kafka_consumer_lag,
    rule_templates,
    rule_variables,
)
from components.kubernetes.dashboards import DASHBOARD_LABEL
from components.kubernetes.monitoring import (
    NON_PUBLIC,
    AlertingArgs,
    CentralArgs,
    ClusterMonitoringArgs,
    RemoteWriteArgs,
    chart_values,
)
from components.kubernetes.monitoring.central import (
    dashboard_config_map,
    grafana_route_spec,
    remote_write_route_spec,
)
from components.kubernetes.monitoring.credentials import basic_auth_policy_spec
from components.kubernetes.monitoring.monitors import platform_monitors
from components.kubernetes.monitoring.network_policies import (
    network_policy_specs,
    receiver_peers,
)
from components.kubernetes.monitoring.values import (
    alertmanager_values,
    default_rules_values,
    grafana_values,
    prometheus_values,
    remote_write_targets,
    scrape_target_values,
)
from components.tags import StandardTags

TAGS = StandardTags(owner="ml", cost_center="cc-1", environment="dev",
                    data_classification="internal")


def _sender(site: str = "aws", ca_pem: str | None = "PEM", **update) -> ClusterMonitoringArgs:
    return ClusterMonitoringArgs(**{
        "cluster_name": "aws-dev", "site": site, "tags": TAGS, "base_domain": "ml.example.com",
        "retention": "2d", "storage": "20Gi", "gpu_metrics": "none", "control_plane": False,
        "cluster_cidrs": ("10.1.0.0/16",),
        "remote_write": RemoteWriteArgs(central_domain="onprem-dev.ml.example.com", replicas=2,
                                        central_cidrs=("10.9.0.0/16",), ca_pem=ca_pem),
        **update})


def _central_args(**update) -> CentralArgs:
    return CentralArgs(**{"retention": "30d", "storage": "100Gi", "rule_groups": (),
                          "dashboards": {}, "control_plane_rules": True, **update})


def _central(alerting: AlertingArgs | None = None, **update) -> ClusterMonitoringArgs:
    return ClusterMonitoringArgs(
        cluster_name="onprem-dev", site="onprem", tags=TAGS, base_domain="ml.example.com",
        retention="2d", storage="20Gi", gpu_metrics="operator", control_plane=True,
        cluster_cidrs=("192.168.10.0/24",), central=_central_args(alerting=alerting), **update)


# --- Helm values --------------------------------------------------------------------------------

def test_central_prometheus_is_an_ha_pair_receiving_remote_writes():
    prometheus = prometheus_values(_central())
    spec = prometheus["prometheusSpec"]
    assert spec["replicas"] == 2 and spec["retention"] == "30d"
    assert spec["retentionSize"] == "80GB"
    assert spec["enableRemoteWriteReceiver"] is True and "remoteWrite" not in spec
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"] == {
        "requests": {"storage": "100Gi"}}
    assert prometheus["servicePerReplica"] == {"enabled": True}
    assert prometheus["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}


def test_sender_prometheus_keeps_a_short_retention_and_writes_to_every_replica():
    spec = prometheus_values(_sender())["prometheusSpec"]
    assert spec["replicas"] == 1 and spec["retention"] == "2d" and spec["retentionSize"] == "16GB"
    assert "enableRemoteWriteReceiver" not in spec
    assert [w["url"] for w in spec["remoteWrite"]] == [
        "https://prometheus-0.onprem-dev.ml.example.com/api/v1/write",
        "https://prometheus-1.onprem-dev.ml.example.com/api/v1/write"]
    assert spec["externalLabels"] == {"cluster": "aws-dev", "site": "aws"}
    [scrape_class] = spec["scrapeClasses"]
    assert scrape_class["default"] is True
    assert {r["targetLabel"]: r["replacement"] for r in scrape_class["relabelings"]} == {
        "cluster": "aws-dev", "site": "aws"}


def test_remote_write_names_its_credentials_and_trusts_the_ca_only_when_given():
    with_ca = remote_write_targets(_sender(ca_pem="PEM").remote_write)
    assert [w["name"] for w in with_ca] == ["central-0", "central-1"]
    assert with_ca[0]["basicAuth"]["password"] == {"name": "remote-write-auth", "key": "password"}
    assert with_ca[0]["tlsConfig"]["ca"]["secret"] == {"name": "remote-write-ca", "key": "ca.crt"}
    without_ca = remote_write_targets(_sender(ca_pem=None).remote_write)
    assert all("tlsConfig" not in w for w in without_ca)


def test_scrape_targets_follow_what_the_site_exposes():
    onprem = scrape_target_values(_central())
    assert onprem["kubeEtcd"] == {"enabled": True} and onprem["coreDns"] == {"enabled": True}
    gcp = scrape_target_values(_sender(site="gcp"))
    assert gcp["kubeScheduler"] == {"enabled": False} and gcp["coreDns"] == {"enabled": False}


def test_default_rules_alertmanager_and_grafana_exist_only_centrally():
    assert default_rules_values(None) == {"create": False}
    assert alertmanager_values(None) == {"enabled": False}
    assert grafana_values("x.example.com", None) == {"enabled": False}
    off = default_rules_values(_central_args(control_plane_rules=False))
    assert off["create"] is True and not any(off["rules"].values())
    assert all(default_rules_values(_central_args())["rules"].values())


def test_central_alertmanager_is_a_replicated_pair_reading_every_config_of_its_namespace():
    am = alertmanager_values(_central_args(alertmanager_replicas=3, alertmanager_storage="5Gi"))
    spec = am["alertmanagerSpec"]
    assert spec["replicas"] == 3
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"] == {
        "storage": "5Gi"}
    assert spec["alertmanagerConfigMatcherStrategy"] == {
        "type": "OnNamespaceExceptForAlertmanagerNamespace"}


def test_grafana_names_its_admin_secret_and_loads_labelled_dashboards():
    grafana = grafana_values("onprem-dev.ml.example.com", _central_args())
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert grafana["grafana.ini"]["server"]["root_url"] == "https://grafana.onprem-dev.ml.example.com"
    dashboards = grafana["sidecar"]["dashboards"]
    assert (dashboards["label"], dashboards["labelValue"]) == DASHBOARD_LABEL
    assert dashboards["searchNamespace"] == "monitoring"
    assert grafana["grafana.ini"]["auth.anonymous"] == {"enabled": False}


def test_chart_values_compose_the_parts_in_the_chart_order():
    values = chart_values(_sender())
    assert list(values) == [
        "fullnameOverride", "prometheus", "prometheusOperator", "kube-state-metrics",
        "prometheus-node-exporter", "kubeControllerManager", "kubeScheduler", "kubeEtcd",
        "kubeProxy", "coreDns", "alertmanager", "grafana", "defaultRules"]
    assert values["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-host"
    assert values["defaultRules"] == {"create": False}
    assert chart_values(_central())["grafana"]["enabled"] is True


# --- NetworkPolicies, monitors ------------------------------------------------------------------

def _policies(args: ClusterMonitoringArgs) -> dict[str, tuple[dict, dict]]:
    return {name: (spec, pods) for name, spec, pods in network_policy_specs(args)}


def test_sender_may_reach_the_central_gateway_on_443_only():
    policies = _policies(_sender())
    spec, pods = policies["allow-remote-write"]
    assert spec["egress"] == [{"to": [{"ipBlock": {"cidr": "10.9.0.0/16"}}],
                               "ports": [{"protocol": "TCP", "port": 443}]}]
    assert pods == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert "allow-alertmanager-receiver" not in policies
    nodes, _ = policies["allow-prometheus-nodes"]
    assert [p["port"] for p in nodes["egress"][0]["ports"]] == [10250, 9100]


def test_central_scrapes_its_control_plane_and_alertmanager_reaches_only_its_receiver():
    public = _policies(_central(AlertingArgs(receiver="slack", url="https://hooks.example")))
    assert "allow-remote-write" not in public
    nodes, _ = public["allow-prometheus-nodes"]
    assert [p["port"] for p in nodes["egress"][0]["ports"]] == [
        10250, 9100, 10257, 10259, 2381, 10249]
    spec, pods = public["allow-alertmanager-receiver"]
    assert spec["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}}]
    assert pods == {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}
    internal = _policies(_central(AlertingArgs(receiver="webhook", url="https://am.internal",
                                               receiver_cidrs=("10.50.0.0/24",))))
    assert internal["allow-alertmanager-receiver"][0]["egress"][0]["to"] == [
        {"ipBlock": {"cidr": "10.50.0.0/24"}}]
    assert receiver_peers(()) == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}}]


def test_webhook_ingress_comes_from_the_cluster_ranges_and_kube_system():
    spec, pods = _policies(_sender())["allow-webhook-from-apiserver"]
    [rule] = spec["ingress"]
    assert rule["from"][0] == {"ipBlock": {"cidr": "10.1.0.0/16"}}
    assert rule["from"][1]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"}
    assert rule["ports"] == [{"protocol": "TCP", "port": 10250}]
    assert pods == {"matchLabels": {"app": "kube-prometheus-stack-operator"}}


def test_gpu_monitor_follows_where_dcgm_metrics_come_from():
    assert [m[0] for m in platform_monitors(_sender())] == ["cert-manager", "envoy-proxies"]
    [*_, (name, kind, spec)] = platform_monitors(_central())
    assert (name, kind) == ("dcgm-exporter", "ServiceMonitor")
    assert spec["endpoints"][0]["relabelings"][0]["targetLabel"] == "node"
    gke = _sender(site="gcp", gpu_metrics="gke-managed")
    [*_, (name, kind, spec)] = platform_monitors(gke)
    assert (name, kind) == ("gke-dcgm-exporter", "PodMonitor")
    assert spec["namespaceSelector"] == {"matchNames": ["gke-managed-system"]}


# --- central routes, auth, dashboards -----------------------------------------------------------

def test_remote_write_route_exposes_only_the_write_endpoint_of_its_replica():
    spec = remote_write_route_spec(1, "onprem-dev.ml.example.com")
    assert spec["hostnames"] == ["prometheus-1.onprem-dev.ml.example.com"]
    [rule] = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "Exact", "value": "/api/v1/write"},
                                "method": "POST"}]
    assert rule["backendRefs"] == [{"name": "kps-prometheus-1", "port": 9090}]
    assert spec["parentRefs"][0]["kind"] == "Gateway"
    grafana = grafana_route_spec("onprem-dev.ml.example.com")
    assert grafana["hostnames"] == ["grafana.onprem-dev.ml.example.com"]
    assert grafana["rules"][0]["backendRefs"] == [{"name": "grafana", "port": 80}]


def test_basic_auth_covers_every_remote_write_route():
    spec = basic_auth_policy_spec(["prometheus-0", "prometheus-1"])
    assert [t["name"] for t in spec["targetRefs"]] == ["prometheus-0", "prometheus-1"]
    assert spec["basicAuth"]["users"]["name"] == "remote-write-htpasswd"


def test_dashboard_config_map_is_labelled_for_the_sidecar():
    cm = dashboard_config_map("overview", "{}", {"owner": "ml"})
    assert cm["metadata"] == {"name": "dashboard-overview", "namespace": "monitoring",
                              "labels": {"owner": "ml", "grafana_dashboard": "1"}}
    assert cm["data"] == {"overview.json": "{}"}


# --- alert rules from alert_rules.yaml ----------------------------------------------------------

def test_rule_file_is_read_once_and_names_every_group():
    assert rule_templates() is rule_templates()
    assert [g.name for g in rule_templates()] == [
        "hybridml.serving", "hybridml.gpu", "hybridml.workqueues", "hybridml.pipelines",
        "hybridml.kafka", "hybridml.certificates", "hybridml.clusters", "hybridml.notebooks"]


def test_a_group_that_needs_a_value_is_left_out_without_it():
    without = [g["name"] for g in alert_groups("https://x.example/r", "serving", [("c", "aws")])]
    assert "hybridml.workqueues" not in without
    with_queues = alert_groups("https://x.example/r", "serving", [("c", "aws")],
                               queue_wait_minutes=90)
    stalled = next(r for g in with_queues for r in g["rules"] if r["alert"] == "TeamQueueStalled")
    assert stalled["for"] == "90m" and "[90m]" in stalled["expr"]


def test_every_placeholder_of_the_rule_file_has_a_value():
    texts = [t for g in rule_templates() for a in g.alerts
             for t in (a.name, a.expr, a.for_, a.summary, a.description, *dict(a.labels).values())]
    used = {name for t in texts for name in re.findall(r"\$\{([^}]*)\}", t)}
    assert {"serving_routes", "kafka_consumer_lag", "cluster"} <= used
    # `queue_wait` comes from the stack (services.workQueues.maxWaitMinutes), when it has one.
    assert used <= set(rule_variables("serving")) | {"cluster", "site", "queue_wait"}
    rendered = str(alert_groups("https://x.example/r", "serving", [("c", "aws")],
                                [("c", ["a."])], 60))
    assert "${" not in rendered


def test_rule_variables_format_thresholds_as_the_texts_show_them():
    variables = rule_variables("inference")
    assert variables["serving_p99_s"] == "2" and variables["serving_p99_ms"] == "2000"
    assert variables["serving_error_pct"] == "5%" and variables["gpu_util_pct"] == "90%"
    assert variables["serving_routes"] == 'envoy_cluster_name=~"httproute/inference/.*"'


def test_rendered_rule_fills_thresholds_namespace_and_runbook():
    groups = alert_groups("https://x.example/runbooks/", "inference", [])
    [latency] = [r for g in groups for r in g["rules"] if r["alert"] == "ServingHighLatencyP99"]
    assert latency["expr"].endswith("> 2000")
    assert 'envoy_cluster_name=~"httproute/inference/.*"' in latency["expr"]
    assert latency["for"] == "10m" and latency["labels"] == {"severity": "warning"}
    assert latency["annotations"]["summary"] == (
        "Model serving p99 latency above 2s on {{ $labels.cluster }}")
    assert latency["annotations"]["runbook_url"] == (
        "https://x.example/runbooks/alerts.md#servinghighlatencyp99")
    assert "hybridml.clusters" not in [g["name"] for g in groups]


def test_one_not_reporting_rule_per_cluster_labelled_with_it():
    groups = alert_groups("https://x", "serving", [("aws-dev", "aws"), ("onprem-dev", "onprem")])
    [clusters] = [g for g in groups if g["name"] == "hybridml.clusters"]
    assert [r["labels"] for r in clusters["rules"]] == [
        {"severity": "critical", "cluster": "aws-dev", "site": "aws"},
        {"severity": "critical", "cluster": "onprem-dev", "site": "onprem"}]
    assert clusters["rules"][0]["expr"] == 'absent_over_time(up{cluster="aws-dev"}[10m])'
    assert clusters["rules"][1]["annotations"]["summary"] == (
        "Cluster onprem-dev (onprem) sends no metrics")


def test_kafka_lag_skips_only_groups_mirrored_into_a_cluster():
    plain = kafka_consumer_lag()
    assert plain == ("sum by (cluster, site, namespace, consumergroup, topic) "
                     "(kafka_consumergroup_lag) > 10000")
    assert kafka_consumer_lag([("gcp-prod", [])]) == plain
    mirrored = kafka_consumer_lag([("gcp-prod", ["team.a", "b"])])
    assert mirrored == (
        f"({plain}) unless on (cluster, namespace, consumergroup) "
        '(kafka_consumergroup_members{cluster="gcp-prod", consumergroup=~"(team\\\\.a|b).*"} == 0)')
    with pytest.raises(ValueError, match="only letters"):
        kafka_consumer_lag([("c", ["bad prefix"])])


def test_rule_file_problems_name_the_file_and_the_rule(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
                   "        for: 5m\n        severity: page\n        summary: s\n"
                   "        description: d\n")
    with pytest.raises(ValueError, match=r"rules.yaml: g/A: severity is critical or warning"):
        rule_templates(bad)
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n")
    with pytest.raises(ValueError, match="exactly the keys"):
        rule_templates(bad)
    bad.write_text("groups: []\n")
    with pytest.raises(ValueError, match="non-empty `groups`"):
        rule_templates(bad)


def test_every_rule_reads_only_contract_metrics():
    exprs = " ".join(r["expr"] for g in alert_groups("https://x", "s", [("c", "aws")])
                     for r in g["rules"])
    for name in ("envoy_cluster_upstream_rq_time_bucket", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
                 "kafka_server_replicamanager_underreplicatedpartitions",
                 "certmanager_certificate_expiration_timestamp_seconds"):
        assert name in exprs
    assert alert_rules.METRICS["up"] == "up"
