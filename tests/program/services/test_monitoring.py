"""Monitoring across sites, as `hybrid-ml preview prod` builds it with `services.monitoring`:
kube-prometheus-stack on every cluster labelled with its cluster and site, remote write into
one central Prometheus (basic auth per sender, platform CA), Grafana and alerting there, alert
rules that link to existing runbook sections, dashboards as valid JSON, no password in clear,
alerts routed to a receiver whose URL is a secret config key, egress limited to what is used."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components.kubernetes import alert_rules, monitoring
from components.kubernetes.charts import CHARTS
from components.kubernetes.dashboards import DASHBOARD_DIR, load_dashboards
from components.kubernetes.monitoring import (
    CentralArgs,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    RemoteWriteArgs,
    chart_values,
    htpasswd,
    retention_size,
)
from components.tags import StandardTags
from stacks.checks.problems import ConfigError
from stacks.plan.monitoring import secret_keys
from stacks.preview.analyzer_client import run_policy_pack
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.offline import SECRET_SIG, SIG_KEY, run_program
from stacks.preview.run import PLACEHOLDER, run_preview
from stacks.program import services as registry
from stacks.program.services.monitoring import mirrored_groups, serving_namespace
from stacks.program.validate import parse_platform
from tests.conftest import CANARY, ROOT, canary_mocks, component_plan, stack_platform, write_stack

K = "hybrid-ml-platform:platform.services.monitoring"
#: The snippet the lead pastes into the stack files (also /tmp/spec/monitoring-stack.yaml).
SNIPPET: dict[str, dict[str, Any]] = {
    "dev": {"central": "onprem", "localRetention": "2d", "localStorage": "20Gi",
            "centralRetention": "15d", "centralStorage": "50Gi",
            "runbookBaseUrl": "https://github.com/hybrid-ml/hybrid-ml-platform/blob/main/runbooks",
            "onpremControlPlane": True},
    "prod": {"central": "onprem", "localRetention": "2d", "localStorage": "20Gi",
             "centralRetention": "30d", "centralStorage": "200Gi",
             "runbookBaseUrl": "https://github.com/hybrid-ml/hybrid-ml-platform/blob/main/runbooks",
             "onpremControlPlane": True},
}
#: Alerting as an operator adds it (not in the stack snippets: the stacks need no secret).
ALERTING = {"webhookUrlKey": "alertWebhookUrl", "receiver": "slack"}
CENTRAL = "onprem-prod"
SITES = {"onprem-prod": "onprem", "hml-prod-aws-eu-west-1": "aws",
         "hml-prod-gcp-europe-west4": "gcp", "hml-prod-azure-westeurope": "azure"}
SENDERS = sorted(set(SITES) - {CENTRAL})
KPS = CHARTS["kube-prometheus-stack"]
COMPONENT = "hybridml:kubernetes:ClusterMonitoring"
#: Metric names of the shared interface (/tmp/spec/interfaces.md) the rules rely on.
CONTRACT = {
    "ServingHighLatencyP99": {"envoy_cluster_upstream_rq_time_bucket"},
    "ServingHighErrorRate": {"envoy_cluster_upstream_rq_xx"},
    "ServingNoHealthyBackend": {"envoy_cluster_membership_healthy"},
    "GpuPoolSaturated": {"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL",
                         "kube_node_labels"},
    # prod mirrors onprem -> aws with synced groups: their member-less copies are skipped.
    "KafkaConsumerLagHigh": {"kafka_consumergroup_lag", "kafka_consumergroup_members"},
    "KafkaUnderReplicatedPartitions": {"kafka_server_replicamanager_underreplicatedpartitions"},
    "CertificateExpiringSoon": {"certmanager_certificate_expiration_timestamp_seconds"},
    "CertificateExpiryCritical": {"certmanager_certificate_expiration_timestamp_seconds"},
    "ClusterNotReporting": {"up"},
}
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _platform(stack: str, alerting: dict | None = None) -> dict[str, Any]:
    p = stack_platform(stack)
    p.setdefault("services", {})["monitoring"] = copy.deepcopy(SNIPPET[stack])
    if alerting is not None:
        p["services"]["monitoring"]["alerting"] = copy.deepcopy(alerting)
    return p


# --- the prod preview, once, with every generated password a known canary ----------------------

@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    crds: dict[str, str] = {}
    monitoring = next(s for s in registry.SERVICES if s.key == "monitoring")

    def spy(ctx, built):
        result = monitoring.build(ctx, built)
        crds.update({ref: r._name for ref, r in result.crds.items()})
        return result

    project = write_stack(tmp_path_factory.mktemp("prod"), "prod", _platform("prod", ALERTING))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "SERVICES", tuple(
            replace(s, build=spy) if s is monitoring else s for s in registry.SERVICES))
        result = run_preview(project, "prod", resource_mocks=canary_mocks())
    return result, crds


@pytest.fixture(scope="module")
def plan(prod):
    return prod[0].plan


def _objects(plan, kind=None, cluster=None, namespace="monitoring"):
    return [o for o in kubernetes_objects(plan)
            if (kind is None or o.kind == kind) and (cluster is None or o.cluster == cluster)
            and (namespace is None or o.namespace == namespace)]


def _one(plan, kind, cluster, name):
    [obj] = [o for o in _objects(plan, kind, cluster) if o.name == name]
    return obj


def _releases(plan) -> dict[str, dict]:
    out = {r["cluster"]: r for r in plan["helmReleases"] if r["chart"] == KPS.chart}
    assert all(r["version"] == KPS.version for r in out.values())
    return out


def _captured(prod, urn: str) -> dict:
    [r] = [r for r in prod[0].capture.resources if r.urn == urn]
    return r.inputs


def _secret_value(value: Any) -> Any:
    assert isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG, value
    return value["value"]


def _string_data(prod, obj) -> Any:
    """A Secret's stringData as registered (the SDK keeps it secret-wrapped as a whole); a
    string (the unknown marker) when it holds a value only known after apply."""
    return _secret_value(_captured(prod, obj.urn)["stringData"])


# --- every cluster -------------------------------------------------------------------------------

def test_every_cluster_runs_the_pinned_stack_labelled_with_its_cluster_and_site(plan):
    releases = _releases(plan)
    assert sorted(releases) == sorted(SITES)
    assert {c: plan["outputs"]["clusters"][c]["site"] for c in SITES} == SITES
    for cluster, site in SITES.items():
        r = releases[cluster]
        assert r["namespace"] == "monitoring" and r["name"] == KPS.chart
        spec = r["values"]["prometheus"]["prometheusSpec"]
        assert spec["externalLabels"] == {"cluster": cluster, "site": site}
        # The same pair on every scraped series (the default scrape class's relabelings).
        [scrape_class] = [c for c in spec["scrapeClasses"] if c.get("default")]
        added = {r["targetLabel"]: r["replacement"] for r in scrape_class["relabelings"]
                 if r.get("action", "replace") == "replace" and not r.get("sourceLabels")}
        assert added == {"cluster": cluster, "site": site}
        for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
            assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, (cluster, kind)
            assert spec[f"{kind}Selector"] == {} and spec[f"{kind}NamespaceSelector"] == {}
        volume = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
        assert volume["storageClassName"] == "encrypted"
        assert r["values"]["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-host"
        for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
            # Managed clouds hide their control plane: scraping it would leave targets down.
            assert r["values"][component]["enabled"] is (site == "onprem"), (cluster, component)


def test_node_exporter_gets_a_privileged_namespace_everything_else_stays_restricted(plan):
    for cluster in SITES:
        [host] = [o for o in _objects(plan, "Namespace", cluster, namespace=None)
                  if o.name == "monitoring-host"]
        assert host.body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
        [mon] = [o for o in _objects(plan, "Namespace", cluster, namespace=None)
                 if o.name == "monitoring"]
        assert mon.body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_container_of_the_stack_has_requests_and_limits(plan):
    for cluster, r in _releases(plan).items():
        v = r["values"]
        found = [v["prometheus"]["prometheusSpec"]["resources"],
                 v["prometheusOperator"]["resources"],
                 v["prometheusOperator"]["prometheusConfigReloader"]["resources"],
                 v["prometheusOperator"]["admissionWebhooks"]["patch"]["resources"],
                 v["kube-state-metrics"]["resources"], v["prometheus-node-exporter"]["resources"]]
        if cluster == CENTRAL:
            found += [v["alertmanager"]["alertmanagerSpec"]["resources"],
                      v["grafana"]["resources"], v["grafana"]["sidecar"]["resources"]]
        for res in found:
            assert set(res["requests"]) == set(res["limits"]) == {"cpu", "memory"}, cluster


def test_services_get_the_release_that_installs_the_monitor_crds(prod, plan):
    _, crds = prod
    assert sorted(crds) == ["aws/eu-west-1", "azure/westeurope", "gcp/europe-west4", "onprem"]
    releases = {r["name"]: r for r in plan["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"}
    for ref, name in crds.items():
        assert releases[name]["inputs"]["chart"] == KPS.chart, ref
    # Our own monitors wait for it too.
    for o in _objects(plan):
        if o.kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            [res] = [r for r in plan["resources"] if r["urn"] == o.urn]
            assert any(d == releases[f"monitoring-{o.cluster}-release"]["urn"]
                       for d in res["dependencies"]), o.urn


def test_scrape_targets_gpu_envoy_and_cert_manager_per_cluster(plan):
    for cluster, site in SITES.items():
        monitors = {o.name: o.body for o in _objects(plan, cluster=cluster)
                    if o.kind in ("ServiceMonitor", "PodMonitor")}
        cm = monitors["cert-manager"]["spec"]
        assert cm["namespaceSelector"] == {"matchNames": ["cert-manager"]}
        assert cm["endpoints"][0]["port"] == "tcp-prometheus-servicemonitor"
        envoy = monitors["envoy-proxies"]
        assert envoy["kind"] == "PodMonitor"
        assert envoy["spec"]["namespaceSelector"] == {"matchNames": ["gateway"]}
        endpoint = envoy["spec"]["podMetricsEndpoints"][0]
        assert (endpoint["port"], endpoint["path"]) == ("metrics", "/stats/prometheus")
        keep = endpoint["metricRelabelings"][0]["regex"]
        for metric in ("envoy_cluster_upstream_rq_time_bucket", "envoy_cluster_upstream_rq_xx",
                       "envoy_cluster_membership_healthy"):
            assert re.fullmatch(keep, metric), metric
        # Every prod cluster has GPU pools: GKE's managed DCGM, the GPU operator elsewhere.
        if site == "gcp":
            gpu = monitors["gke-dcgm-exporter"]
            assert gpu["kind"] == "PodMonitor"
            assert gpu["spec"]["namespaceSelector"] == {"matchNames": ["gke-managed-system"]}
            assert "dcgm-exporter" not in monitors
        else:
            gpu = monitors["dcgm-exporter"]
            assert gpu["spec"]["namespaceSelector"] == {"matchNames": ["gpu-operator"]}
            assert gpu["spec"]["endpoints"][0]["port"] == "gpu-metrics"


# --- aggregation ---------------------------------------------------------------------------------

def test_central_receives_runs_alertmanager_and_grafana_the_others_only_send(plan):
    releases = _releases(plan)
    c = releases[CENTRAL]["values"]
    spec = c["prometheus"]["prometheusSpec"]
    assert spec["enableRemoteWriteReceiver"] is True and spec["replicas"] == 2
    assert spec["retention"] == "30d" and "remoteWrite" not in spec
    assert c["prometheus"]["servicePerReplica"]["enabled"] is True
    assert c["alertmanager"]["enabled"] and c["grafana"]["enabled"]
    assert c["alertmanager"]["alertmanagerSpec"]["replicas"] == 2
    for sender in SENDERS:
        s = releases[sender]["values"]
        assert s["grafana"]["enabled"] is False and s["alertmanager"]["enabled"] is False
        assert s["defaultRules"] == {"create": False}  # rules evaluate once, centrally
        sspec = s["prometheus"]["prometheusSpec"]
        assert sspec["replicas"] == 1 and sspec["retention"] == "2d"
        assert not sspec.get("enableRemoteWriteReceiver")


def test_senders_remote_write_to_every_central_replica_with_their_secrets(prod, plan):
    central = plan["outputs"]["monitoring"]["central"]
    assert central["cluster"] == CENTRAL
    urls = central["remoteWrite"]
    assert urls == [f"https://prometheus-{i}.onprem-prod.ml.hml.internal/api/v1/write"
                    for i in range(2)]
    releases = _releases(plan)
    for sender in SENDERS:
        writes = releases[sender]["values"]["prometheus"]["prometheusSpec"]["remoteWrite"]
        assert [w["url"] for w in writes] == urls
        secrets = {o.name: o for o in _objects(plan, "Secret", sender)}
        for w in writes:
            for part in ("username", "password"):
                ref = w["basicAuth"][part]
                assert ref["key"] in _string_data(prod, secrets[ref["name"]]), (sender, part)
            # The platform root CA (its PEM is only known after apply; its key is checked in
            # test_sender_trusts_the_ca_it_is_given...).
            assert w["tlsConfig"]["ca"]["secret"]["name"] in secrets, sender
        auth = _string_data(prod, secrets[writes[0]["basicAuth"]["username"]["name"]])
        assert auth["username"] == sender and CANARY in auth["password"]
    assert plan["outputs"]["monitoring"]["clusters"] == {
        CENTRAL: "central", **{s: urls for s in SENDERS}}


def test_remote_write_egress_reaches_only_the_central_ranges_on_443(plan):
    for sender in SENDERS:
        [policy] = [o.body for o in _objects(plan, "NetworkPolicy", sender)
                    if o.name == "allow-remote-write"]
        [rule] = policy["spec"]["egress"]
        assert [p["ipBlock"]["cidr"] for p in rule["to"]] == ["10.0.0.0/14"]  # on-prem plan
        assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
        assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert not [o for o in _objects(plan, "NetworkPolicy", CENTRAL) if o.name == "allow-remote-write"]
    for o in _objects(plan, "NetworkPolicy"):
        for rule in o.body["spec"].get("egress", []) + o.body["spec"].get("ingress", []):
            peers = rule.get("to", []) + rule.get("from", [])
            for peer in peers:
                if not peer.get("ipBlock", {}).get("cidr", "").endswith("/0"):
                    continue
                # Only the alert receiver on the public internet: 443, every private range cut.
                assert o.name == "allow-alertmanager-receiver", o.urn
                assert set(peer["ipBlock"]["except"]) >= {"10.0.0.0/8", "172.16.0.0/12",
                                                          "192.168.0.0/16"}
                assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    aws = _one(plan, "NetworkPolicy", "hml-prod-aws-eu-west-1", "allow-egress-apiserver").body
    assert [p["ipBlock"]["cidr"] for p in aws["spec"]["egress"][0]["to"]] == ["10.16.0.0/16"]


def test_egress_and_webhook_policies_name_the_pods_and_ports_that_need_them(plan):
    releases = {r["name"]: r for r in plan["resources"]
                if r["type"] == "kubernetes:helm.sh/v3:Release"}
    for cluster in SITES:
        policies = {o.name: o for o in _objects(plan, "NetworkPolicy", cluster)}
        scrape = policies["allow-prometheus-scrape"].body["spec"]
        assert scrape["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        [rule] = scrape["egress"]
        assert rule["to"] == [{"namespaceSelector": {}}]
        assert sorted(p["port"] for p in rule["ports"]) == sorted(monitoring.SCRAPE_PORTS)
        # The API server: the operator and its certificate Jobs, Prometheus, kube-state-metrics,
        # Grafana; not Alertmanager nor anything else in the namespace.
        selected = set()
        for name in ("allow-egress-apiserver", "allow-egress-apiserver-watchers"):
            [expr] = policies[name].body["spec"]["podSelector"]["matchExpressions"]
            assert expr["operator"] == "In"
            selected |= {(expr["key"], v) for v in expr["values"]}
            assert policies[name].body["spec"]["egress"][0]["ports"] == [
                {"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
        assert selected == {("app", "kube-prometheus-stack-operator"),
                            ("app", "kube-prometheus-stack-admission-create"),
                            ("app", "kube-prometheus-stack-admission-patch"),
                            ("app.kubernetes.io/name", "prometheus"),
                            ("app.kubernetes.io/name", "kube-state-metrics"),
                            ("app.kubernetes.io/name", "grafana")}
        webhook = policies["allow-webhook-from-apiserver"].body["spec"]
        assert webhook["podSelector"] == {"matchLabels": {"app": "kube-prometheus-stack-operator"}}
        assert webhook["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 10250}]
        # The release (and its pre-install webhook Job) waits for every policy of ours.
        deps = set(releases[f"monitoring-{cluster}-release"]["dependencies"])
        assert {o.urn for o in policies.values() if COMPONENT in o.urn} <= deps, cluster


def _resolved_scrape_ports(plan) -> dict[tuple[str, str, str], set[int]]:
    """(cluster, kind, name) of every monitor whose target the plan holds -> its port numbers.

    Monitors of chart- or operator-made pods (Strimzi, CNPG, DCGM, Envoy...) are not in the
    plan and are left out."""
    objs = kubernetes_objects(plan)
    workloads = [o for o in objs if o.kind in ("Deployment", "StatefulSet", "DaemonSet")]

    def pods(cluster: str, ns: str, labels: dict) -> list[dict]:
        return [o.body["spec"]["template"] for o in workloads
                if o.cluster == cluster and o.namespace == ns
                and labels.items() <= o.body["spec"]["template"]["metadata"]["labels"].items()]

    def named(templates: list[dict], port: str | int) -> set[int]:
        if isinstance(port, int):
            return {port}
        return {p["containerPort"] for t in templates for c in t["spec"]["containers"]
                for p in c.get("ports", []) if p.get("name") == port}

    out: dict[tuple[str, str, str], set[int]] = {}
    for m in objs:
        if m.kind not in ("ServiceMonitor", "PodMonitor"):
            continue
        spec = m.body["spec"]
        namespaces = spec.get("namespaceSelector", {}).get("matchNames") or [m.namespace]
        labels = spec["selector"].get("matchLabels", {})
        ports: set[int] = set()
        for ns in namespaces:
            if m.kind == "PodMonitor":
                for ep in spec["podMetricsEndpoints"]:
                    ports |= named(pods(m.cluster, ns, labels), ep["port"])
                continue
            services = [o.body for o in objs if o.kind == "Service" and o.cluster == m.cluster
                        and o.namespace == ns
                        and labels.items() <= o.body["metadata"].get("labels", {}).items()]
            for svc in services:
                for ep in spec["endpoints"]:
                    for sp in svc["spec"]["ports"]:
                        if sp.get("name") == ep["port"]:
                            ports |= named(pods(m.cluster, ns, svc["spec"]["selector"]),
                                           sp.get("targetPort", sp["port"]))
        if ports:
            out[(m.cluster, m.kind, m.name)] = ports
    return out


def test_prometheus_may_reach_every_scrape_target_the_plan_defines(plan):
    # A monitor on a port outside SCRAPE_PORTS would be blocked by the scrape egress policy
    # (its target stays down): every port a monitor of the plan resolves to is allowed.
    resolved = _resolved_scrape_ports(plan)
    assert ("onprem-prod", "ServiceMonitor", "mlflow") in resolved  # the check sees something
    for key, ports in resolved.items():
        assert ports <= set(monitoring.SCRAPE_PORTS), (key, ports)


def test_central_routes_one_host_per_replica_and_grafana_through_the_platform_gateway(plan):
    routes = {o.name: o.body["spec"] for o in _objects(plan, "HTTPRoute", CENTRAL)}
    assert sorted(routes) == ["grafana", "prometheus-0", "prometheus-1"]
    for i, url in enumerate(plan["outputs"]["monitoring"]["central"]["remoteWrite"]):
        spec = routes[f"prometheus-{i}"]
        host = re.match(r"https://([^/]+)(/.*)", url)
        assert spec["hostnames"] == [host.group(1)]
        [rule] = spec["rules"]
        assert rule["matches"][0]["path"] == {"type": "Exact", "value": host.group(2)}
        assert rule["backendRefs"] == [{"name": f"kps-prometheus-{i}", "port": 9090}]
        assert spec["parentRefs"][0]["name"] == "platform"
        assert spec["parentRefs"][0]["namespace"] == "gateway"
    assert routes["grafana"]["hostnames"] == ["grafana.onprem-prod.ml.hml.internal"]
    assert plan["outputs"]["monitoring"]["central"]["grafana"] == \
        "https://grafana.onprem-prod.ml.hml.internal"
    for sender in SENDERS:
        assert not _objects(plan, "HTTPRoute", sender)


def test_security_policy_admits_exactly_every_sender_with_its_own_password(prod, plan):
    policy = _one(plan, "SecurityPolicy", CENTRAL, "remote-write-basic-auth").body["spec"]
    assert sorted(t["name"] for t in policy["targetRefs"]) == ["prometheus-0", "prometheus-1"]
    users_secret = _one(plan, "Secret", CENTRAL, policy["basicAuth"]["users"]["name"])
    content = _string_data(prod, users_secret)[".htpasswd"]
    entries = dict(line.split(":", 1) for line in content.strip().splitlines())
    assert sorted(entries) == SENDERS
    for sender in SENDERS:
        auth = _one(plan, "Secret", sender, "remote-write-auth")
        password = _string_data(prod, auth)["password"]
        assert CANARY in password
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        assert entries[sender] == "{SHA}" + digest, sender
    assert len({e for e in entries.values()}) == len(SENDERS)  # one password per sender


def test_grafana_admin_password_is_generated_and_never_in_clear(prod, plan):
    values = _releases(plan)[CENTRAL]["values"]["grafana"]
    admin = values["admin"]
    secret = _one(plan, "Secret", CENTRAL, admin["existingSecret"])
    data = _string_data(prod, secret)
    assert CANARY in data[admin["passwordKey"]]
    assert data[admin["userKey"]] == "admin"
    assert "adminPassword" not in values
    # Nowhere outside a secret wrapper: inputs, Helm values, plan, stack outputs.
    result = prod[0]
    leaks = [r.urn for r in result.capture.resources if CANARY in _unwrapped(r.inputs)]
    assert leaks == []
    assert CANARY not in json.dumps(result.plan) and CANARY not in _unwrapped(result.capture.outputs)


def test_alerts_go_to_the_configured_receiver_whose_url_only_a_secret_holds(prod, plan):
    spec = _releases(plan)[CENTRAL]["values"]["alertmanager"]["alertmanagerSpec"]
    # AlertmanagerConfigs in `monitoring` see every namespace's alerts (not only namespace=monitoring).
    assert spec["alertmanagerConfigMatcherStrategy"] == {
        "type": "OnNamespaceExceptForAlertmanagerNamespace"}
    configs = _objects(plan, "AlertmanagerConfig", namespace=None)
    assert [(o.cluster, o.namespace, o.name) for o in configs] == [
        (CENTRAL, "monitoring", "platform-alerts")]
    body = configs[0].body
    assert body["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    route = body["spec"]["route"]
    assert route["matchers"] == [{"name": "severity", "matchType": "=~",
                                  "value": "critical|warning"}]
    assert (route["receiver"], route["repeatInterval"]) == ("platform", "12h")
    [critical] = route["routes"]
    assert critical == {"receiver": "platform", "groupWait": "10s", "repeatInterval": "1h",
                        "matchers": [{"name": "severity", "matchType": "=", "value": "critical"}]}
    [receiver] = body["spec"]["receivers"]
    assert receiver["name"] == "platform" and set(receiver) == {"name", "slackConfigs"}
    [slack] = receiver["slackConfigs"]
    assert slack["sendResolved"] is True
    secret = _one(plan, "Secret", CENTRAL, slack["apiURL"]["name"])
    # The URL comes from the secret config key and stays a secret.
    assert _string_data(prod, secret) == {slack["apiURL"]["key"]: PLACEHOLDER}
    mine = [r for r in prod[0].capture.resources if COMPONENT in r.urn or "monitoring-" in r.urn]
    assert [r.urn for r in mine if PLACEHOLDER in _unwrapped(r.inputs)] == []
    assert all(PLACEHOLDER not in json.dumps(r["values"]) for r in _releases(plan).values())
    [res] = [r for r in plan["resources"] if r["urn"] == configs[0].urn]
    assert secret.urn in res["dependencies"]
    assert f"{COMPONENT}$kubernetes:helm.sh/v3:Release::monitoring-{CENTRAL}-release" in " ".join(
        res["dependencies"])
    # Only Alertmanager may leave for the receiver: any public address, on 443.
    policy = _one(plan, "NetworkPolicy", CENTRAL, "allow-alertmanager-receiver").body["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}
    [rule] = policy["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(monitoring.NON_PUBLIC)}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    for sender in SENDERS:
        assert not [o for o in _objects(plan, "NetworkPolicy", sender)
                    if o.name == "allow-alertmanager-receiver"]


def test_alerting_is_optional_and_its_url_is_the_only_secret_key():
    for stack in ("dev", "prod"):
        assert "alerting" not in SNIPPET[stack]  # the stacks need no secret
        assert secret_keys(parse_platform(_platform(stack))) == []
    assert secret_keys(parse_platform(_platform("prod", ALERTING))) == ["alertWebhookUrl"]
    p = _platform("prod", {**ALERTING, "receiverCidrs": ["10.40.0.0/24", "8.8.8.0/24"],
                           "webhookUrlKey": "https://hooks.example"})
    problems = _problems(p)
    assert any(x.startswith(f"{K}.alerting.webhookUrlKey: bad value 'https://hooks.example'")
               for x in problems), problems
    p = _platform("prod", {**ALERTING, "receiverCidrs": ["10.40.0.0/24", "8.8.8.0/24"]})
    assert _problems(p) == [(f"{K}.alerting.receiverCidrs[1]: bad value '8.8.8.0/24'; allowed: a "
                            "private range (an internal receiver); leave the list empty for a "
                            "receiver on the public internet")]


def _central_plan(receiver: dict | None) -> dict:
    """A central ClusterMonitoring on its own; `receiver`: AlertingArgs fields but the URL."""
    def run():
        provider = k8s.Provider("k8s", kubeconfig="unused", cluster_identifier="c")
        rnd = random.Provider("random")
        alerting = None if receiver is None else monitoring.AlertingArgs(
            **receiver, url=pulumi.Output.secret("https://relay.internal/alerts"))
        args = ClusterMonitoringArgs(
            cluster_name="onprem-prod", site="onprem", tags=TAGS, base_domain="ml.example",
            retention="2d", storage="20Gi", gpu_metrics="none", control_plane=False,
            cluster_cidrs=("10.0.0.0/14",),
            central=CentralArgs(retention="30d", storage="100Gi", rule_groups=(),
                                dashboards={}, control_plane_rules=False, alerting=alerting))
        ClusterMonitoring("mon", args, pulumi.ResourceOptions(providers=[provider, rnd]))
    return component_plan(run)


def test_without_a_receiver_nothing_is_routed_and_an_internal_receiver_gets_its_ranges():
    plan = _central_plan(None)
    kinds = {(r["type"], (r["inputs"].get("metadata") or {}).get("name"))
             for r in plan["resources"]}
    assert not [k for k in kinds if k[0].endswith("AlertmanagerConfig")
                or k[1] in ("alert-receiver", "allow-alertmanager-receiver")]
    [release] = [r for r in plan["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert release["inputs"]["values"]["alertmanager"]["alertmanagerSpec"][
        "alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespaceExceptForAlertmanagerNamespace"}

    plan = _central_plan({"receiver": "webhook", "receiver_cidrs": ("10.40.0.0/24",)})
    [policy] = [r["inputs"]["spec"] for r in plan["resources"]
                if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
                and r["inputs"]["metadata"]["name"] == "allow-alertmanager-receiver"]
    assert policy["egress"] == [{"to": [{"ipBlock": {"cidr": "10.40.0.0/24"}}],
                                 "ports": [{"protocol": "TCP", "port": 443}]}]
    [config] = [r["inputs"]["spec"] for r in plan["resources"]
                if r["type"].endswith("AlertmanagerConfig")]
    assert config["receivers"] == [{"name": "platform", "webhookConfigs": [
        {"urlSecret": {"name": "alert-receiver", "key": "url"}, "sendResolved": True}]}]


def test_each_receiver_kind_uses_its_alertmanager_integration():
    teams = monitoring.alert_routing_spec("msteams")["receivers"][0]
    assert set(teams) == {"name", "msteamsv2Configs"}
    assert teams["msteamsv2Configs"][0]["webhookURL"] == {"name": "alert-receiver", "key": "url"}
    assert "webhookConfigs" in monitoring.alert_routing_spec("webhook")["receivers"][0]
    with pytest.raises(ValueError, match="unknown receiver kind"):
        monitoring.alert_routing_spec("pagerduty")


def _unwrapped(value: Any) -> str:
    """Every string outside a secret wrapper, joined."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return ""
        return " ".join(_unwrapped(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_unwrapped(v) for v in value)
    return value if isinstance(value, str) else ""


def test_monitoring_objects_are_policy_clean_and_schema_valid(prod, plan):
    assert prod[0].schema_check.errors == []
    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", plan["resources"], config,
                             analyze_all_resources=True)
    mine = [d for d in report.diagnostics if d.urn and COMPONENT in d.urn]
    assert mine == []
    assert sum(1 for r in plan["resources"] if COMPONENT in r["urn"]) > 50


# --- alert rules and runbooks ----------------------------------------------------------------------

def _rules(plan) -> list[dict]:
    [rule] = _objects(plan, "PrometheusRule")
    assert rule.cluster == CENTRAL  # evaluated once, over every cluster's series
    return [r for g in rule.body["spec"]["groups"] for r in g["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for a file's headings (lower case, punctuation dropped,
    spaces to hyphens, -1/-2 for repeats)."""
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_code or not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_every_alert_links_to_an_existing_runbook_section(plan):
    base = SNIPPET["prod"]["runbookBaseUrl"]
    rules = _rules(plan)
    assert rules
    for r in rules:
        url = r["annotations"]["runbook_url"]
        assert url.startswith(base + "/"), url
        path, _, anchor = url[len(base) + 1:].partition("#")
        file = ROOT / "runbooks" / path
        assert file.is_file(), url
        assert anchor in github_anchors(file.read_text()), url
        assert r["labels"]["severity"] in ("critical", "warning")
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        assert re.fullmatch(r"[0-9]+[smh]", r["for"])


def test_anchor_check_can_fail():
    assert github_anchors("# Title\n## Kafka lag: what now?\n## Kafka lag: what now?\n") == {
        "title", "kafka-lag-what-now", "kafka-lag-what-now-1"}
    assert "servinghighlatencyp99" not in github_anchors("```\n## ServingHighLatencyP99\n```\n")


def test_required_alerts_exist_and_read_the_interface_metrics(plan):
    by_name: dict[str, list[dict]] = {}
    for r in _rules(plan):
        by_name.setdefault(r["alert"], []).append(r)
    assert set(CONTRACT) <= set(by_name)
    for name, metrics in CONTRACT.items():
        for r in by_name[name]:
            assert metrics <= promql_metrics(r["expr"]), (name, r["expr"])
    serving = by_name["ServingHighErrorRate"][0]["expr"]
    assert 'envoy_response_code_class="5"' in serving
    assert 'envoy_cluster_name=~"httproute/serving/.*"' in serving
    [outage] = by_name["ServingNoHealthyBackend"]
    assert outage["expr"] == ("min by (cluster, site, envoy_cluster_name) (envoy_cluster_membership"
                              '_healthy{envoy_cluster_name=~"httproute/serving/.*"}) == 0')
    assert (outage["for"], outage["labels"]["severity"]) == ("5m", "critical")
    [gpu] = by_name["GpuPoolSaturated"]
    # Profiling metric per GPU and MIG instance, the device metric only where it is missing.
    assert ("(DCGM_FI_PROF_GR_ENGINE_ACTIVE or on (cluster, node, gpu) "
            "(DCGM_FI_DEV_GPU_UTIL / 100))") in gpu["expr"]
    assert gpu["expr"].endswith(" > 0.9")
    # The mirror onprem -> aws/eu-west-1 syncs `training-` groups: skipped there, without members.
    [lag] = by_name["KafkaConsumerLagHigh"]
    assert lag["expr"] == (
        "(sum by (cluster, site, namespace, consumergroup, topic) (kafka_consumergroup_lag) > 10000)"
        " unless on (cluster, namespace, consumergroup) (kafka_consumergroup_members{cluster="
        '"hml-prod-aws-eu-west-1", consumergroup=~"(training-).*"} == 0)')
    # One "stopped sending" alert per cluster of the stack, labelled with it.
    silent = {r["labels"]["cluster"]: r for r in by_name["ClusterNotReporting"]}
    assert sorted(silent) == sorted(SITES)
    for cluster, r in silent.items():
        assert r["labels"]["site"] == SITES[cluster]
        assert f'cluster="{cluster}"' in r["expr"] and r["expr"].startswith("absent_over_time(")
    assert [r["labels"]["severity"] for r in by_name["CertificateExpiryCritical"]] == ["critical"]


def _with_serving_namespace(name: str) -> dict:
    p = _platform("dev")
    p["services"]["serving"]["namespace"] = name
    for ns in p["kubernetes"]["namespaces"]:
        if ns["name"] == "serving":
            ns["name"] = name
    return p


def test_serving_alerts_and_dashboards_follow_the_configured_namespace():
    cfg = parse_platform(_with_serving_namespace("inference"))
    assert serving_namespace(cfg) == "inference"
    groups = alert_rules.alert_groups("https://x.example/r", serving_namespace(cfg),
                                      [("c", "onprem")])
    serving = [r for g in groups if g["name"] == "hybridml.serving" for r in g["rules"]]
    assert len(serving) == 3
    assert all('envoy_cluster_name=~"httproute/inference/.*"' in r["expr"] for r in serving)
    overview = json.loads(load_dashboards(constants={"serving_namespace": "inference"})[
        "platform-overview"])
    [var] = [v for v in overview["templating"]["list"] if v["name"] == "serving_namespace"]
    assert (var["type"], var["query"], var["current"]["value"]) == ("constant", "inference",
                                                                    "inference")
    # Without serving configured, the default namespace.
    p = _platform("dev")
    del p["services"]["serving"]
    assert serving_namespace(parse_platform(p)) == "serving"


def test_only_groups_mirrormaker_syncs_on_its_target_skip_the_lag_alert():
    assert mirrored_groups(parse_platform(_platform("prod"))) == [
        ("hml-prod-aws-eu-west-1", ("training-",))]
    assert mirrored_groups(parse_platform(_platform("dev"))) == []
    [lag] = [r for g in alert_rules.alert_groups("https://x.example/r", "serving", [])
             for r in g["rules"] if r["alert"] == "KafkaConsumerLagHigh"]
    assert "unless" not in lag["expr"]
    [lag] = [r for g in alert_rules.alert_groups(
        "https://x.example/r", "serving", [], [("a", ("x.y-",)), ("b", ("z",))])
        for r in g["rules"] if r["alert"] == "KafkaConsumerLagHigh"]
    assert lag["expr"].endswith(
        ' unless on (cluster, namespace, consumergroup) (kafka_consumergroup_members{cluster="a", '
        'consumergroup=~"(x\\\\.y-).*"} == 0 or kafka_consumergroup_members{cluster="b", '
        'consumergroup=~"(z).*"} == 0)')
    promql_metrics(lag["expr"])


# A structural PromQL check (promtool is not available offline): tokens, nesting, matchers,
# range durations, function and aggregation names, grouping clauses. It cannot check types
# (e.g. rate() over an instant vector) or that series exist.
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>[0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)'
                    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
                    r"|(?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=,(){}\[\]]))")
_FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
    "max_over_time", "min_over_time", "predict_linear", "quantile_over_time", "rate", "resets",
    "round", "scalar", "sort", "sort_desc", "sqrt", "sum_over_time", "time", "timestamp",
    "vector", "last_over_time", "present_over_time",
}
_AGGREGATIONS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                 "bottomk", "quantile", "count_values"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"bool", "and", "or", "unless", "offset"}
_DURATION = re.compile(r"[0-9]+(ms|s|m|h|d|w|y)(:[0-9]+(ms|s|m|h|d|w|y))?")


def promql_metrics(expr: str) -> set[str]:
    """Metric names `expr` selects; AssertionError if it is structurally not PromQL."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"unexpected text at {pos}: {expr[pos:pos + 20]!r}"
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    stack: list[str] = []
    metrics: set[str] = set()
    pairs = {")": "(", "}": "{", "]": "["}
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if text in "({[" and kind == "op":
            stack.append(text)
            if text == "{":
                j = i + 1  # label matchers: name op "value" [, ...]
                while tokens[j][1] != "}":
                    assert tokens[j][0] == "ident", f"bad matcher in {expr!r}"
                    assert tokens[j + 1][1] in ("=", "!=", "=~", "!~"), f"bad matcher in {expr!r}"
                    assert tokens[j + 2][0] == "str", f"bad matcher value in {expr!r}"
                    j += 3
                    assert tokens[j][1] in (",", "}"), f"matchers need commas in {expr!r}"
                    if tokens[j][1] == ",":
                        j += 1
                i = j
                continue
            if text == "[":
                j = i + 1
                while j < len(tokens) and tokens[j][1] != "]":
                    j += 1
                inner = "".join(t for _, t in tokens[i + 1:j])
                assert _DURATION.fullmatch(inner), f"bad range {inner!r} in {expr!r}"
                stack.pop()
                i = j + 1
                continue
        elif text in ")}]" and kind == "op":
            assert stack and stack.pop() == pairs[text], f"unbalanced {text!r} in {expr!r}"
        elif kind == "ident":
            if text in _GROUPING:
                assert nxt == "(", f"{text} needs a label list in {expr!r}"
                j = i + 2
                while tokens[j][1] != ")":
                    assert tokens[j][0] == "ident" or tokens[j][1] == ",", f"bad {text}() in {expr!r}"
                    j += 1
                i = j + 1
                continue
            if text in _AGGREGATIONS:
                assert nxt in ("(", "by", "without"), f"{text} needs its argument in {expr!r}"
            elif nxt == "(":
                assert text in _FUNCTIONS, f"unknown function {text!r} in {expr!r}"
            elif text not in _KEYWORDS:
                metrics.add(text)
        i += 1
    assert not stack, f"unclosed {stack} in {expr!r}"
    return metrics


@pytest.mark.parametrize("bad", [
    "sum by (cluster (rate(up[5m]))",          # unbalanced
    "rate(up[5x])",                             # not a duration
    "sumx(up)",                                 # unknown function
    'up{cluster="a" site="b"}',                 # missing comma
    "up{cluster=a}",                            # unquoted value
])
def test_promql_check_rejects_broken_expressions(bad):
    with pytest.raises(AssertionError):
        promql_metrics(bad)


def test_every_rule_and_dashboard_query_is_structurally_promql(plan):
    for r in _rules(plan):
        assert promql_metrics(r["expr"]), r["alert"]
    for text in load_dashboards().values():
        for panel in json.loads(text)["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$cluster", "x")
                assert promql_metrics(expr), (panel["title"], expr)


# --- dashboards ----------------------------------------------------------------------------------

def test_dashboards_ship_as_valid_json_configmaps_on_the_central_cluster(plan):
    maps = [o for o in _objects(plan, "ConfigMap") if o.name.startswith("dashboard-")]
    assert maps and {o.cluster for o in maps} == {CENTRAL}
    shipped = {p.stem for p in DASHBOARD_DIR.glob("*.json")}
    assert {o.name.removeprefix("dashboard-") for o in maps} == shipped
    sidecar = _releases(plan)[CENTRAL]["values"]["grafana"]["sidecar"]["dashboards"]
    for o in maps:
        assert o.body["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        assert sidecar["searchNamespace"] == o.namespace == "monitoring"
        [(key, text)] = o.body["data"].items()
        doc = json.loads(text)
        assert key.endswith(".json")
        assert "cluster" in [v["name"] for v in doc["templating"]["list"]]
    overview = json.loads((DASHBOARD_DIR / "platform-overview.json").read_text())
    queries = " ".join(t["expr"] for p in overview["panels"] for t in p.get("targets", []))
    for metric in ("up", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
                   "envoy_cluster_upstream_rq_time_bucket",
                   "envoy_cluster_upstream_rq_xx", "kafka_consumergroup_lag",
                   "kafka_server_replicamanager_underreplicatedpartitions",
                   "mlflow_http_request_total"):
        assert metric in queries, metric


def test_dashboard_gpu_panels_count_mig_instances_like_the_alert(plan):
    [cm] = [o for o in _objects(plan, "ConfigMap", CENTRAL) if o.name == "dashboard-platform-overview"]
    doc = json.loads(cm.body["data"]["platform-overview.json"])
    panels = {p["title"]: p for p in doc["panels"]}
    sel = 'cluster=~"$cluster"'
    pool = panels["GPU utilisation per pool"]
    assert pool["targets"][0]["expr"] == alert_rules.gpu_pool_utilisation(sel)
    assert pool["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert panels["GPUs and MIG instances reporting per cluster"]["targets"][0]["expr"] == (
        f"count by (cluster, site) ({alert_rules.gpu_utilisation(sel)})")
    # Serving panels read the routes of the configured namespace (a constant set at load).
    [var] = [v for v in doc["templating"]["list"] if v["name"] == "serving_namespace"]
    assert var["query"] == "serving" and var["hide"] == 2
    serving = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])
               if "envoy_cluster_name" in t["expr"]]
    assert serving and all("httproute/${serving_namespace}/" in e for e in serving)


def test_a_broken_dashboard_is_refused_by_name(tmp_path):
    (tmp_path / "ok.json").write_text(json.dumps(
        {"uid": "a", "title": "A", "templating": {"list": [{"name": "cluster"}]}}))
    assert set(load_dashboards(tmp_path)) == {"ok"}
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        load_dashboards(tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"uid": "b", "title": "B"}))
    with pytest.raises(ValueError, match="broken.json has no `cluster`"):
        load_dashboards(tmp_path)


# --- config ----------------------------------------------------------------------------------------

def _problems(p: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_platform(p)
    return [str(x) for x in err.value.problems]


def test_snippets_validate_for_both_stacks():
    for stack in ("dev", "prod"):
        cfg = parse_platform(_platform(stack))
        assert cfg.services.monitoring is not None
        assert cfg.services.monitoring.central == "onprem"


def test_central_must_be_a_cluster_of_the_stack():
    p = _platform("dev")
    p["services"]["monitoring"]["central"] = "gcp/europe-west4"
    [problem] = _problems(p)
    assert problem.startswith(f"{K}.central: bad value 'gcp/europe-west4'; allowed: a cluster "
                              "of the stack (onprem, aws/eu-west-1)")


def test_retention_storage_and_namespaces_are_checked():
    p = _platform("prod")
    p["services"]["monitoring"].update(centralRetention="1d", centralStorage="300Gi")
    problems = _problems(p)
    assert any(x.startswith(f"{K}.centralRetention: bad value '1d'; must be at least "
                            "localRetention (2d)") for x in problems)
    assert any(x.startswith(f"{K}.centralStorage: bad value '300Gi'") and "storage quota" in x
               for x in problems)
    p = _platform("dev")
    p["kubernetes"]["namespaces"] = [{"name": "mlflow"}, {"name": "monitoring-host"}]
    problems = _problems(p)
    assert any(x.startswith("hybrid-ml-platform:platform.kubernetes.namespaces[1].name: bad "
                            "value 'monitoring-host'") and "add-ons' namespaces" in x
               for x in problems)
    p = _platform("dev")
    p["kubernetes"]["namespaces"] = [{"name": n} for n in ("mlflow", "kafka", "serving")]
    problems = _problems(p)
    assert any(x.startswith("hybrid-ml-platform:platform.kubernetes.namespaces: bad value") and
               "must include 'monitoring'" in x for x in problems)
    p = _platform("dev")
    p["services"]["monitoring"]["retention"] = "2d"
    assert _problems(p) == [(f"{K}.retention: bad value '<unknown key>'; allowed keys here: "
                             "central, localRetention, centralRetention, localStorage, "
                             "centralStorage, runbookBaseUrl, onpremControlPlane, alerting")]


def test_cli_refuses_an_unknown_central_with_exit_2(tmp_path):
    p = _platform("dev")
    p["services"]["monitoring"]["central"] = "azure/westeurope"
    project = write_stack(tmp_path, "dev", p)
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "dev", "-C", str(project), "--out",
         str(tmp_path / "out")], check=False, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert f"{K}.central: bad value 'azure/westeurope'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


# --- the component on its own ---------------------------------------------------------------------

def _sender_args(ca_pem) -> ClusterMonitoringArgs:
    return ClusterMonitoringArgs(
        cluster_name="hml-prod-aws-eu-west-1", site="aws", tags=TAGS, base_domain="ml.example",
        retention="2d", storage="20Gi", gpu_metrics="none", control_plane=False,
        cluster_cidrs=("10.16.0.0/16",),
        remote_write=RemoteWriteArgs(central_domain="onprem.ml.example", replicas=2,
                                     central_cidrs=("10.0.0.0/14",), ca_pem=ca_pem))


def test_sender_trusts_the_ca_it_is_given_and_the_system_store_without_one():
    pem = "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"

    def program(ca: str | None):
        def run():
            provider = k8s.Provider("k8s", kubeconfig="unused", cluster_identifier="c")
            rnd = random.Provider("random")
            stand_in = None if ca is None else pulumi.Output.from_input(ca)
            ClusterMonitoring("mon", _sender_args(stand_in), pulumi.ResourceOptions(
                providers=[provider, rnd]))
        return run

    with_ca = component_plan(program(pem))
    cap = run_program(program(pem), "hybrid-ml-platform", "prod",
                      {"pulumi:disable-default-providers": ["*"]}, {})
    secrets = {r.inputs["metadata"]["name"]: r.inputs for r in cap.resources
               if r.type == "kubernetes:core/v1:Secret"}
    assert _secret_value(secrets["remote-write-ca"]["stringData"]) == {"ca.crt": pem}
    [release] = [r for r in with_ca["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"]
    writes = release["inputs"]["values"]["prometheus"]["prometheusSpec"]["remoteWrite"]
    assert len(writes) == 2 and all(
        w["tlsConfig"] == {"ca": {"secret": {"name": "remote-write-ca", "key": "ca.crt"}}}
        for w in writes)

    without = component_plan(program(None))
    names = {r["inputs"]["metadata"]["name"] for r in without["resources"]
             if r["type"] == "kubernetes:core/v1:Secret"}
    assert names == {"remote-write-auth"}
    [release] = [r for r in without["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"]
    assert all("tlsConfig" not in w
               for w in release["inputs"]["values"]["prometheus"]["prometheusSpec"]["remoteWrite"])


def test_component_args_refuse_inconsistent_roles():
    central = CentralArgs(retention="30d", storage="100Gi", rule_groups=(), dashboards={},
                          control_plane_rules=False)
    with pytest.raises(ValidationError, match="exactly one of central and remote_write"):
        ClusterMonitoringArgs(**{**_sender_args(None).model_dump(exclude={"remote_write"}),
                                 "central": central,
                                 "remote_write": _sender_args(None).remote_write})
    with pytest.raises(ValidationError, match="control_plane is on-prem only"):
        ClusterMonitoringArgs(**{**_sender_args(None).model_dump(exclude={"remote_write"}),
                                 "control_plane": True,
                                 "remote_write": _sender_args(None).remote_write})


def test_htpasswd_and_retention_size():
    # The {SHA} line htpasswd -s writes for "password" (Envoy Gateway's own test vector).
    assert htpasswd({"user1": "password"}) == "user1:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
    assert htpasswd({"b": "x", "a": "y"}).splitlines()[0].startswith("a:{SHA}")
    assert retention_size("100Gi") == "80GB" and retention_size("20Gi") == "16GB"
    with pytest.raises(ValueError):
        retention_size("1Gi")


def test_chart_values_skip_what_gke_lacks_and_keep_coredns_elsewhere():
    gke = _sender_args(None).model_copy(update={"site": "gcp"})
    assert chart_values(gke)["coreDns"] == {"enabled": False}
    assert chart_values(_sender_args(None))["coreDns"] == {"enabled": True}


def test_alert_rule_module_names_its_metrics():
    # Every metric a rule reads is named in the module's contract table.
    groups = alert_rules.alert_groups("https://x.example/runbooks", "serving", [("c", "onprem")],
                                      [("c", ("training-",))])
    used = set().union(*(promql_metrics(r["expr"]) for g in groups for r in g["rules"]))
    assert used <= set(alert_rules.METRICS.values())
    assert monitoring.REMOTE_WRITE_PATH == "/api/v1/write"
