"""The platform's own scrape targets on a cluster: ServiceMonitors and PodMonitors for
cert-manager, the Envoy Gateway proxies and, where GPUs are, a DCGM exporter."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import cert_manager, gateway, gpu_stack
from components.kubernetes.monitoring.args import ClusterMonitoringArgs
from components.kubernetes.monitoring.constants import (
    CERT_MANAGER_METRICS_PORT,
    DCGM_LABELS,
    DCGM_PORT,
    ENVOY_KEEP,
    ENVOY_PROXY_LABELS,
    GKE_DCGM_LABELS,
    GKE_DCGM_NAMESPACE,
)
from components.kubernetes.objects import MONITORING_API

#: (name, kind, spec) of one monitor.
MonitorSpec = tuple[str, str, dict[str, Any]]


def _node_relabeling() -> list[dict[str, Any]]:
    """GPU series carry the node they come from."""
    return [{"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"],
             "targetLabel": "node"}]


def platform_monitors(args: ClusterMonitoringArgs) -> list[MonitorSpec]:
    """(name, kind, spec) of the platform's own scrape targets on this cluster."""
    out: list[MonitorSpec] = [
        ("cert-manager", "ServiceMonitor", {
            "namespaceSelector": {"matchNames": [cert_manager.NAMESPACE]},
            "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                                         "app.kubernetes.io/component": "controller"}},
            # honorLabels: `namespace`/`name` are the certificate's, not the controller's.
            "endpoints": [{"port": CERT_MANAGER_METRICS_PORT, "path": "/metrics",
                           "interval": "60s", "honorLabels": True}],
        }),
        ("envoy-proxies", "PodMonitor", {
            "namespaceSelector": {"matchNames": [gateway.NAMESPACE]},
            "selector": {"matchLabels": dict(ENVOY_PROXY_LABELS)},
            "podMetricsEndpoints": [{
                "port": "metrics", "path": "/stats/prometheus", "interval": "30s",
                "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"],
                                       "regex": ENVOY_KEEP}],
            }],
        }),
    ]
    if args.gpu_metrics == "operator":
        out.append(("dcgm-exporter", "ServiceMonitor", {
            "namespaceSelector": {"matchNames": [gpu_stack.NAMESPACE]},
            "selector": {"matchLabels": dict(DCGM_LABELS)},
            # `node` joins GPUs to their pool (kube_node_labels); DCGM's own pod/namespace
            # labels name the workload using the GPU and become exported_pod/exported_namespace.
            "endpoints": [{"port": DCGM_PORT, "path": "/metrics", "interval": "30s",
                           "relabelings": _node_relabeling()}],
        }))
    elif args.gpu_metrics == "gke-managed":
        out.append(("gke-dcgm-exporter", "PodMonitor", {
            "namespaceSelector": {"matchNames": [GKE_DCGM_NAMESPACE]},
            "selector": {"matchLabels": dict(GKE_DCGM_LABELS)},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                     "relabelings": _node_relabeling()}],
        }))
    return out


def scrape_monitors(name: str, args: ClusterMonitoringArgs, meta: dict[str, Any],
                    parent: pulumi.Resource, release_deps: list[pulumi.Resource]) -> None:
    """Create the monitors of `platform_monitors`, each `<name>-<monitor>`, after the release
    (which installs their CRDs)."""
    opts = pulumi.ResourceOptions(parent=parent, depends_on=release_deps)
    for role, kind, spec in platform_monitors(args):
        k8s.apiextensions.CustomResource(
            f"{name}-{role}",
            api_version=MONITORING_API,
            kind=kind,
            metadata={"name": role, **meta},
            spec=spec,
            opts=opts,
        )
