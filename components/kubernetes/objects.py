"""Helpers every Kubernetes object of the platform uses: labels, Pod Security, quantities,
extra NetworkPolicy allow rules and namespace peers.

One definition of each, shared by the add-ons, the platform services and team environments.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from components.tags import StandardTags, k8s_labels

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]

#: Pod Security Standards version enforced. Pinned to the clusters' minor version so a cluster
#: upgrade never tightens admission under running workloads; audit and warn follow `latest`,
#: so what the next version would reject shows up in audit logs and kubectl warnings first.
POD_SECURITY_VERSION = "v1.33"
#: Label every PlatformNamespace carries; the platform Gateway admits routes only from these.
PLATFORM_NAMESPACE_LABEL = "hybridml.io/platform-namespace"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: Namespaces Kubernetes itself owns; no platform or team namespace may take these names.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(" + "|".join(s for s in _SUFFIXES if s) + r")?$")


def quantity(value: str) -> Decimal:
    """A Kubernetes quantity string (`500m`, `2`, `64Gi`) as a number; ValueError if malformed."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 64Gi)")
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]


def object_labels(tags: StandardTags) -> dict[str, str]:
    """`metadata.labels` of every object the platform creates: standard tags plus who manages it."""
    return {
        **k8s_labels(tags),
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/part-of": "hybrid-ml-platform",
    }


def pod_security_labels(level: PodSecurityLevel) -> dict[str, str]:
    """Pod Security Admission labels: enforce at the pinned version, audit and warn at latest."""
    prefix = "pod-security.kubernetes.io"
    return {
        f"{prefix}/enforce": level,
        f"{prefix}/enforce-version": POD_SECURITY_VERSION,
        f"{prefix}/audit": level,
        f"{prefix}/audit-version": "latest",
        f"{prefix}/warn": level,
        f"{prefix}/warn-version": "latest",
    }


def known_name(resource: pulumi.Resource, name: str) -> pulumi.Output[str]:
    """`name` as an Output that depends on `resource`: known at preview, ordered after it."""
    return resource.urn.apply(lambda _: name)


def add_on_namespace(
    resource_name: str,
    name: str,
    tags: StandardTags,
    level: PodSecurityLevel,
    parent: pulumi.Resource,
) -> k8s.core.v1.Namespace:
    """A namespace for an add-on chart, created explicitly (never by Helm) with its PSA level."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata={"name": name, "labels": {**object_labels(tags), **pod_security_labels(level)}},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def network_policy(
    resource_name: str,
    name: str,
    namespace: str,
    tags: StandardTags,
    spec: dict,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
    pod_selector: dict | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """An extra allow rule in a platform namespace (NetworkPolicies add up; default-deny stays).

    `spec` holds `policyTypes` and `ingress`/`egress`; `pod_selector` narrows it to some pods
    (default: every pod of the namespace).
    """
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": name, "namespace": namespace, "labels": object_labels(tags)},
        spec={"podSelector": pod_selector or {}, **spec},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )


def in_namespace(name: str) -> dict:
    """A NetworkPolicy peer selecting every pod of namespace `name`."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}


# API versions of the custom resources the platform creates, each the version the pinned
# chart's CRDs serve (components/kubernetes/charts.py); one definition each.
GATEWAY_API = "gateway.networking.k8s.io/v1"
ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"
MONITORING_API = "monitoring.coreos.com/v1"
MONITORING_ALPHA_API = "monitoring.coreos.com/v1alpha1"
CERT_MANAGER_API = "cert-manager.io/v1"


class TopLevelObject(pulumi.CustomResource):
    """A custom resource whose fields sit beside `metadata` rather than under `spec` (Kueue's
    WorkloadPriorityClass: `value`, `description`), which `apiextensions.CustomResource` cannot
    express. The same type token and wire shape as CustomResource
    (`kubernetes:<apiVersion>:<kind>`, inputs = the object), as the Node SDK sends them."""

    def __init__(self, resource_name: str, api_version: str, kind: str, metadata: dict,
                 fields: dict, opts: pulumi.ResourceOptions | None = None):
        if {"apiVersion", "kind", "metadata"} & set(fields):
            raise ValueError("fields may not repeat apiVersion, kind or metadata")
        super().__init__(f"kubernetes:{api_version}:{kind}", resource_name,
                         {"apiVersion": api_version, "kind": kind, "metadata": metadata,
                          **fields}, opts)
