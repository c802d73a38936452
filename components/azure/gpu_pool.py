"""One AKS GPU node pool: an N-series user agent pool carrying the shared GPU labels and taint."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.gpu_catalog import GPU_TAINT
from components.kubernetes.gpu_pool import GpuPoolSpec, node_labels, node_taint, pool_problems
from components.tags import StandardTags, azure_tags

#: What AKS itself puts on every node of a Spot pool (it cannot be left off, so pods that
#: run there must tolerate it too).
SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot",
              "effect": "NoSchedule"}
AZ_ZONES = ("1", "2", "3")


class GpuNodePoolArgs(BaseModel):
    """Arguments of one AKS GPU node pool."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pool: GpuPoolSpec = Field(description="The pool, checked by the GPU catalog (target azure).")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group of the cluster.")
    cluster_name: str | pulumi.Output[str] = Field(
        description="Name of the ManagedCluster the pool joins.")
    vnet_subnet_id: str | pulumi.Output[str] = Field(description="Node subnet the VMs join.")
    kubernetes_version: str = Field(
        pattern=r"^1\.\d{1,2}$", description="Kubernetes minor version of the nodes, e.g. `1.33`.")
    tags: StandardTags = Field(description="Standard tags put on the agent pool.")
    zones: tuple[str, ...] = Field(
        default=AZ_ZONES, min_length=1,
        description="Availability zones to spread over; narrow it where the VM size is not in "
                    "every zone.")

    @field_validator("pool")
    @classmethod
    def _azure_pool(cls, pool: GpuPoolSpec) -> GpuPoolSpec:
        if problems := pool_problems("azure", (pool,)):
            raise ValueError("; ".join(problems))
        return pool

    @field_validator("zones")
    @classmethod
    def _known_zones(cls, zones: tuple[str, ...]) -> tuple[str, ...]:
        if bad := [z for z in zones if z not in AZ_ZONES]:
            raise ValueError(f"unknown availability zones {bad}; allowed: {', '.join(AZ_ZONES)}")
        return zones


class GpuNodePool(pulumi.ComponentResource):
    """An AKS User-mode agent pool of N-series VMs for one `GpuPoolSpec`.

    Guarantees: every node carries exactly the shared GPU labels (`node_labels`) and the
    taint `nvidia.com/gpu=true:NoSchedule`; the cluster autoscaler keeps it between
    `min_size` and `max_size`; host encryption (temp disk and caches) plus the cluster's
    disk encryption set on the managed OS disk. AKS does not install a GPU driver
    (`gpuProfile.driver: None`): the cluster's NVIDIA GPU operator installs driver, device
    plugin, DCGM exporter and MIG manager, and applies MIG and time-slicing from the node
    labels, the same mechanism as on EKS and on-prem (hence no AKS `gpuInstanceProfile`).

    Spot pools: evicted VMs are deleted and the price is capped at the on-demand price
    (-1). AKS adds the label `kubernetes.azure.com/scalesetpriority=spot` and the taint
    `kubernetes.azure.com/scalesetpriority=spot:NoSchedule` itself; `taints` lists it so
    that GPU workloads and the GPU operator can tolerate it.
    """

    pool_name: str
    agent_pool_name: pulumi.Output[str]
    labels: dict[str, str]
    taints: list[dict[str, str]]

    def __init__(self, name: str, args: GpuNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:GpuNodePool", name, None, opts)
        pool = args.pool
        spot = {"scale_set_priority": "Spot", "scale_set_eviction_policy": "Delete",
                "spot_max_price": -1} if pool.spot else {"scale_set_priority": "Regular"}
        agent_pool = azure.containerservice.AgentPool(
            f"{name}-pool",
            agent_pool_name=pool.name,
            resource_group_name=args.resource_group_name,
            resource_name_=args.cluster_name,
            mode="User",
            type="VirtualMachineScaleSets",
            vm_size=pool.machine_type,
            os_type="Linux",
            # Ubuntu: the GPU operator's driver containers support it on AKS.
            os_sku="Ubuntu",
            orchestrator_version=args.kubernetes_version,
            enable_auto_scaling=True,
            count=pool.min_size,
            min_count=pool.min_size,
            max_count=pool.max_size,
            vnet_subnet_id=args.vnet_subnet_id,
            availability_zones=list(args.zones),
            enable_encryption_at_host=True,
            # Managed, not ephemeral: ephemeral OS disks cannot follow a key rotation of the
            # cluster's disk encryption set without scaling the pool to zero.
            os_disk_type="Managed",
            os_disk_size_gb=pool.disk_size_gb,
            node_labels=node_labels(pool),
            node_taints=[GPU_TAINT],
            gpu_profile={"driver": "None"},
            **spot,
            tags=azure_tags(args.tags, **{"gpu-pool": pool.name}),
            # The cluster autoscaler owns the node count after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )

        self.pool_name = pool.name
        self.agent_pool_name = agent_pool.name
        self.labels = node_labels(pool)
        self.taints = [node_taint(), *([SPOT_TAINT] if pool.spot else [])]
        self.register_outputs({
            "pool_name": self.pool_name,
            "agent_pool_name": self.agent_pool_name,
            "labels": self.labels,
            "taints": self.taints,
        })
