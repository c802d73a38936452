"""What `services.workQueues` and the teams' `queue` mean, checked: GPU flavors a label can
select, guarantees that fit each flavor's capacity, GPU types the team's clusters have, and
burst clusters its data may go to."""

from __future__ import annotations

from typing import Any

from stacks.checks.problems import ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team
from stacks.plan.clusters import ONPREM, clusters_by_ref
from stacks.plan.teams import team_classification
from stacks.plan.work_queues import (
    Flavor,
    ambiguous_flavors,
    burst_workers,
    flavors_on,
    nominal_gpus,
    queue_clusters,
)

_KEY = ("services", "workQueues")


def _service_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    wq = cfg.services.work_queues
    out: list[ConfigProblem] = []
    queued = queue_clusters(cfg)
    if not queued:
        out.append(ConfigProblem(key_path(_KEY), "configured", "needs a cluster with GPU pools "
                                 "(kubernetes.<site>.gpuPools): Kueue runs where the GPUs are"))
    if wq.burst and (ONPREM not in queued or not burst_workers(cfg)):
        out.append(ConfigProblem(key_path((*_KEY, "burst")), True, "needs GPU pools on the "
                                 "on-prem cluster (the MultiKueue manager) and on at least one "
                                 "cloud cluster (its workers)"))
    known = clusters_by_ref(cfg)
    for ref in queued:
        for f in ambiguous_flavors(flavors_on(cfg, ref)):
            out.append(ConfigProblem(
                key_path((*known[ref].config_path.split("."), "gpuPools")), list(f.pools),
                f"pools {', '.join(f.pools)} ({f.gpu_type}) share a work-queue flavor that no "
                f"node label tells apart from the cluster's other {f.gpu_type} pools; give "
                "each of them its own sharing mode or capacity kind, or merge them"))
    return out


def _type_problems(cfg: PlatformConfig, i: int, team: Team) -> list[ConfigProblem]:
    """GPU types in `queue.gpus` must exist on one of the team's queued clusters."""
    offered = sorted({f.gpu_type for ref in team.sites if ref in queue_clusters(cfg)
                      for f in flavors_on(cfg, ref)})
    return [ConfigProblem(key_path(("teams", i, "queue", "gpus", gpu_type)), gpu_type,
                          f"allowed: the GPU types of the team's sites ({', '.join(offered)})"
                          if offered else "none of the team's sites has GPU pools")
            for gpu_type in team.queue.gpus if gpu_type not in offered]


def _guarantee_key(i: int, team: Team, flavor: Flavor) -> tuple[tuple[Any, ...], int]:
    if flavor.gpu_type in team.queue.gpus:
        return ("teams", i, "queue", "gpus", flavor.gpu_type), team.queue.gpus[flavor.gpu_type]
    return ("teams", i, "gpus"), team.gpus


def _capacity_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Per cluster and flavor, the teams' guarantees never exceed what the flavor's pools offer;
    the first team that would over-commit it is named."""
    out: list[ConfigProblem] = []
    for ref in queue_clusters(cfg):
        for flavor in flavors_on(cfg, ref):
            taken: list[str] = []
            total = 0
            for i, team in enumerate(cfg.teams):
                if ref not in team.sites:
                    continue
                want = nominal_gpus(team, flavor)
                if want and total + want > flavor.capacity:
                    loc, value = _guarantee_key(i, team, flavor)
                    others = f" (teams {', '.join(taken)} already hold {total})" if taken else ""
                    out.append(ConfigProblem(key_path(loc), value, (
                        f"at most {flavor.capacity - total} GPU(s) of flavor {flavor.name} on "
                        f"{ref}: its pools ({', '.join(flavor.pools)}) offer {flavor.capacity}"
                        f"{others}; guarantees may not over-commit a flavor (borrowing "
                        "shares what is idle)")))
                    continue
                if want:
                    total += want
                    taken.append(team.name)
    return out


def _burst_problems(cfg: PlatformConfig, i: int, team: Team) -> list[ConfigProblem]:
    wq = cfg.services.work_queues
    out: list[ConfigProblem] = []
    workers = burst_workers(cfg)
    cls_name = team_classification(cfg, team)
    cls = cfg.residency.classifications.get(cls_name)
    for j, ref in enumerate(team.queue.burst_to):
        loc = key_path(("teams", i, "queue", "burstTo", j))
        if wq is None or not wq.burst:
            out.append(ConfigProblem(loc, ref, "bursting needs services.workQueues.burst: true"))
            continue
        if cls is not None and cls.on_prem_required:
            out.append(ConfigProblem(loc, ref, f"{cls_name!r} data must stay on-prem; the team "
                                     "may burst nowhere (allowed: an empty burstTo)"))
            continue
        if ref not in workers or ref not in team.sites:
            allowed = [w for w in workers if w in team.sites]
            out.append(ConfigProblem(loc, ref, "allowed: the team's cloud sites with GPU pools "
                                     f"({', '.join(allowed) or 'none'}); add the cluster to "
                                     "`sites` first (its namespace and queue receive the work)"))
            continue
        region = ref.split("/", 1)[1]
        if cls is not None and region not in cls.allowed_regions:
            out.append(ConfigProblem(loc, ref, f"{region} is outside the allowed regions of "
                                     f"{cls_name!r} data ({', '.join(cls.allowed_regions)})"))
    if team.queue.burst_to and ONPREM not in team.sites:
        out.append(ConfigProblem(key_path(("teams", i, "queue", "burstTo")), team.queue.burst_to,
                                 "the team submits bursts on-prem: add onprem to its sites"))
    if len(set(team.queue.burst_to)) != len(team.queue.burst_to):
        out.append(ConfigProblem(key_path(("teams", i, "queue", "burstTo")), team.queue.burst_to,
                                 "each cluster may appear once"))
    return out


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """The work queues and every team's share of them, checked."""
    out: list[ConfigProblem] = []
    if cfg.services.work_queues is None:
        for i, team in enumerate(cfg.teams):
            if team.queue.gpus or team.queue.burst_to or team.queue.borrow_gpus is not None:
                out.append(ConfigProblem(key_path(("teams", i, "queue")), "set",
                                         "needs services.workQueues (the queues it configures)"))
        return out
    out += _service_problems(cfg)
    for i, team in enumerate(cfg.teams):
        out += _type_problems(cfg, i, team)
        out += _burst_problems(cfg, i, team)
    return out + _capacity_problems(cfg)
