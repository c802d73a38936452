"""A platform namespace: Pod Security, a quota, container defaults and default-deny networking.

`PlatformNamespace` is what every platform service and every team environment lives in. The
labelling and NetworkPolicy helpers it shares with every other object are in `objects.py`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.kubernetes.objects import (
    PLATFORM_NAMESPACE_LABEL,
    RESERVED_NAMESPACES,
    PodSecurityLevel,
    in_namespace,
    known_name,
    network_policy,
    object_labels,
    pod_security_labels,
    quantity,
)
from components.naming import DNS_LABEL
from components.tags import StandardTags


def _check_quantity(value: str) -> str:
    quantity(value)
    return value


class NamespaceQuota(BaseModel):
    """The namespace's ResourceQuota (`spec.hard`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_cpu: str = Field(description="requests.cpu: total CPU requested, e.g. `16`.")
    requests_memory: str = Field(
        description="requests.memory: total memory requested, e.g. `64Gi`."
    )
    limits_cpu: str = Field(description="limits.cpu: total CPU limit, at least requests_cpu.")
    limits_memory: str = Field(
        description="limits.memory: total memory limit, at least requests_memory."
    )
    requests_gpu: int = Field(
        default=0, ge=0, description="requests.nvidia.com/gpu: whole GPUs (0 forbids GPU pods)."
    )
    pods: int = Field(default=100, ge=1, description="Maximum pods.")
    persistentvolumeclaims: int = Field(
        default=20, ge=0, description="Maximum PersistentVolumeClaims."
    )
    requests_storage: str = Field(default="500Gi", description="requests.storage: total PVC size.")

    check_quantities = field_validator(
        "requests_cpu", "requests_memory", "limits_cpu", "limits_memory", "requests_storage"
    )(_check_quantity)

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> NamespaceQuota:
        for kind in ("cpu", "memory"):
            req, lim = getattr(self, f"requests_{kind}"), getattr(self, f"limits_{kind}")
            if quantity(lim) < quantity(req):
                raise ValueError(f"quota limits.{kind} {lim} is below requests.{kind} {req}")
        return self

    def hard(self) -> dict[str, str]:
        return {
            "requests.cpu": self.requests_cpu,
            "requests.memory": self.requests_memory,
            "limits.cpu": self.limits_cpu,
            "limits.memory": self.limits_memory,
            "requests.nvidia.com/gpu": str(self.requests_gpu),
            "pods": str(self.pods),
            "persistentvolumeclaims": str(self.persistentvolumeclaims),
            "requests.storage": self.requests_storage,
        }


class ContainerDefaults(BaseModel):
    """The namespace's LimitRange for containers: what a container gets when it says nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_request_cpu: str = Field(default="100m", description="CPU request when none is set.")
    default_request_memory: str = Field(
        default="256Mi", description="Memory request when none is set."
    )
    default_cpu: str = Field(default="1", description="CPU limit when none is set.")
    default_memory: str = Field(default="1Gi", description="Memory limit when none is set.")
    max_cpu: str = Field(default="16", description="Largest CPU limit one container may have.")
    max_memory: str = Field(
        default="128Gi", description="Largest memory limit one container may have."
    )

    check_quantities = field_validator("*")(_check_quantity)

    @model_validator(mode="after")
    def _ordered(self) -> ContainerDefaults:
        for kind in ("cpu", "memory"):
            req, lim, top = (
                getattr(self, f"{p}_{kind}") for p in ("default_request", "default", "max")
            )
            if not quantity(req) <= quantity(lim) <= quantity(top):
                raise ValueError(
                    f"container {kind} defaults must satisfy default request ({req}) "
                    f"<= default limit ({lim}) <= max ({top})"
                )
        return self


class EgressAllowance(BaseModel):
    """Extra egress out of the namespace: destination ranges and ports (storage, databases)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=DNS_LABEL,
        max_length=40,
        description="Short name; the NetworkPolicy is `allow-egress-<name>`.",
    )
    cidrs: tuple[str, ...] = Field(min_length=1, description="Destination CIDRs (never a /0).")
    ports: tuple[int, ...] = Field(min_length=1, description="Destination ports.")
    protocol: Literal["TCP", "UDP"] = Field(default="TCP", description="Transport protocol.")

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=True)
            if network.prefixlen == 0:
                raise ValueError(f"{cidr} opens egress to everywhere; name the destination ranges")
        return cidrs

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: tuple[int, ...]) -> tuple[int, ...]:
        bad = [p for p in ports if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"ports must be 1-65535; got {bad}")
        return ports


class NamespaceSpec(BaseModel):
    """What a platform namespace is, without the tags (callers supply those)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=DNS_LABEL, max_length=63, description="Namespace name (DNS label).")
    quota: NamespaceQuota = Field(description="ResourceQuota of the namespace.")
    defaults: ContainerDefaults = Field(
        default_factory=ContainerDefaults,
        description="LimitRange defaults and maxima for containers.",
    )
    allow_from_namespaces: tuple[str, ...] = Field(
        default=(), description="Namespaces whose pods may connect in (e.g. gateway, monitoring)."
    )
    allow_from_pods: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Narrows an allowed namespace to the pods with these labels, e.g. "
        "{'monitoring': {'app.kubernetes.io/name': 'prometheus'}}: only Prometheus scrapes.",
    )
    allow_egress_cidrs: tuple[EgressAllowance, ...] = Field(
        default=(), description="Extra egress beyond DNS and the namespace itself."
    )
    pod_security: PodSecurityLevel = Field(
        default="restricted", description="Pod Security Standard enforced."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="More labels of the Namespace itself, e.g. the team it belongs to (what "
        "controllers such as Kueue select namespaces by).",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMESPACES or name.startswith("kube-"):
            raise ValueError(f"{name!r} is a Kubernetes system namespace")
        return name

    @field_validator("allow_from_namespaces")
    @classmethod
    def _namespaces(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in names if not re.match(DNS_LABEL, n) or len(n) > 63]
        if bad:
            raise ValueError(f"not namespace names: {bad}")
        return tuple(dict.fromkeys(names))

    @field_validator("allow_egress_cidrs")
    @classmethod
    def _unique_egress(cls, rules: tuple[EgressAllowance, ...]) -> tuple[EgressAllowance, ...]:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"egress allowance names must be unique; got {names}")
        return rules


class PlatformNamespaceArgs(NamespaceSpec):
    """Arguments of a PlatformNamespace."""

    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")


def namespace_labels(tags: StandardTags, level: PodSecurityLevel) -> dict[str, str]:
    """Labels of a platform namespace: standard labels, Pod Security at `level`, and the
    platform-namespace label the Gateway admits routes by."""
    return {**object_labels(tags), **pod_security_labels(level), PLATFORM_NAMESPACE_LABEL: "true"}


def limit_range_spec(defaults: ContainerDefaults) -> dict:
    """The LimitRange spec: container defaults, default requests and maxima."""
    d = defaults
    return {
        "limits": [
            {
                "type": "Container",
                "default": {"cpu": d.default_cpu, "memory": d.default_memory},
                "defaultRequest": {
                    "cpu": d.default_request_cpu,
                    "memory": d.default_request_memory,
                },
                "max": {"cpu": d.max_cpu, "memory": d.max_memory},
            }
        ]
    }


def baseline_policy_specs() -> dict[str, dict]:
    """NetworkPolicy name -> spec of the policies every platform namespace has: deny all,
    then allow DNS and traffic inside the namespace."""
    return {
        "default-deny": {"policyTypes": ["Ingress", "Egress"]},
        # kube-dns pods carry k8s-app=kube-dns on EKS (CoreDNS add-on), GKE, AKS and kubeadm alike.
        "allow-dns": {
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            **in_namespace("kube-system"),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-same-namespace": {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
    }


def ingress_policy_specs(
    namespaces: tuple[str, ...], pods: dict[str, dict[str, str]]
) -> dict[str, dict]:
    """`allow-from-<ns>` per allowed namespace, narrowed to the pods `pods` names for it."""
    specs = {}
    for source in namespaces:
        peer = in_namespace(source)
        if source in pods:
            peer["podSelector"] = {"matchLabels": dict(pods[source])}
        specs[f"allow-from-{source}"] = {"policyTypes": ["Ingress"], "ingress": [{"from": [peer]}]}
    return specs


def egress_policy_specs(rules: tuple[EgressAllowance, ...]) -> dict[str, dict]:
    """`allow-egress-<name>` per egress allowance: its CIDRs on its ports."""
    return {
        f"allow-egress-{rule.name}": {
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": c}} for c in rule.cidrs],
                    "ports": [{"protocol": rule.protocol, "port": p} for p in rule.ports],
                }
            ],
        }
        for rule in rules
    }


def network_policy_specs(spec: NamespaceSpec) -> dict[str, dict]:
    """Every NetworkPolicy of the namespace, name -> spec, in creation order."""
    return {
        **baseline_policy_specs(),
        **ingress_policy_specs(spec.allow_from_namespaces, spec.allow_from_pods),
        **egress_policy_specs(spec.allow_egress_cidrs),
    }


class PlatformNamespace(pulumi.ComponentResource):
    """A namespace with guard rails.

    Creates the Namespace (Pod Security Admission enforced at `pod_security`, pinned version),
    a ResourceQuota, a LimitRange, and NetworkPolicies: `default-deny` (all ingress and egress),
    `allow-dns` (egress to kube-dns on 53/UDP+TCP), `allow-same-namespace`, `allow-from-<ns>` per
    allowed namespace and `allow-egress-<name>` per egress allowance. Guarantees: nothing enters
    or leaves the namespace unless listed; no container runs without requests and limits.
    """

    namespace_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: PlatformNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("hybridml:kubernetes:PlatformNamespace", name, None, opts)
        ns_name = args.name
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ns_name,
                      "labels": {**args.labels, **namespace_labels(args.tags, args.pod_security)}},
            opts=pulumi.ResourceOptions(parent=self),
        )
        inside = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        meta = {"namespace": ns_name, "labels": object_labels(args.tags)}
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata={"name": "platform-quota", **meta},
            spec={"hard": args.quota.hard()},
            opts=inside,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata={"name": "container-defaults", **meta},
            spec=limit_range_spec(args.defaults),
            opts=inside,
        )
        for role, spec in network_policy_specs(args).items():
            network_policy(f"{name}-{role}", role, ns_name, args.tags, spec, self, depends_on=[ns])

        self.namespace_name = known_name(ns, ns_name)
        self.register_outputs({"namespace_name": self.namespace_name})
