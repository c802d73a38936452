"""What a team gets, derived from its config: its classification, Kafka sites and GPU capacity."""

from __future__ import annotations

from typing import Any

from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team


def pool_capacity(pool: Any) -> int:
    """nvidia.com/gpu one pool can offer at most: its nodes (on-prem) or its maximum size, each
    GPU counted as its MIG slices (the GPU operator's `single` strategy advertises each slice
    as one nvidia.com/gpu) or its time-shares."""
    nodes = len(pool.nodes) if pool.nodes else pool.max_size
    per_gpu = pool.time_slicing_replicas or 1
    if pool.mig_profile:
        per_gpu = 7 // int(pool.mig_profile.split("g.", 1)[0])
    return nodes * pool.gpu_count * per_gpu


def gpu_capacity(pools: list[Any]) -> int:
    """nvidia.com/gpu a cluster's pools can offer at most (MIG slices and time-shares count)."""
    return sum(pool_capacity(p) for p in pools)


def cluster_pools(cfg: PlatformConfig, ref: str) -> list[Any]:
    k = cfg.kubernetes
    if ref == "onprem":
        return list(k.onprem.gpu_pools) if k.onprem else []
    site, region = ref.split("/", 1)
    entry = getattr(k, site).get(region)
    return list(entry.gpu_pools) if entry is not None else []


def team_classification(cfg: PlatformConfig, team: Team) -> str:
    return team.data_classification or cfg.residency.default_classification


def kafka_sites(cfg: PlatformConfig, team: Team) -> list[str]:
    """The team's clusters that run Kafka (where its topics and user go)."""
    kafka = cfg.services.kafka
    if kafka is None:
        return []
    return [ref for ref in team.sites if kafka.cluster(ref) is not None]
