"""The pure builders of PlatformNamespace: labels, LimitRange and NetworkPolicy specs."""

from __future__ import annotations

from components.kubernetes import namespace as ns
from components.kubernetes.objects import PLATFORM_NAMESPACE_LABEL
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
QUOTA = ns.NamespaceQuota(requests_cpu="4", requests_memory="8Gi", limits_cpu="8",
                          limits_memory="16Gi")


def test_namespace_labels_enforce_pod_security_and_mark_the_platform():
    labels = ns.namespace_labels(TAGS, "baseline")
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels[PLATFORM_NAMESPACE_LABEL] == "true"
    assert labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_limit_range_spec_carries_the_defaults():
    defaults = ns.ContainerDefaults(default_cpu="2", max_memory="64Gi")
    [limit] = ns.limit_range_spec(defaults)["limits"]
    assert limit["type"] == "Container"
    assert limit["default"] == {"cpu": "2", "memory": "1Gi"}
    assert limit["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    assert limit["max"] == {"cpu": "16", "memory": "64Gi"}


def test_baseline_policies_deny_all_then_allow_dns_and_same_namespace():
    specs = ns.baseline_policy_specs()
    assert list(specs) == ["default-deny", "allow-dns", "allow-same-namespace"]
    assert specs["default-deny"] == {"policyTypes": ["Ingress", "Egress"]}
    [dns] = specs["allow-dns"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_ingress_policy_is_narrowed_to_named_pods():
    specs = ns.ingress_policy_specs(("gateway", "monitoring"),
                                    {"monitoring": {"app.kubernetes.io/name": "prometheus"}})
    gateway_peer = specs["allow-from-gateway"]["ingress"][0]["from"][0]
    assert "podSelector" not in gateway_peer
    monitoring_peer = specs["allow-from-monitoring"]["ingress"][0]["from"][0]
    assert monitoring_peer["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "prometheus"}}


def test_egress_policy_per_allowance():
    rule = ns.EgressAllowance(name="db", cidrs=("10.20.0.0/16",), ports=(5432,))
    specs = ns.egress_policy_specs((rule,))
    assert specs == {"allow-egress-db": {"policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
         "ports": [{"protocol": "TCP", "port": 5432}]}]}}


def test_network_policy_specs_list_every_policy_in_order():
    spec = ns.NamespaceSpec(
        name="mlflow", quota=QUOTA, allow_from_namespaces=("gateway",),
        allow_egress_cidrs=(ns.EgressAllowance(name="db", cidrs=("10.0.0.0/8",), ports=(5432,)),))
    assert list(ns.network_policy_specs(spec)) == [
        "default-deny", "allow-dns", "allow-same-namespace", "allow-from-gateway",
        "allow-egress-db"]
