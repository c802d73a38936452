"""What the work queues are, derived from the config (pure): flavors, team shares, burst sites.

A cluster's GPU pools become Kueue ResourceFlavors, one per GPU type, sharing mode (whole GPU,
MIG slice, time-share) and capacity kind (spot or not): workloads admitted to a flavor get its
node labels as a node selector and its tolerations, so they land on exactly those pools. Each
team's ClusterQueue on a cluster guarantees it a number of GPUs of each flavor (nominal quota)
and lets it borrow idle GPUs of the other teams up to a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.gpu_catalog import GPU_TYPE_LABEL_KEY
from components.kubernetes.gpu_pool import GPU_POOL_LABEL_KEY
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team
from stacks.plan.clusters import ONPREM, planned_clusters
from stacks.plan.teams import cluster_pools, pool_capacity

#: The flavor of CPU and memory (no node labels: any node); GPUs have flavors of their own.
CPU_FLAVOR = "standard"
#: The resource Kueue counts GPUs in (MIG slices and time-shares included).
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class Flavor:
    """One Kueue ResourceFlavor of a cluster: GPUs of one type, sharing mode and capacity kind."""

    name: str
    gpu_type: str
    sharing: str  # "" (whole GPUs), "mig-<profile>" or "shared<replicas>"
    spot: bool
    #: The cluster's pools it stands for, in config order.
    pools: tuple[str, ...]
    #: nvidia.com/gpu its pools offer at most.
    capacity: int
    #: Node labels admitted pods are steered to (sorted (key, value) pairs).
    node_labels: tuple[tuple[str, str], ...]


def _sharing(pool: Any) -> str:
    if pool.mig_profile:
        return f"mig-{pool.mig_profile.replace('.', '-')}"
    if pool.time_slicing_replicas:
        return f"shared{pool.time_slicing_replicas}"
    return ""


def flavor_name(gpu_type: str, sharing: str, spot: bool) -> str:
    """`nvidia-l4`, `nvidia-l4-spot`, `nvidia-a100-80gb-mig-3g-40gb`, `nvidia-t4-shared4`."""
    return "-".join(p for p in (gpu_type, sharing, "spot" if spot else "") if p)


def pool_flavor(pool: Any) -> str:
    """The flavor a GPU pool belongs to."""
    return flavor_name(pool.gpu_type, _sharing(pool), pool.spot)


def cluster_flavors(pools: list[Any]) -> list[Flavor]:
    """The GPU flavors of a cluster's pools, in the order their first pool appears.

    A flavor selects nodes by GPU type; where pools of one type fall into different flavors
    (a spot and an on-demand L4 pool), by pool too, which needs one pool per such flavor
    (`ambiguous_flavors` finds the cases where that does not hold).
    """
    grouped: dict[str, list[Any]] = {}
    for p in pools:
        grouped.setdefault(pool_flavor(p), []).append(p)
    flavors_of_type: dict[str, set[str]] = {}
    for name, members in grouped.items():
        flavors_of_type.setdefault(members[0].gpu_type, set()).add(name)
    out = []
    for name, members in grouped.items():
        first = members[0]
        labels = {GPU_TYPE_LABEL_KEY: first.gpu_type}
        if len(flavors_of_type[first.gpu_type]) > 1 and len(members) == 1:
            labels[GPU_POOL_LABEL_KEY] = first.name
        out.append(Flavor(name=name, gpu_type=first.gpu_type, sharing=_sharing(first),
                          spot=first.spot, pools=tuple(p.name for p in members),
                          capacity=sum(pool_capacity(p) for p in members),
                          node_labels=tuple(sorted(labels.items()))))
    return out


def ambiguous_flavors(flavors: list[Flavor]) -> list[Flavor]:
    """Flavors whose nodes no label tells apart from another flavor's: several pools of a GPU
    type that also has pools of another sharing mode or capacity kind on the cluster."""
    types = [f.gpu_type for f in flavors]
    return [f for f in flavors if types.count(f.gpu_type) > 1 and len(f.pools) > 1]


def queue_clusters(cfg: PlatformConfig) -> list[str]:
    """The clusters Kueue runs on: every cluster with GPU pools (with `services.workQueues`)."""
    if cfg.services.work_queues is None:
        return []
    return [c.ref for c in planned_clusters(cfg) if cluster_pools(cfg, c.ref)]


def flavors_on(cfg: PlatformConfig, ref: str) -> list[Flavor]:
    """The GPU flavors of cluster `ref`."""
    return cluster_flavors(cluster_pools(cfg, ref))


def nominal_gpus(team: Team, flavor: Flavor) -> int:
    """GPUs of `flavor` guaranteed to the team: its `queue.gpus` for the type, else `gpus`."""
    return team.queue.gpus.get(flavor.gpu_type, team.gpus)


def borrowing_gpus(team: Team, flavor: Flavor) -> int:
    """GPUs of `flavor` the team may borrow beyond its guarantee."""
    return team.queue.borrow_gpus if team.queue.borrow_gpus is not None \
        else nominal_gpus(team, flavor)


def namespace_gpus(team: Team, flavors: list[Flavor]) -> int:
    """The team namespace's GPU quota on a queued cluster: every flavor's guarantee plus
    borrowing, so that nothing Kueue admits is then refused by the ResourceQuota."""
    return sum(nominal_gpus(team, f) + borrowing_gpus(team, f) for f in flavors)


def burst_workers(cfg: PlatformConfig) -> list[str]:
    """The cloud clusters MultiKueue may dispatch to (with `services.workQueues.burst`)."""
    wq = cfg.services.work_queues
    if wq is None or not wq.burst:
        return []
    return [ref for ref in queue_clusters(cfg) if ref != ONPREM]


def burst_manager(cfg: PlatformConfig) -> str | None:
    """The cluster that runs the MultiKueue manager: on-prem, next to the sensitive data."""
    return ONPREM if burst_workers(cfg) and ONPREM in queue_clusters(cfg) else None


def team_burst_sites(cfg: PlatformConfig, team: Team) -> list[str]:
    """The workers the team's `burst` queue dispatches to (validated against residency)."""
    workers = burst_workers(cfg)
    return [ref for ref in team.queue.burst_to if ref in workers]


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """No secret config: the workers' tokens are made by the program and stay Outputs."""
    return []
