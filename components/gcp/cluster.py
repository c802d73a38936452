"""A private, hardened regional GKE Standard cluster with a system pool and GPU pools."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.gcp.cluster_kms import ClusterKey, cluster_key
from components.gcp.gpu_pool import (
    GpuNodePool,
    GpuNodePoolArgs,
    autoscaled_node_pool,
    hardened_node_config,
)
from components.gcp.network import PODS_RANGE, SERVICES_RANGE
from components.kubernetes.cluster_spec import ApiAccess, StorageClassSpec, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec, pool_problems
from components.tags import StandardTags, gcp_labels

_GCP_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
#: GKE's managed DCGM metrics need GKE 1.30 or later (and GKE-managed GPU drivers).
_MIN_MINOR = 30
#: Least privilege for nodes (GKE hardening guide): write logs and metrics, read monitoring
#: config, write resource metadata, pull images from Artifact Registry. Nothing else.
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
PD_CSI_PROVISIONER = "pd.csi.storage.gke.io"


def node_account_id(cluster_name: str) -> str:
    """The node service account id (6-30 chars), unique per cluster name."""
    if len(cluster_name) <= 24:
        return f"{cluster_name}-nodes"
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:8]
    return f"{cluster_name[:21].rstrip('-')}-{digest}"


class KubernetesClusterArgs(BaseModel):
    """Arguments of one GKE cluster."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(pattern=_GCP_NAME, max_length=30,
                        description="Name prefix of the platform's resources, e.g. `hml-prod`; "
                                    "the cluster's own resources are named after cluster_name.")
    cluster_name: str = Field(pattern=_GCP_NAME, max_length=40,
                              description="GKE cluster name, e.g. `hml-prod-gcp-europe-west4`.")
    project: str = Field(description="GCP project id that owns the cluster.")
    project_number: str = Field(pattern=r"^[0-9]{6,20}$",
                                description="Project number; names the GKE and Compute Engine "
                                            "service agents that use the cluster's key.")
    region: str = Field(description="Region of the (regional) cluster, its key and its pools.")
    kubernetes_version: str = Field(
        pattern=r"^1\.[0-9]{2}$",
        description="Kubernetes minor, e.g. `1.33`: the control plane's minimum version; the "
                    "release channel picks the patch and node pools follow the control plane.")
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        default="REGULAR", description="GKE release channel (auto-upgrades within it).")
    tags: StandardTags = Field(description="Standard tags, applied as GCP labels.")
    protect: bool = Field(description="Protect the KMS key ring and key and set the cluster's "
                          "deletion protection.")
    network_self_link: pulumi.Output[str] | str = Field(description="Self link or id of the VPC.")
    subnet_self_link: pulumi.Output[str] | str = Field(
        description="Self link or id of the region's subnetwork (nodes on its primary range).")
    pods_range_name: str = Field(default=PODS_RANGE,
                                 description="Secondary range of the subnetwork for pod IPs.")
    services_range_name: str = Field(default=SERVICES_RANGE,
                                     description="Secondary range of the subnetwork for services.")
    api_access: ApiAccess = Field(description="Who reaches the Kubernetes API server.")
    system_pool: SystemPoolSpec = Field(description="The always-on, untainted system pool.")
    gpu_pools: tuple[GpuPoolSpec, ...] = Field(default=(), description="GPU pools (target gcp).")
    security_group: str | None = Field(
        default=None, pattern=r"^gke-security-groups@[a-z0-9.-]+\.[a-z]{2,}$",
        description="Google Groups for RBAC: the `gke-security-groups@<domain>` group whose "
        "member groups RBAC bindings may name by e-mail; None: RBAC sees users only.")
    gpu_zones: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="GPU pool name -> zones of `region` offering its GPU; pools not named here "
                    "use the cluster's default zones.")

    @model_validator(mode="after")
    def _consistent(self) -> KubernetesClusterArgs:
        problems: list[str] = []
        minor = int(self.kubernetes_version.split(".")[1])
        if minor < _MIN_MINOR:
            problems.append(f"kubernetes_version {self.kubernetes_version} is too old; GKE's "
                            f"managed DCGM metrics need 1.{_MIN_MINOR} or later")
        names = [p.name for p in self.gpu_pools]
        problems += pool_problems("gcp", self.gpu_pools)
        problems += [f"gpu_zones names {n!r}, which is not a gpu pool; pools: {', '.join(names)}"
                     for n in self.gpu_zones if n not in names]
        problems += [f"gpu_zones.{n}: {z!r} is not a zone of {self.region}"
                     for n, zones in self.gpu_zones.items() for z in zones
                     if not re.fullmatch(rf"{re.escape(self.region)}-[a-z]", z)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def workload_pool(self) -> str:
        return f"{self.project}.svc.id.goog"


def authorized_networks(access: ApiAccess) -> dict[str, Any]:
    """The control plane's authorized networks: admin ranges, plus the public ranges in
    restricted mode; enforced on the private endpoint, never Google's public ranges."""
    blocks = [{"cidr_block": c, "display_name": f"admin-{i}"}
              for i, c in enumerate(access.admin_cidrs)]
    if access.mode == "restricted":
        blocks += [{"cidr_block": c, "display_name": f"public-{i}"}
                   for i, c in enumerate(access.public_cidrs)]
    return {
        "cidr_blocks": blocks,
        # Google Cloud's own public IPs (any customer's VMs) are not an admin network.
        "gcp_public_cidrs_access_enabled": False,
        # Without this anything inside the VPC reaches the private endpoint unchecked.
        "private_endpoint_enforcement_enabled": True,
    }


def render_kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig authenticating through `gke-gcloud-auth-plugin` (no static credentials)."""
    user = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        "installHint": "Install gke-gcloud-auth-plugin: gcloud components install "
                       "gke-gcloud-auth-plugin",
        "provideClusterInfo": True,
    }}
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name,
                      "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }, indent=2)


class KubernetesCluster(pulumi.ComponentResource):
    """A regional GKE Standard cluster, private and hardened by default.

    Creates: a Cloud KMS key ring and 90-day-rotating key in the region (protected when
    `protect`), usable only by the GKE and Compute Engine service agents; a dedicated node
    service account with only the logging/monitoring/metadata/Artifact Registry read roles;
    the cluster; an autoscaled system pool; one `GpuNodePool` per GPU pool; a Kubernetes
    provider for the cluster.

    Guarantees: nodes have private IPs only (VPC-native on the network's pods/services
    ranges); the control plane endpoint is private in `private` mode, and in `restricted` mode
    public only to `public_cidrs`; authorized networks are enforced on the private endpoint too
    and never include 0.0.0.0/0 or Google's public ranges. Secrets in etcd, node boot disks and
    the default StorageClass's volumes are encrypted with the cluster's key. Workload Identity
    (`<project>.svc.id.goog`, GKE metadata server on every node), shielded nodes with secure
    boot, Dataplane V2 (enforces NetworkPolicy), the chosen release channel with node
    auto-upgrade and auto-repair, system/workload logs, Managed Prometheus and GKE's managed
    DCGM GPU metrics, deletion protection when `protect`. The kubeconfig is a secret and holds
    no credentials: it authenticates with `gke-gcloud-auth-plugin`.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    storage_class: StorageClassSpec
    workload_pool: str
    node_service_account_email: pulumi.Output[str]
    gpu_pools: dict[str, GpuNodePool]
    kms_key_id: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:KubernetesCluster", name, None, opts)
        labels = gcp_labels(args.tags)

        key = cluster_key(self, name, project=args.project, project_number=args.project_number,
                          region=args.region, cluster_name=args.cluster_name, tags=args.tags,
                          protect=args.protect)
        node_sa = node_service_account(name, args.cluster_name, args.project, self)
        cluster = gke_cluster(name, args, key, labels, self)
        system_pool = system_node_pool(name, args, cluster, node_sa, key, labels, self)
        self.gpu_pools = gpu_node_pools(name, args, cluster, node_sa, key, system_pool, self)

        self.kubeconfig = cluster_kubeconfig(cluster, args)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=args.cluster_name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.cluster_name = cluster.name
        self.workload_pool = args.workload_pool
        self.node_service_account_email = node_sa.email
        self.kms_key_id = key.key_id
        self.storage_class = pd_storage_class(key.disk_key_id)
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "workload_pool": self.workload_pool,
            "node_service_account_email": self.node_service_account_email,
            "kms_key_id": self.kms_key_id,
            "gpu_pools": {n: p.node_pool_name for n, p in self.gpu_pools.items()},
        })


def node_role_resource_name(name: str, role: str) -> str:
    """The resource name of the node account's binding to `role`, e.g. `<name>-nodes-logWriter`."""
    return f"{name}-nodes-{role.split('/')[1].replace('.', '-')}"


def node_service_account(
    name: str, cluster_name: str, project: str, parent: pulumi.Resource,
) -> gcp.serviceaccount.Account:
    """The nodes' dedicated service account, bound to `NODE_ROLES` only."""
    child = pulumi.ResourceOptions(parent=parent)
    node_sa = gcp.serviceaccount.Account(
        f"{name}-nodes",
        account_id=node_account_id(cluster_name),
        display_name=f"GKE nodes of {cluster_name}",
        project=project,
        opts=child,
    )
    member = pulumi.Output.concat("serviceAccount:", node_sa.email)
    for role in NODE_ROLES:
        gcp.projects.IAMMember(node_role_resource_name(name, role),
                               project=project, role=role, member=member, opts=child)
    return node_sa


def cluster_settings(args: KubernetesClusterArgs) -> dict[str, Any]:
    """The cluster's inputs that follow from the arguments alone: release channel, VPC-native
    networking, private nodes and endpoint, Workload Identity, Dataplane V2, logging and
    monitoring (Managed Prometheus, DCGM), security posture, deletion protection."""
    return {
        "name": args.cluster_name,
        "project": args.project,
        "location": args.region,
        "min_master_version": args.kubernetes_version,
        "release_channel": {"channel": args.release_channel},
        # The default pool cannot be hardened like ours; GKE needs one to create the cluster.
        "remove_default_node_pool": True,
        "initial_node_count": 1,
        "network": args.network_self_link,
        "subnetwork": args.subnet_self_link,
        "networking_mode": "VPC_NATIVE",
        "ip_allocation_policy": {"cluster_secondary_range_name": args.pods_range_name,
                                 "services_secondary_range_name": args.services_range_name},
        # Private Service Connect control plane: no master_ipv4_cidr_block or VPC peering;
        # the private endpoint is an address of the cluster's subnetwork.
        "private_cluster_config": {"enable_private_nodes": True,
                                   "enable_private_endpoint": args.api_access.mode == "private"},
        "master_authorized_networks_config": authorized_networks(args.api_access),
        "workload_identity_config": {"workload_pool": args.workload_pool},
        **({"authenticator_groups_config": {"security_group": args.security_group}}
           if args.security_group else {}),
        "enable_shielded_nodes": True,
        "datapath_provider": "ADVANCED_DATAPATH",
        "addons_config": {"gce_persistent_disk_csi_driver_config": {"enabled": True}},
        "logging_config": {"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
        "monitoring_config": {
            "enable_components": ["SYSTEM_COMPONENTS", "DCGM"],
            "managed_prometheus": {"enabled": True},
        },
        # Free configuration auditing; image scanning belongs to Artifact Analysis.
        "security_posture_config": {"mode": "BASIC",
                                    "vulnerability_mode": "VULNERABILITY_DISABLED"},
        "deletion_protection": args.protect,
    }


def gke_cluster(
    name: str, args: KubernetesClusterArgs, key: ClusterKey, labels: dict[str, str],
    parent: pulumi.Resource,
) -> gcp.container.Cluster:
    """The GKE cluster, its Secrets encrypted with the cluster key."""
    return gcp.container.Cluster(
        f"{name}-cluster",
        **cluster_settings(args),
        database_encryption={"state": "ENCRYPTED", "key_name": key.secrets_key_id},
        resource_labels=labels,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def system_node_pool(
    name: str, args: KubernetesClusterArgs, cluster: gcp.container.Cluster,
    node_sa: gcp.serviceaccount.Account, key: ClusterKey, labels: dict[str, str],
    parent: pulumi.Resource,
) -> gcp.container.NodePool:
    """The autoscaled, untainted system pool on hardened nodes."""
    system = args.system_pool
    return autoscaled_node_pool(
        f"{name}-system",
        parent=parent,
        pool_name="system",
        project=args.project,
        location=args.region,
        cluster=cluster.id,
        min_size=system.min_size,
        max_size=system.max_size,
        node_config=hardened_node_config(
            machine_type=system.machine_type,
            service_account=node_sa.email,
            kms_key_id=key.disk_key_id,
            disk_size_gb=system.disk_size_gb,
            labels={"hybridml.io/pool": "system"},
            resource_labels=labels,
        ),
    )


def gpu_node_pools(
    name: str, args: KubernetesClusterArgs, cluster: gcp.container.Cluster,
    node_sa: gcp.serviceaccount.Account, key: ClusterKey, system_pool: pulumi.Resource,
    parent: pulumi.Resource,
) -> dict[str, GpuNodePool]:
    """One `GpuNodePool` per GPU pool, by pool name, each after the system pool."""
    return {
        pool.name: GpuNodePool(
            f"{name}-gpu-{pool.name}",
            GpuNodePoolArgs(pool=pool, project=args.project, cluster_id=cluster.id,
                            location=args.region, node_service_account_email=node_sa.email,
                            kms_key_id=key.disk_key_id, tags=args.tags,
                            node_locations=args.gpu_zones.get(pool.name, ()),
                            wait_for=(system_pool,)),
            pulumi.ResourceOptions(parent=parent),
        )
        for pool in args.gpu_pools
    }


def cluster_kubeconfig(
    cluster: gcp.container.Cluster, args: KubernetesClusterArgs,
) -> pulumi.Output[str]:
    """The kubeconfig (a secret) for the private endpoint in private mode, else the public one."""
    endpoint = (
        cluster.private_cluster_config.apply(lambda c: c.private_endpoint if c else None)
        if args.api_access.mode == "private" else cluster.endpoint)
    ca = cluster.master_auth.apply(lambda a: a.cluster_ca_certificate if a else None)
    return pulumi.Output.secret(pulumi.Output.all(endpoint, ca).apply(
        lambda v: render_kubeconfig(args.cluster_name, v[0], v[1])))


def pd_storage_class(disk_key_id: pulumi.Input[str]) -> StorageClassSpec:
    """The default StorageClass of GKE: balanced persistent disks under the cluster's disk key."""
    return StorageClassSpec(
        provisioner=PD_CSI_PROVISIONER,
        parameters={"type": "pd-balanced", "disk-encryption-kms-key": disk_key_id},
    )
