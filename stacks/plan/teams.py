"""What a team gets, derived from its config: its classification, Kafka sites and GPU capacity."""

from __future__ import annotations

from typing import Any

from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team


def gpu_capacity(pools: list[Any]) -> int:
    """nvidia.com/gpu a cluster's pools can offer at most (MIG slices and time-shares count)."""
    total = 0
    for p in pools:
        nodes = len(p.nodes) if p.nodes else p.max_size
        per_gpu = p.time_slicing_replicas or 1
        if p.mig_profile:
            per_gpu = 7 // int(p.mig_profile.split("g.", 1)[0])
        total += nodes * p.gpu_count * per_gpu
    return total


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
