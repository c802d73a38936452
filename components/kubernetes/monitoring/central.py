"""What only the central cluster has besides its credentials: Gateway routes to each
Prometheus replica's remote-write endpoint and to Grafana, the platform PrometheusRule, and a
ConfigMap per dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import gateway
from components.kubernetes.dashboards import DASHBOARD_LABEL
from components.kubernetes.monitoring.constants import (
    GRAFANA_PORT,
    GRAFANA_SERVICE,
    NAMESPACE,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
    REMOTE_WRITE_PATH,
    RULES,
)
from components.kubernetes.objects import GATEWAY_API, MONITORING_API


def _gateway_ref() -> dict[str, str]:
    return {"group": "gateway.networking.k8s.io", "kind": "Gateway",
            "name": gateway.GATEWAY, "namespace": gateway.NAMESPACE}


def remote_write_route_spec(replica: int, domain: str) -> dict[str, Any]:
    """HTTPRoute `prometheus-<replica>.<domain>`: POSTs to the remote-write path only, to
    that replica's own Service."""
    return {
        "parentRefs": [_gateway_ref()],
        "hostnames": [f"prometheus-{replica}.{domain}"],
        # Only the remote-write endpoint; the query API stays inside the cluster.
        "rules": [{
            "matches": [{"path": {"type": "Exact", "value": REMOTE_WRITE_PATH},
                         "method": "POST"}],
            "backendRefs": [{"name": f"{PROMETHEUS_SERVICE}-{replica}",
                             "port": PROMETHEUS_PORT}],
        }],
    }


def grafana_route_spec(domain: str) -> dict[str, Any]:
    """HTTPRoute `grafana.<domain>`: everything to Grafana."""
    return {
        "parentRefs": [_gateway_ref()],
        "hostnames": [f"grafana.{domain}"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                   "backendRefs": [{"name": GRAFANA_SERVICE, "port": GRAFANA_PORT}]}],
    }


def gateway_routes(name: str, domain: str, replicas: int, meta: dict[str, Any],
                   parent: pulumi.Resource, release_deps: list[pulumi.Resource]) -> list[str]:
    """An HTTPRoute per Prometheus replica (`<name>-route-prometheus-<i>`) and one for
    Grafana; returns the names of the remote-write routes."""
    opts = pulumi.ResourceOptions(parent=parent, depends_on=release_deps)
    routes = []
    for i in range(replicas):
        route = f"prometheus-{i}"
        routes.append(route)
        k8s.apiextensions.CustomResource(
            f"{name}-route-{route}", api_version=GATEWAY_API, kind="HTTPRoute",
            metadata={"name": route, **meta}, spec=remote_write_route_spec(i, domain), opts=opts)
    k8s.apiextensions.CustomResource(
        f"{name}-route-grafana", api_version=GATEWAY_API, kind="HTTPRoute",
        metadata={"name": "grafana", **meta}, spec=grafana_route_spec(domain), opts=opts)
    return routes


def platform_rules(name: str, rule_groups: tuple[Mapping[str, Any], ...], meta: dict[str, Any],
                   parent: pulumi.Resource, release_deps: list[pulumi.Resource]) -> None:
    """The platform PrometheusRule (`<name>-rules`) holding `rule_groups`."""
    k8s.apiextensions.CustomResource(
        f"{name}-rules",
        api_version=MONITORING_API,
        kind="PrometheusRule",
        metadata={"name": RULES, **meta},
        spec={"groups": [dict(g) for g in rule_groups]},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=release_deps),
    )


def dashboard_config_map(stem: str, text: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """`metadata` and `data` of dashboard `stem`'s ConfigMap, labelled for Grafana's sidecar."""
    return {
        "metadata": {"name": f"dashboard-{stem}", "namespace": NAMESPACE,
                     "labels": {**labels, DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]}},
        "data": {f"{stem}.json": text},
    }


def dashboard_config_maps(name: str, dashboards: Mapping[str, str], meta: dict[str, Any],
                          parent: pulumi.Resource, after: list[pulumi.Resource]) -> None:
    """A ConfigMap per dashboard (`<name>-dashboard-<stem>`), in name order."""
    for stem, text in sorted(dashboards.items()):
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard-{stem}",
            **dashboard_config_map(stem, text, meta["labels"]),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
        )
