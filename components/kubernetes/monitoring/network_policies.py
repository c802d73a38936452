"""The monitoring namespace's NetworkPolicies (allow rules on top of its default-deny):
scrapes on SCRAPE_PORTS only, API server egress only for the pods that use it, the webhook
ingress only to the operator, remote write only to the central Gateway, Alertmanager only to
its receiver."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi

from components.kubernetes.monitoring.args import ClusterMonitoringArgs
from components.kubernetes.monitoring.constants import (
    ALERTMANAGER_POD_LABELS,
    API_CLIENTS_BY_APP,
    API_CLIENTS_BY_NAME,
    API_PORTS,
    CONTROL_PLANE_PORTS,
    NAMESPACE,
    NODE_METRICS_PORTS,
    NON_PUBLIC,
    OPERATOR_POD_LABELS,
    PROMETHEUS_POD_LABELS,
    SCRAPE_PORTS,
    WEBHOOK_PORT,
)
from components.kubernetes.objects import in_namespace, network_policy

#: (name, spec without podSelector, podSelector) of one NetworkPolicy.
PolicySpec = tuple[str, dict[str, Any], dict[str, Any]]


def _tcp(ports: Iterable[int]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _ip_blocks(cidrs: Iterable[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": c}} for c in cidrs]


def receiver_peers(receiver_cidrs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Where Alertmanager may send notifications: an internal receiver's ranges, or every
    public address."""
    # A SaaS receiver's addresses are public and change: everything public on 443, nothing
    # private, is the narrowest rule a NetworkPolicy can state for it.
    return (_ip_blocks(receiver_cidrs)
            or [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}}])


def network_policy_specs(args: ClusterMonitoringArgs) -> list[PolicySpec]:
    """Every NetworkPolicy of the monitoring namespace on this cluster, in creation order."""
    cidrs = _ip_blocks(args.cluster_cidrs)
    prometheus = {"matchLabels": PROMETHEUS_POD_LABELS}
    node_ports = [*NODE_METRICS_PORTS, *(CONTROL_PLANE_PORTS if args.control_plane else ())]
    # The API server: only the pods that watch or change objects (two selectors, as one
    # podSelector cannot match either of two label keys).
    api = {"policyTypes": ["Egress"], "egress": [{"to": cidrs, "ports": _tcp(API_PORTS)}]}
    out: list[PolicySpec] = [
        # Scrape targets are pods in every namespace (the monitors select them); only the
        # exporter ports in use.
        ("allow-prometheus-scrape", {
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}}],
                        "ports": _tcp(sorted(SCRAPE_PORTS))}],
        }, prometheus),
        ("allow-prometheus-nodes", {
            "policyTypes": ["Egress"],
            "egress": [{"to": cidrs, "ports": _tcp(node_ports)}],
        }, prometheus),
        ("allow-egress-apiserver", api, {"matchExpressions": [
            {"key": "app", "operator": "In", "values": list(API_CLIENTS_BY_APP)}]}),
        ("allow-egress-apiserver-watchers", api, {"matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In",
             "values": list(API_CLIENTS_BY_NAME)}]}),
        # The API server calls the operator's admission webhook (from the control plane's
        # addresses in the cluster ranges, or through konnectivity agents in kube-system).
        ("allow-webhook-from-apiserver", {
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [*cidrs, in_namespace("kube-system")],
                         "ports": _tcp([WEBHOOK_PORT])}],
        }, {"matchLabels": dict(OPERATOR_POD_LABELS)}),
    ]
    if args.remote_write is not None:
        out.append(("allow-remote-write", {
            "policyTypes": ["Egress"],
            "egress": [{"to": _ip_blocks(args.remote_write.central_cidrs),
                        "ports": _tcp([443])}],
        }, prometheus))
    alerting = args.central.alerting if args.central is not None else None
    if alerting is not None:
        out.append(("allow-alertmanager-receiver", {
            "policyTypes": ["Egress"],
            "egress": [{"to": receiver_peers(alerting.receiver_cidrs), "ports": _tcp([443])}],
        }, {"matchLabels": dict(ALERTMANAGER_POD_LABELS)}))
    return out


def network_policies(name: str, args: ClusterMonitoringArgs, parent: pulumi.Resource,
                     after: list[pulumi.Resource]) -> list[pulumi.Resource]:
    """Create the policies of `network_policy_specs`, each `<name>-<policy>`."""
    return [network_policy(f"{name}-{role}", role, NAMESPACE, args.tags, spec, parent, after,
                           pods)
            for role, spec, pods in network_policy_specs(args)]
