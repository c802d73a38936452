"""The platform's one way in: Envoy Gateway (Gateway API) with a TLS-only Gateway.

Installs Envoy Gateway (which also installs the Gateway API CRDs) into the `gateway`
namespace, where its controller, the Envoy proxies it deploys and the `platform` Gateway all
live; platform namespaces therefore admit the gateway's traffic with one `allow-from-gateway`
rule. The Gateway has a single HTTPS listener on 443 for `*.<cluster>.<base_domain>`,
terminating TLS with a certificate cert-manager issues from the `platform-ca` ClusterIssuer
(its gateway-shim reads the annotation). There is no plain-HTTP listener.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.objects import (
    ENVOY_GATEWAY_API,
    GATEWAY_API,
    PLATFORM_NAMESPACE_LABEL,
    add_on_namespace,
    object_labels,
)
from components.tags import StandardTags

NAMESPACE = "gateway"
GATEWAY = "platform"
GATEWAY_CLASS = "envoy"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
TLS_SECRET = "platform-gateway-tls"
_PROXY_CONFIG = "platform-proxy"
#: The platform Gateway's HTTPS listener (TLS terminated there), as an HTTPRoute parent.
HTTPS_LISTENER = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NAMESPACE,
                  "name": GATEWAY, "sectionName": "https"}


def https_route_spec(hostname: str, service: str, port: int,
                     request_timeout: str | None = None) -> dict:
    """An HTTPRoute spec: `hostname` on the platform Gateway's HTTPS listener, every path to
    Service `service:port` in the route's namespace; `request_timeout` replaces Envoy's 15 s
    cut-off (`0s`: none, for websockets)."""
    rule: dict = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                  "backendRefs": [{"group": "", "kind": "Service", "name": service, "port": port}]}
    if request_timeout is not None:
        rule["timeouts"] = {"request": request_timeout}
    return {"parentRefs": [dict(HTTPS_LISTENER)], "hostnames": [hostname], "rules": [rule]}

#: Service annotations that keep the proxies' load balancer private on each cloud (the platform
#: is reached over the VPN); on-prem the cluster's own load balancer (e.g. MetalLB) applies.
INTERNAL_LB_ANNOTATIONS: dict[str, dict[str, str]] = {
    # In-tree controller and AWS Load Balancer Controller spellings, so either one honours it.
    "aws": {
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    },
    "gcp": {"networking.gke.io/load-balancer-type": "Internal"},
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
    "onprem": {},
}


def _values() -> dict:
    return {
        "deployment": {
            "replicas": 2,
            "envoyGateway": {"resources": container_resources("100m", "256Mi", "500m", "1Gi")},
        },
        "podDisruptionBudget": {"minAvailable": 1},
    }


def _proxy_spec(site: Literal["aws", "gcp", "azure", "onprem"]) -> dict:
    kubernetes: dict = {
        "envoyDeployment": {
            "replicas": 2,
            "container": {"resources": container_resources("200m", "256Mi", "1", "1Gi")},
        },
        "envoyPDB": {"minAvailable": 1},
    }
    if INTERNAL_LB_ANNOTATIONS[site]:
        kubernetes["envoyService"] = {"annotations": INTERNAL_LB_ANNOTATIONS[site]}
    return {"provider": {"type": "Kubernetes", "kubernetes": kubernetes}}


def install_envoy_gateway(
    name: str,
    site: Literal["aws", "gcp", "azure", "onprem"],
    tags: StandardTags,
    parent: pulumi.Resource,
) -> tuple[k8s.helm.v3.Release, k8s.apiextensions.CustomResource]:
    """The gateway namespace, the Envoy Gateway release (with the Gateway API CRDs), the
    proxies' configuration (private load balancer, 2 replicas) and the `envoy` GatewayClass."""
    # baseline, not restricted: Envoy Gateway's proxy pods meet baseline by default but do
    # not all set the seccomp profile restricted demands.
    ns = add_on_namespace(f"{name}-namespace", NAMESPACE, tags, "baseline", parent)
    release = pinned_release(f"{name}-release", "envoy-gateway", NAMESPACE, _values(), parent, [ns])
    labels = object_labels(tags)
    proxy = k8s.apiextensions.CustomResource(
        f"{name}-proxy-config",
        api_version=ENVOY_GATEWAY_API,
        kind="EnvoyProxy",
        metadata={"name": _PROXY_CONFIG, "namespace": NAMESPACE, "labels": labels},
        spec=_proxy_spec(site),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[release]),
    )
    gateway_class = k8s.apiextensions.CustomResource(
        f"{name}-class",
        api_version=GATEWAY_API,
        kind="GatewayClass",
        metadata={"name": GATEWAY_CLASS, "labels": labels},
        spec={
            "controllerName": CONTROLLER_NAME,
            "parametersRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": _PROXY_CONFIG,
                "namespace": NAMESPACE,
            },
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[release, proxy]),
    )
    return release, gateway_class


def platform_gateway(
    name: str,
    hostname: str,
    cluster_issuer: str,
    tags: StandardTags,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """The `platform` Gateway: HTTPS on 443 for `hostname` only, certificate from `cluster_issuer`.

    `depends_on` holds the GatewayClass and the ClusterIssuer, so the certificate is issued as
    soon as the Gateway appears.
    """
    return k8s.apiextensions.CustomResource(
        name,
        api_version=GATEWAY_API,
        kind="Gateway",
        metadata={
            "name": GATEWAY,
            "namespace": NAMESPACE,
            "labels": object_labels(tags),
            "annotations": {"cert-manager.io/cluster-issuer": cluster_issuer},
        },
        spec={
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443,
                    "hostname": hostname,
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"group": "", "kind": "Secret", "name": TLS_SECRET}],
                    },
                    # Only platform namespaces may attach routes to the shared wildcard hostname.
                    "allowedRoutes": {
                        "namespaces": {
                            "from": "Selector",
                            "selector": {"matchLabels": {PLATFORM_NAMESPACE_LABEL: "true"}},
                        }
                    },
                }
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
