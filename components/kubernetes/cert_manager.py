"""cert-manager and the cluster's private CA.

Installs cert-manager (CRDs kept on uninstall, Gateway API support on, HA controller, webhook
and cainjector) and bootstraps a private CA: a self-signed `Issuer` signs one CA `Certificate`
in the cert-manager namespace, whose key pair backs the `ClusterIssuer` `platform-ca`. Every
in-cluster TLS certificate (the platform Gateway's first) is issued by that CA.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.objects import CERT_MANAGER_API, add_on_namespace, object_labels
from components.kubernetes.platform_ca import CaMaterial
from components.tags import StandardTags

NAMESPACE = "cert-manager"
CLUSTER_ISSUER = "platform-ca"
_BOOTSTRAP_ISSUER = "platform-ca-bootstrap"
#: Secret holding the CA key pair; a CA ClusterIssuer reads it from cert-manager's own namespace.
_CA_SECRET = "platform-ca"


def _values() -> dict:
    ha = {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}
    return {
        "crds": {"enabled": True, "keep": True},
        **ha,
        "resources": container_resources("50m", "128Mi", "500m", "512Mi"),
        # The chart's ControllerConfiguration; enableGatewayAPI turns on the gateway-shim that
        # issues a Certificate for every Gateway listener annotated with an issuer.
        "config": {
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "enableGatewayAPI": True,
        },
        "webhook": {**ha, "resources": container_resources("20m", "64Mi", "200m", "256Mi")},
        "cainjector": {**ha, "resources": container_resources("20m", "128Mi", "500m", "512Mi")},
        "startupapicheck": {"resources": container_resources("10m", "32Mi", "100m", "128Mi")},
    }


def install_cert_manager(
    name: str,
    cluster_name: str,
    tags: StandardTags,
    parent: pulumi.Resource,
    gateway_api: Sequence[pulumi.Resource],
    ca: CaMaterial | None = None,
) -> tuple[k8s.helm.v3.Release, k8s.apiextensions.CustomResource]:
    """The cert-manager release and the `platform-ca` ClusterIssuer (in that order).

    `gateway_api` are the resources that install the Gateway API CRDs: cert-manager only
    watches Gateways if those CRDs exist when its controller starts. With `ca` (the platform's
    intermediate for this cluster) the issuer signs with it; without, the cluster bootstraps
    a self-signed CA of its own (a standalone cluster nobody else needs to trust).
    """
    ns = add_on_namespace(f"{name}-namespace", NAMESPACE, tags, "restricted", parent)
    release = pinned_release(
        f"{name}-release", "cert-manager", NAMESPACE, _values(), parent, [ns, *gateway_api]
    )
    labels = object_labels(tags)
    ca_ready = (_platform_ca_secret(name, ca, labels, parent, release) if ca is not None
                else _self_signed_ca(name, cluster_name, labels, parent, release))
    issuer = k8s.apiextensions.CustomResource(
        f"{name}-cluster-issuer",
        api_version=CERT_MANAGER_API,
        kind="ClusterIssuer",
        metadata={"name": CLUSTER_ISSUER, "labels": labels},
        spec={"ca": {"secretName": _CA_SECRET}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[release, ca_ready]),
    )
    return release, issuer


def _platform_ca_secret(name: str, ca: CaMaterial, labels: dict[str, str],
                        parent: pulumi.Resource, release: pulumi.Resource) -> k8s.core.v1.Secret:
    """The issuer's key pair from the platform PKI; tls.crt carries the chain up to the root."""
    return k8s.core.v1.Secret(
        f"{name}-ca-secret",
        metadata={"name": _CA_SECRET, "namespace": NAMESPACE, "labels": labels},
        type="kubernetes.io/tls",
        string_data={
            "tls.crt": pulumi.Output.concat(ca.cert_pem, ca.root_pem),
            "tls.key": ca.key_pem,
            "ca.crt": ca.root_pem,
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[release]),
    )


def _self_signed_ca(name: str, cluster_name: str, labels: dict[str, str],
                    parent: pulumi.Resource, release: pulumi.Resource) -> pulumi.Resource:
    """A CA of this cluster only: a self-signed Issuer signs one CA Certificate."""
    after_release = pulumi.ResourceOptions(parent=parent, depends_on=[release])
    bootstrap = k8s.apiextensions.CustomResource(
        f"{name}-bootstrap-issuer",
        api_version=CERT_MANAGER_API,
        kind="Issuer",
        metadata={"name": _BOOTSTRAP_ISSUER, "namespace": NAMESPACE, "labels": labels},
        spec={"selfSigned": {}},
        opts=after_release,
    )
    ca = k8s.apiextensions.CustomResource(
        f"{name}-ca-certificate",
        api_version=CERT_MANAGER_API,
        kind="Certificate",
        metadata={"name": _CA_SECRET, "namespace": NAMESPACE, "labels": labels},
        spec={
            "isCA": True,
            "commonName": f"{cluster_name} platform CA",
            "subject": {"organizations": ["hybrid-ml-platform"]},
            "secretName": _CA_SECRET,
            # Three years, renewed 90 days ahead: long enough that trust distribution is rare,
            # short enough that a leaked key does not stay trusted for a decade.
            "duration": "26280h",
            "renewBefore": "2160h",
            "privateKey": {"algorithm": "ECDSA", "size": 384, "rotationPolicy": "Always"},
            "issuerRef": {"name": _BOOTSTRAP_ISSUER, "kind": "Issuer", "group": "cert-manager.io"},
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[release, bootstrap]),
    )
    return ca
