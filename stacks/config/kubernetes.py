"""The `kubernetes` section of the stack config: clusters, GPU pools and platform namespaces.

Structure only; what the values mean (GPU type on that cloud, versions, overlaps with the
address plan) is checked in `stacks/cluster_validation.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.regions import AWS_REGIONS, AZURE_LOCATIONS, GCP_REGIONS
from stacks.config.base import Cidr, ConfigModel

_VERSION = r"^1\.\d{1,2}$"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"


class GpuPool(ConfigModel):
    """A GPU node pool; the same keys on every cloud and on-prem."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$")
    """Pool name, 1-12 lowercase alphanumerics (becomes the `hybridml.io/gpu-pool` label)."""
    gpu_type: str
    """GPU type, e.g. nvidia-l4, nvidia-a100-80gb (`hybrid-ml schema` lists none; see components/gpu_catalog.py)."""
    gpu_count: int = 1
    """GPUs per node."""
    machine_type: str | None = None
    """Cloud only: the instance type (AWS), machine type (GCP) or VM size (Azure) carrying the GPUs."""
    min_size: int = Field(default=0, ge=0)
    """Minimum nodes (0 lets the autoscaler scale the pool to zero)."""
    max_size: int = Field(default=1, ge=1)
    """Maximum nodes."""
    spot: bool = False
    """Spot/preemptible capacity: cheaper, can be reclaimed at any time."""
    disk_size_gb: int = Field(default=200, ge=50, le=4096)
    """Root disk size in GB (always encrypted)."""
    mig_profile: str | None = None
    """Partition every GPU into this MIG profile, e.g. 1g.10gb (A100/H100 only)."""
    time_slicing_replicas: int | None = None
    """Share every GPU between this many pods by time-slicing (2 or more)."""
    nodes: list[str] = Field(default_factory=list)
    """On-prem only: the existing GPU nodes of this pool (Kubernetes node names)."""


class SystemPool(ConfigModel):
    """The always-on pool for add-ons and platform services."""

    machine_type: str | None = None
    """Instance/machine/VM type; defaults per cloud (m6i.xlarge, e2-standard-4, Standard_D4ds_v5)."""
    min_size: int = Field(default=2, ge=1)
    """Minimum nodes."""
    max_size: int = Field(default=4, ge=1)
    """Maximum nodes."""
    disk_size_gb: int = Field(default=100, ge=30, le=2048)
    """OS disk size in GB (encrypted)."""


class CloudCluster(ConfigModel):
    """A managed cluster in one cloud region (inside that region's network)."""

    version: str | None = Field(default=None, pattern=_VERSION)
    """Kubernetes minor version, e.g. "1.33"; defaults to kubernetes.version."""
    api_access: Literal["private", "restricted"] = "private"
    """private: API endpoint only inside the network (reached over the VPN); restricted: also a
    public endpoint limited to publicCidrs."""
    public_cidrs: list[Cidr] = Field(default_factory=list)
    """restricted only: public ranges allowed to reach the public API endpoint."""
    system_pool: SystemPool = Field(default_factory=SystemPool)
    """The untainted pool running add-ons and platform services."""
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    """GPU node pools."""


class GkeCluster(CloudCluster):
    """A GKE cluster."""

    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """GKE release channel (automatic upgrades within the channel)."""
    security_group: str | None = Field(default=None, pattern=r"^gke-security-groups@[a-z0-9.-]+\.[a-z]{2,}$")
    """Google Groups for RBAC: `gke-security-groups@<your Workspace or Cloud Identity domain>`,
    the group whose member groups RBAC bindings may name by e-mail (teams on this cluster need
    it: their `googleGroup` is bound); unset, RBAC knows users only."""


class AksCluster(CloudCluster):
    """An AKS cluster."""

    admin_group_object_ids: list[str] = Field(min_length=1)
    """Entra ID group object ids whose members are cluster admins (Azure RBAC; local accounts are off)."""
    pod_cidr: Cidr
    """Overlay pod range (not routed outside the cluster, but must not overlap any network range)."""
    service_cidr: Cidr
    """Service range (must not overlap any network range); the DNS service takes its 10th address."""


class OnPremStorage(ConfigModel):
    """The on-prem cluster's CSI driver for the default encrypted StorageClass."""

    provisioner: str
    """CSI provisioner name, e.g. rbd.csi.ceph.com or driver.longhorn.io."""
    parameters: dict[str, str] = Field(default_factory=dict)
    """StorageClass parameters; must switch on the driver's encryption (see cluster_validation)."""


class OnPremCluster(ConfigModel):
    """Add-ons and GPU pools on the existing on-prem cluster."""

    version: str | None = Field(default=None, pattern=_VERSION)
    """The cluster's Kubernetes minor version, e.g. "1.32" (manifests are validated against it)."""
    metrics_server: bool = True
    """Install metrics-server (kubeadm clusters lack it); false if the distribution ships one."""
    storage: OnPremStorage
    """The CSI driver and parameters of the default encrypted StorageClass."""
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    """GPU pools made of existing nodes (labelled and tainted; the GPU operator installs drivers)."""


class NamespaceQuota(ConfigModel):
    """What one platform namespace may use in total."""

    cpu: str = Field(default="16", pattern=_QUANTITY)
    """CPU requests in total (limits may reach twice this)."""
    memory: str = Field(default="64Gi", pattern=_QUANTITY)
    """Memory requests (and limits) in total."""
    gpus: int = Field(default=0, ge=0)
    """nvidia.com/gpu requests in total."""
    pods: int = Field(default=100, ge=1)
    """Pods in total."""
    storage: str = Field(default="500Gi", pattern=_QUANTITY)
    """Persistent volume storage requested in total."""
    volume_claims: int = Field(default=20, ge=0)
    """PersistentVolumeClaims in total."""


class PlatformNamespace(ConfigModel):
    """A namespace for platform services, on every cluster."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")
    """Namespace name."""
    quota: NamespaceQuota = Field(default_factory=NamespaceQuota)
    """ResourceQuota of the namespace."""


def _default_namespaces() -> list[PlatformNamespace]:
    return [PlatformNamespace(name=n) for n in ("mlflow", "kafka", "monitoring", "serving")]


class Kubernetes(ConfigModel):
    """Kubernetes: managed clusters per cloud region, the on-prem cluster, add-ons everywhere."""

    version: str = Field(default="1.33", pattern=_VERSION)
    """Default Kubernetes minor version of every cluster."""
    base_domain: str = Field(default="ml.internal",
                             pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    """DNS domain of the platform; each cluster's Gateway serves *.<cluster>.<baseDomain>."""
    onprem: OnPremCluster | None = None
    """The on-prem cluster (the site must be enabled)."""
    aws: dict[Literal[tuple(sorted(AWS_REGIONS))], CloudCluster] = Field(default_factory=dict)  # type: ignore[valid-type]
    """EKS clusters by region."""
    gcp: dict[Literal[tuple(sorted(GCP_REGIONS))], GkeCluster] = Field(default_factory=dict)  # type: ignore[valid-type]
    """GKE clusters by region."""
    azure: dict[Literal[tuple(sorted(AZURE_LOCATIONS))], AksCluster] = Field(default_factory=dict)  # type: ignore[valid-type]
    """AKS clusters by location."""
    namespaces: list[PlatformNamespace] = Field(default_factory=_default_namespaces)
    """Platform service namespaces created on every cluster (default-deny, quota, limits)."""
