"""A GKE GPU node pool built from the shared `GpuPoolSpec`."""

from __future__ import annotations

import math

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.gpu_catalog import cloud_accelerator
from components.kubernetes.gpu_pool import GpuPoolSpec, node_labels, node_taint, pool_problems
from components.tags import StandardTags, gcp_labels

#: MIG partition sizes GKE accepts per accelerator (`gpu_partition_size`), from the partition
#: table of https://cloud.google.com/kubernetes-engine/docs/how-to/gpus-multi. GKE only offers
#: homogeneous partitionings, a subset of NVIDIA's profiles (no 4g.* sizes).
GKE_MIG_PARTITIONS: dict[str, tuple[str, ...]] = {
    "nvidia-a100-40gb": ("1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"),
    "nvidia-a100-80gb": ("1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"),
    "nvidia-h100-80gb": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "7g.80gb"),
}
#: Zones a regional pool spreads over when `node_locations` is left to GKE (a regional
#: cluster's default node locations are three zones of its region).
DEFAULT_ZONE_COUNT = 3
#: The VM's identity comes from the node service account's IAM roles, not from scopes.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

def hardened_node_config(
    *,
    machine_type: str,
    service_account: pulumi.Input[str],
    kms_key_id: pulumi.Input[str],
    disk_size_gb: int,
    labels: dict[str, str],
    resource_labels: dict[str, str],
    **extra: object,
) -> dict[str, object]:
    """`node_config` every pool of the platform shares: COS, CMEK boot disk, shielded VM,
    Workload Identity metadata server, the dedicated node service account."""
    return {
        "machine_type": machine_type,
        "image_type": "COS_CONTAINERD",
        "service_account": service_account,
        "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
        "disk_type": "pd-balanced",
        "disk_size_gb": disk_size_gb,
        "boot_disk_kms_key": kms_key_id,
        "shielded_instance_config": {"enable_secure_boot": True,
                                     "enable_integrity_monitoring": True},
        # Pods see only the GKE metadata server: no node credentials, Workload Identity only.
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "labels": labels,
        "resource_labels": resource_labels,
        **extra,
    }


def autoscaled_node_pool(
    resource_name: str,
    *,
    parent: pulumi.Resource,
    pool_name: str,
    project: str,
    location: str,
    cluster: pulumi.Input[str],
    min_size: int,
    max_size: int,
    node_config: dict[str, object],
    node_locations: tuple[str, ...] = (),
    location_policy: str = "BALANCED",
    depends_on: tuple[pulumi.Resource, ...] = (),
) -> gcp.container.NodePool:
    """A node pool autoscaled between `min_size` and `max_size` nodes in total (all zones).

    Created with enough nodes per zone to reach the minimum; auto-repaired and auto-upgraded
    (required by release channels), its version following the control plane's.
    """
    zones = len(node_locations) or DEFAULT_ZONE_COUNT
    return gcp.container.NodePool(
        resource_name,
        name=pool_name,
        project=project,
        location=location,
        cluster=cluster,
        node_locations=list(node_locations) or None,
        initial_node_count=math.ceil(min_size / zones),
        autoscaling={"total_min_node_count": min_size, "total_max_node_count": max_size,
                     "location_policy": location_policy},
        management={"auto_repair": True, "auto_upgrade": True},
        node_config=node_config,
        # The autoscaler owns the size after creation; a changed minimum must not replace
        # the pool.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["initialNodeCount"],
                                    depends_on=list(depends_on)),
    )


class GpuNodePoolArgs(BaseModel):
    """Arguments of one GKE GPU node pool."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pool: GpuPoolSpec = Field(description="The shared GPU pool spec (target gcp).")
    project: str = Field(description="GCP project id of the cluster.")
    cluster_id: pulumi.Output[str] | str = Field(
        description="The cluster's id (projects/<p>/locations/<l>/clusters/<name>) or name.")
    location: str = Field(description="The cluster's location (its region).")
    wait_for: tuple[pulumi.Resource, ...] = Field(
        default=(), description="Created after these (the system pool: GKE taints GPU nodes "
                                "only in clusters that already have a non-GPU pool).")
    node_service_account_email: pulumi.Output[str] | str = Field(
        description="Email of the dedicated node service account.")
    kms_key_id: pulumi.Output[str] | str = Field(
        description="Cloud KMS crypto key id that encrypts the nodes' boot disks.")
    tags: StandardTags = Field(description="Standard tags, applied as the VMs' GCP labels.")
    node_locations: tuple[str, ...] = Field(
        default=(),
        description="Zones of `location` to run the pool in (zones that offer the GPU); empty: "
                    "the cluster's default zones.")

    @model_validator(mode="after")
    def _fits_gke(self) -> GpuNodePoolArgs:
        pool = self.pool
        problems = pool_problems("gcp", (pool,))
        allowed = GKE_MIG_PARTITIONS.get(pool.gpu_type, ())
        if pool.mig_profile is not None and pool.mig_profile not in allowed:
            problems.append(f"GKE has no MIG partition size {pool.mig_profile!r} for "
                            f"{pool.gpu_type}; allowed: {', '.join(allowed) or 'none'}")
        for zone in self.node_locations:
            if not zone.startswith(f"{self.location}-"):
                problems.append(f"node location {zone!r} is not a zone of {self.location}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _guest_accelerator(pool: GpuPoolSpec) -> dict[str, object]:
    accelerator: dict[str, object] = {
        "type": cloud_accelerator("gcp", pool.gpu_type),
        "count": pool.gpu_count,
        # GKE installs and upgrades the driver itself; LATEST keeps it current with the node
        # version, and the managed DCGM exporter depends on a GKE-managed driver.
        "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
    }
    if pool.mig_profile is not None:
        accelerator["gpu_partition_size"] = pool.mig_profile
    if pool.time_slicing_replicas is not None:
        accelerator["gpu_sharing_config"] = {
            "gpu_sharing_strategy": "TIME_SHARING",
            "max_shared_clients_per_gpu": pool.time_slicing_replicas,
        }
    return accelerator


class GpuNodePool(pulumi.ComponentResource):
    """One autoscaled GKE node pool of GPU machines.

    Creates a `gcp.container.NodePool` whose nodes carry the platform's GPU convention: labels
    `nvidia.com/gpu.present=true`, `hybridml.io/gpu-type`, `hybridml.io/gpu-pool` and the taint
    key/effect `nvidia.com/gpu:NoSchedule`. The taint is GKE's own `nvidia.com/gpu=present`,
    which GKE adds to GPU pools of clusters with non-GPU pools (the cluster creates its system
    pool first) and which makes GKE refuse a second taint with that key and effect; tolerate it
    with `gpu_toleration()` (operator Exists), as on every other target. GKE's own sharing
    labels (`cloud.google.com/gke-gpu-*`) come
    with MIG partitioning and time-sharing, which are node pool settings here.

    Guarantees: GKE-managed NVIDIA driver (LATEST), boot disks encrypted with the cluster's
    Cloud KMS key, shielded VMs with secure boot and integrity monitoring, the GKE metadata
    server (Workload Identity), the dedicated least-privilege node service account, Spot
    capacity when the spec asks for it. Autoscaling bounds are the pool's **total** node
    counts (`min_size`/`max_size` across all its zones), not per zone; Spot pools scale with
    location policy ANY (whichever zone has capacity), others BALANCED. The node version
    follows the cluster's (release channel auto-upgrade).
    """

    pool_name: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    node_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:GpuNodePool", name, None, opts)
        pool = args.pool
        self.pool_name = pool.name
        self.labels = node_labels(pool)
        # What the nodes carry (GKE's taint); nothing is requested, see the docstring.
        self.taints = [node_taint("gcp")]
        node_pool = autoscaled_node_pool(
            f"{name}-pool",
            parent=self,
            pool_name=f"gpu-{pool.name}",
            project=args.project,
            location=args.location,
            cluster=args.cluster_id,
            min_size=pool.min_size,
            max_size=pool.max_size,
            node_locations=args.node_locations,
            # Spot capacity comes and goes per zone: take it wherever it is.
            location_policy="ANY" if pool.spot else "BALANCED",
            depends_on=args.wait_for,
            node_config=hardened_node_config(
                machine_type=pool.machine_type,
                service_account=args.node_service_account_email,
                kms_key_id=args.kms_key_id,
                disk_size_gb=pool.disk_size_gb,
                labels=self.labels,
                resource_labels=gcp_labels(args.tags),
                guest_accelerators=[_guest_accelerator(pool)],
                spot=pool.spot,
            ),
        )

        self.node_pool_name = node_pool.name
        self.register_outputs({
            "pool_name": self.pool_name,
            "labels": self.labels,
            "taints": self.taints,
            "node_pool_name": self.node_pool_name,
        })
