"""The add-ons every cluster gets, cloud or on-prem, through one component.

`ClusterAddons` takes what differs per site as arguments (the StorageClass provisioner, whether
metrics-server or the GPU operator is needed, how GPU drivers arrive) and installs the rest the
same way everywhere, so a workload written once runs on EKS, GKE, AKS and on-prem.
"""

from __future__ import annotations

import re
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.kubernetes import cert_manager, gateway, gpu_stack
from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.cluster_spec import StorageClassSpec
from components.kubernetes.gpu_pool import GpuPoolSpec, wants_mig
from components.kubernetes.namespace import NamespaceSpec, PlatformNamespace, PlatformNamespaceArgs
from components.kubernetes.objects import add_on_namespace, known_name, object_labels
from components.kubernetes.platform_ca import CaMaterial
from components.tags import StandardTags

STORAGE_CLASS = "encrypted"
METRICS_SERVER_NAMESPACE = "metrics-server"
#: Namespaces whose pods reach every platform namespace: the gateway's proxies, and Prometheus.
INGRESS_SOURCES = (gateway.NAMESPACE, "monitoring")
#: From monitoring only Prometheus itself (the operator labels its pods so) may connect: Grafana
#: and the rest of that namespace have no business with MLflow or Kafka, which trust the network.
INGRESS_PODS = {"monitoring": {"app.kubernetes.io/name": "prometheus"}}
_ADD_ON_NAMESPACES = (
    cert_manager.NAMESPACE,
    gateway.NAMESPACE,
    gpu_stack.NAMESPACE,
    METRICS_SERVER_NAMESPACE,
)
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$"
)


class ClusterAddonsArgs(BaseModel):
    """Arguments of ClusterAddons."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$",
        description="Cluster name; a DNS label, part of the gateway hostname.",
    )
    site: Literal["aws", "gcp", "azure", "onprem"] = Field(description="Where the cluster runs.")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    storage_class: InstanceOf[StorageClassSpec] = Field(
        description="CSI provisioner and encryption parameters of the default StorageClass."
    )
    metrics_server: bool = Field(
        description="Install metrics-server (EKS, on-prem; GKE/AKS ship one)."
    )
    gpu_stack: Literal["none", "operator", "gke-managed"] = Field(
        description="none; operator (NVIDIA GPU operator: EKS, AKS, on-prem); gke-managed (GKE)."
    )
    gpu_driver: bool = Field(
        default=False,
        description="operator only: install the NVIDIA driver (not on EKS's GPU AMI).",
    )
    gpu_toolkit: bool = Field(
        default=False, description="operator only: install the NVIDIA container toolkit."
    )
    gpu_pools: tuple[GpuPoolSpec, ...] = Field(default=(), description="The cluster's GPU pools.")
    base_domain: str = Field(
        description="DNS zone; the gateway serves *.<cluster_name>.<base_domain>."
    )
    platform_namespaces: tuple[NamespaceSpec, ...] = Field(
        default=(), description="Platform namespaces; each admits the gateway and monitoring."
    )
    platform_ca: InstanceOf[CaMaterial] | None = Field(
        default=None,
        description="This cluster's intermediate of the platform root CA, for the `platform-ca` "
        "issuer; None: the cluster bootstraps a self-signed CA only it trusts.",
    )

    @field_validator("base_domain")
    @classmethod
    def _domain(cls, domain: str) -> str:
        if not _DNS_NAME.match(domain):
            raise ValueError(
                f"base domain {domain!r} is not a lowercase DNS name like ml.example.internal"
            )
        return domain

    @field_validator("storage_class")
    @classmethod
    def _provisioner(cls, spec: StorageClassSpec) -> StorageClassSpec:
        if not spec.provisioner:
            raise ValueError("storage_class needs a CSI provisioner")
        return spec

    @model_validator(mode="after")
    def _consistent(self) -> ClusterAddonsArgs:
        problems = []
        wrong = [p.name for p in self.gpu_pools if p.target != self.site]
        if wrong:
            problems.append(f"GPU pools {wrong} are not {self.site} pools")
        if self.gpu_stack == "gke-managed" and self.site != "gcp":
            problems.append("gpu_stack gke-managed exists only on gcp; use operator")
        if self.gpu_pools and self.gpu_stack == "none":
            problems.append("GPU pools need a GPU stack (operator, or gke-managed on gcp)")
        if self.gpu_stack != "operator" and (self.gpu_driver or self.gpu_toolkit):
            problems.append("gpu_driver and gpu_toolkit apply only with gpu_stack operator")
        if wants_mig(list(self.gpu_pools)) and self.gpu_stack != "operator":
            problems.append("MIG outside GKE needs gpu_stack operator (its MIG manager)")
        names = [n.name for n in self.platform_namespaces]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"platform namespaces {dupes} are listed twice")
        taken = sorted(set(names) & set(_ADD_ON_NAMESPACES))
        if taken:
            problems.append(f"platform namespaces {taken} clash with add-on namespaces")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def gateway_hostname(self) -> str:
        return f"*.{self.cluster_name}.{self.base_domain}"


class ClusterAddons(pulumi.ComponentResource):
    """cert-manager with a private CA ClusterIssuer, Envoy Gateway with a TLS-only Gateway,
    metrics-server where missing, the GPU operator where needed, the default StorageClass and
    the platform namespaces.

    Guarantees: every chart pinned (`charts.CHARTS`), installed atomically into a namespace with
    Pod Security enforced (privileged only for the GPU operator); the Gateway serves HTTPS only,
    with a certificate from the cluster's CA; the default StorageClass encrypts (per the site's
    parameters), retains volumes on claim deletion and binds in the consuming pod's zone.
    """

    gateway_name: pulumi.Output[str]
    cluster_issuer_name: pulumi.Output[str]
    storage_class_name: pulumi.Output[str]
    namespaces: dict[str, PlatformNamespace]
    releases: dict[str, k8s.helm.v3.Release]

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("hybridml:kubernetes:ClusterAddons", name, None, opts)
        tags = args.tags
        releases: dict[str, k8s.helm.v3.Release] = {}

        # Gateway API CRDs first: cert-manager enables its Gateway support only if they exist.
        releases["envoy-gateway"], gateway_class = gateway.install_envoy_gateway(
            f"{name}-envoy-gateway", args.site, tags, self
        )
        releases["cert-manager"], issuer = cert_manager.install_cert_manager(
            f"{name}-cert-manager", args.cluster_name, tags, self, [releases["envoy-gateway"]],
            args.platform_ca,
        )
        platform_gateway = gateway.platform_gateway(
            f"{name}-gateway",
            args.gateway_hostname,
            cert_manager.CLUSTER_ISSUER,
            tags,
            self,
            [releases["envoy-gateway"], gateway_class, releases["cert-manager"], issuer],
        )
        if args.metrics_server:
            releases["metrics-server"] = metrics_server(f"{name}-metrics-server", tags, self)
        # gke-managed: GKE installs driver, device plugin and DCGM itself; none: no GPUs.
        if args.gpu_stack == "operator":
            releases["gpu-operator"] = gpu_stack.install_gpu_operator(
                f"{name}-gpu-operator",
                args.gpu_pools,
                args.gpu_driver,
                args.gpu_toolkit,
                tags,
                self,
            )
        storage_class = default_storage_class(
            f"{name}-storage-class", args.storage_class, tags, self
        )
        self.namespaces = platform_namespaces(name, args.platform_namespaces, tags, self)

        self.releases = releases
        self.gateway_name = known_name(platform_gateway, gateway.GATEWAY)
        self.cluster_issuer_name = known_name(issuer, cert_manager.CLUSTER_ISSUER)
        self.storage_class_name = known_name(storage_class, STORAGE_CLASS)
        self.register_outputs(
            {
                "gateway_name": self.gateway_name,
                "cluster_issuer_name": self.cluster_issuer_name,
                "storage_class_name": self.storage_class_name,
            }
        )


def metrics_server_values() -> dict:
    """Helm values of metrics-server: two replicas kept by a PodDisruptionBudget, bounded."""
    return {
        "replicas": 2,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": container_resources("100m", "200Mi", "500m", "500Mi"),
    }


def metrics_server(name: str, tags: StandardTags, parent: pulumi.Resource) -> k8s.helm.v3.Release:
    """metrics-server in its own restricted namespace."""
    ns = add_on_namespace(f"{name}-namespace", METRICS_SERVER_NAMESPACE, tags, "restricted", parent)
    return pinned_release(
        f"{name}-release",
        "metrics-server",
        METRICS_SERVER_NAMESPACE,
        metrics_server_values(),
        parent,
        [ns],
    )


def storage_class_settings(spec: StorageClassSpec) -> dict:
    """The default StorageClass's inputs beyond its metadata: the site's provisioner and
    encryption parameters; volumes retained, bound in the pod's zone, expandable."""
    return {
        "provisioner": spec.provisioner,
        "parameters": dict(spec.parameters),
        # Retain: deleting a claim (or the namespace) must never delete training data.
        "reclaim_policy": "Retain",
        # Bind where the pod lands, so zonal disks are created in the pod's zone.
        "volume_binding_mode": "WaitForFirstConsumer",
        "allow_volume_expansion": True,
    }


def default_storage_class(
    name: str, spec: StorageClassSpec, tags: StandardTags, parent: pulumi.Resource
) -> k8s.storage.v1.StorageClass:
    """The cluster's default StorageClass `encrypted`."""
    return k8s.storage.v1.StorageClass(
        name,
        metadata={
            "name": STORAGE_CLASS,
            "labels": object_labels(tags),
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        **storage_class_settings(spec),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def platform_namespace_args(spec: NamespaceSpec, tags: StandardTags) -> PlatformNamespaceArgs:
    """A platform namespace's arguments: its spec, admitting the gateway and Prometheus too."""
    return PlatformNamespaceArgs(
        **{
            **spec.model_dump(),
            "tags": tags,
            "allow_from_namespaces": (*spec.allow_from_namespaces, *INGRESS_SOURCES),
            "allow_from_pods": {**INGRESS_PODS, **spec.allow_from_pods},
        }
    )


def platform_namespaces(
    name: str, specs: tuple[NamespaceSpec, ...], tags: StandardTags, parent: pulumi.Resource
) -> dict[str, PlatformNamespace]:
    """One `PlatformNamespace` per spec, by namespace name."""
    return {
        spec.name: PlatformNamespace(
            f"{name}-ns-{spec.name}",
            platform_namespace_args(spec, tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for spec in specs
    }
