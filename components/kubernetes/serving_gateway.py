"""The public entry of model serving on one cluster: the `serving-public` Gateway.

The platform Gateway stays private (VPN only). Health-checked DNS failover needs an entry the
internet reaches (Route 53 health checkers and clients), so each failover site gets a second
Gateway of the `envoy` class, HTTPS-only on 443 for `*.<failover domain>`, whose proxies sit
behind a load balancer on a static public address the program reserved (AWS Elastic IPs, a GCP
regional address, an Azure public IP) or, on-prem, the address the DMZ/NAT forwards to it.

Its own proxy configuration is attached with `spec.infrastructure.parametersRef` (Envoy Gateway:
an EnvoyProxy in the Gateway's namespace; it replaces, not merges with, the GatewayClass's
`platform-proxy`, whose internal-load-balancer annotations must not apply here). Only routes
from the serving namespace may attach, and the routes there expose nothing but each model's
inference (`POST /invocations`) and health (`GET /ping`) paths.

Who trusts the certificate: cert-manager issues the listener's certificate from
`cluster_issuer`, by default the cluster's private `platform-ca` (an intermediate of the
platform root CA, stack output `platformRootCa`). Route 53 health checkers do not validate
certificates, so failover works either way, but internet clients only connect if they trust
the issuer: either they add the `platformRootCa` certificate to their trust store (fine for the
platform's own consumers), or `services.serving.failover.clusterIssuer` names a publicly
trusted ClusterIssuer the operators run on every failover cluster (e.g. ACME with a DNS-01
solver on the failover domain's Route 53 zone: the listener's name is a wildcard, which ACME
issues only through DNS-01).
The program does not create that issuer and cannot tell whether clients trust it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from components.kubernetes.charts import container_resources
from components.kubernetes.gateway import GATEWAY_CLASS, NAMESPACE
from components.kubernetes.objects import ENVOY_GATEWAY_API, GATEWAY_API, known_name, object_labels
from components.tags import StandardTags

PUBLIC_GATEWAY = "serving-public"
_PROXY_CONFIG = "serving-public-proxy"
_TLS_SECRET = "serving-public-tls"
#: Labels Envoy Gateway puts on the proxy pods of a Gateway.
_OWNER_LABELS = {
    "gateway.envoyproxy.io/owning-gateway-name": PUBLIC_GATEWAY,
    "gateway.envoyproxy.io/owning-gateway-namespace": NAMESPACE,
}


class PublicGatewayArgs(BaseModel):
    """Arguments of a cluster's public serving Gateway."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    site: Literal["aws", "gcp", "azure", "onprem"] = Field(description="Where the cluster runs.")
    hostname: str = Field(pattern=r"^\*\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                          description="Listener hostname, a wildcard: `*.<failover domain>`.")
    route_namespace: str = Field(description="The only namespace whose routes may attach (serving).")
    cluster_issuer: str = Field(description="cert-manager ClusterIssuer of the listener certificate "
                                            "(`platform-ca`: clients must trust platformRootCa; or "
                                            "a publicly trusted issuer the operators run).")
    service_annotations: Mapping[str, str | pulumi.Output[str]] = Field(
        description="Annotations that make the proxies' Service an internet-facing load balancer "
                    "on the reserved address (from the site's PublicAddress component).")
    replicas: int = Field(default=2, ge=2, le=10, description="Proxy replicas (spread over zones).")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    after: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="What the objects wait for: the cluster's add-ons (Envoy Gateway "
                                "and its CRDs, cert-manager and the ClusterIssuer).")


def _proxy_spec(args: PublicGatewayArgs) -> dict:
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {
                    "replicas": args.replicas,
                    "container": {"resources": container_resources("200m", "256Mi", "1", "1Gi")},
                    "pod": {
                        "topologySpreadConstraints": [{
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": dict(_OWNER_LABELS)},
                        }],
                    },
                },
                "envoyPDB": {"minAvailable": 1},
                "envoyService": {
                    "type": "LoadBalancer",
                    # Local: client addresses reach the proxies (logs, rate limits) and the load
                    # balancer's node health check only passes where a proxy runs.
                    "externalTrafficPolicy": "Local",
                    "annotations": dict(args.service_annotations),
                },
            },
        },
    }


class PublicGateway(pulumi.ComponentResource):
    """An EnvoyProxy (public load balancer on the reserved address, replicas, PDB) and the
    `serving-public` Gateway in the gateway namespace.

    Guarantees: HTTPS only (no port 80 listener), TLS terminated with a certificate cert-manager
    issues for the listener hostname from `cluster_issuer`; only routes of `route_namespace`
    attach; the load balancer uses the addresses in `service_annotations`.
    """

    gateway_name: pulumi.Output[str]

    def __init__(self, name: str, args: PublicGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:PublicGateway", name, None, opts)
        labels = object_labels(args.tags)
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))
        proxy = k8s.apiextensions.CustomResource(
            f"{name}-proxy",
            api_version=ENVOY_GATEWAY_API,
            kind="EnvoyProxy",
            metadata={"name": _PROXY_CONFIG, "namespace": NAMESPACE, "labels": labels},
            spec=_proxy_spec(args),
            opts=after,
        )
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API,
            kind="Gateway",
            metadata={
                "name": PUBLIC_GATEWAY,
                "namespace": NAMESPACE,
                "labels": labels,
                "annotations": {"cert-manager.io/cluster-issuer": args.cluster_issuer},
            },
            spec={
                "gatewayClassName": GATEWAY_CLASS,
                "infrastructure": {"parametersRef": {
                    "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": _PROXY_CONFIG}},
                "listeners": [{
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443,
                    "hostname": args.hostname,
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"group": "", "kind": "Secret", "name": _TLS_SECRET}],
                    },
                    "allowedRoutes": {
                        "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                        "namespaces": {
                            "from": "Selector",
                            "selector": {"matchLabels": {
                                "kubernetes.io/metadata.name": args.route_namespace}},
                        },
                    },
                }],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, proxy]),
        )
        self.gateway_name = known_name(gateway, PUBLIC_GATEWAY)
        self.register_outputs({"gateway_name": self.gateway_name})
