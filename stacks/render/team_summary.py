"""What a team gets on each of its clusters, in plain words (pure; `hybrid-ml team add|list`).

Everything here comes from the plan functions the program builds with (`stacks.plan.work_queues`),
so the summary and the objects `pulumi up` creates cannot disagree: the namespace's GPU quota,
the ClusterQueue `team-<name>` with its share of each GPU flavor, the LocalQueues, and where the
team's `burst` queue dispatches to.
"""

from __future__ import annotations

from components.kubernetes.work_queues.constants import BURST_QUEUE, COHORT, DEFAULT_QUEUE
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team, team_namespace
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.notebooks import team_profiles
from stacks.plan.work_queues import (
    borrowing_gpus,
    burst_manager,
    flavors_on,
    namespace_gpus,
    nominal_gpus,
    queue_clusters,
    team_burst_sites,
)


def cluster_queue_name(team: Team) -> str:
    """The team's ClusterQueue on each queued cluster."""
    return f"team-{team.name}"


def queue_settings(team: Team) -> str:
    """The team's `queue` settings in one short cell (`team list`); `-` when it has none."""
    parts = [f"{t}={n}" for t, n in team.queue.gpus.items()]
    if team.queue.borrow_gpus is not None:
        parts.append(f"borrow {team.queue.borrow_gpus}")
    if team.queue.burst_to:
        parts.append(f"burst to {'+'.join(team.queue.burst_to)}")
    return ", ".join(parts) or "-"


def _gpus(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


def _queued_lines(cfg: PlatformConfig, team: Team, ref: str) -> list[str]:
    flavors = flavors_on(cfg, ref)
    ns = team_namespace(team.name)
    cq = cluster_queue_name(team)
    bursts = team_burst_sites(cfg, team)
    manager = ref == burst_manager(cfg) and bursts
    out = [f"  namespace {ns}: GPU quota {namespace_gpus(team, flavors)} (guaranteed + "
           "borrowable, all flavors)",
           f"  ClusterQueue {cq} (cohort {COHORT}); LocalQueue {DEFAULT_QUEUE} -> {cq}, "
           "also for jobs that name no queue",
           "  GPUs per flavor (borrowable: while other teams leave theirs idle):"]
    for f in flavors:
        nominal, borrow = nominal_gpus(team, f), borrowing_gpus(team, f)
        out.append(f"    {f.name}: {nominal} guaranteed + {borrow} borrowable "
                   f"(pools {', '.join(f.pools)}: {_gpus(f.capacity)})")
    if manager:
        out.append(f"  LocalQueue {BURST_QUEUE} -> ClusterQueue {cq}-burst: MultiKueue "
                   f"dispatches its workloads to {', '.join(bursts)}")
    elif ref in bursts:
        out.append(f"  LocalQueue {BURST_QUEUE} -> {cq}: receives the team's bursts from "
                   f"{burst_manager(cfg)}")
    return out


def team_summary(cfg: PlatformConfig, team: Team) -> list[str]:
    """Per cluster of the team: its namespace's GPU quota, and with work queues its
    ClusterQueue, LocalQueues, guaranteed and borrowable GPUs per flavor, burst targets."""
    queued = queue_clusters(cfg)
    lines = [f"What team {team.name!r} gets:"]
    for ref in team.sites:
        lines.append(f"{ref}:")
        if ref in queued:
            lines += _queued_lines(cfg, team, ref)
        elif cfg.services.work_queues is not None:
            lines.append(f"  namespace {team_namespace(team.name)}: GPU quota {team.gpus} "
                         "(no GPU pools here: no work queue)")
        else:
            lines.append(f"  namespace {team_namespace(team.name)}: GPU quota {team.gpus} "
                         "(no work queues in this stack: services.workQueues)")
    lines += service_urls(cfg, team)
    bursts = team_burst_sites(cfg, team)
    if bursts:
        lines.append(f"Bursts: submit to LocalQueue {BURST_QUEUE} in {team_namespace(team.name)} "
                     f"on {burst_manager(cfg)} to run on {', '.join(bursts)} "
                     "(runbooks/work-queues.md).")
    return lines


def _gateway_url(cfg: PlatformConfig, app: str, ref: str) -> str:
    """`https://<app>.<cluster name>.<baseDomain>`: how every service is named at the Gateway."""
    assert cfg.kubernetes is not None
    return f"https://{app}.{clusters_by_ref(cfg)[ref].name}.{cfg.kubernetes.base_domain}"


def service_urls(cfg: PlatformConfig, team: Team) -> list[str]:
    """Where the team's members open their notebooks (and which profiles they get) and their
    pipelines: the hubs and Airflow at the Gateways of the clusters they run on."""
    out: list[str] = []
    n, p = cfg.services.notebooks, cfg.services.pipelines
    refs = clusters_by_ref(cfg)
    if team.notebooks and n is not None:
        for ref in (r for r in n.clusters if r in team.sites and r in refs):
            slugs = [pr["slug"] for pr in team_profiles(cfg, n, team, ref)]
            out.append(f"Notebooks: {_gateway_url(cfg, 'notebooks', ref)} (profiles {', '.join(slugs)}; "
                       f"servers run in {team_namespace(team.name)})")
    if team.pipelines is not None and p is not None:
        for ref in (r for r in p.clusters if r in refs):
            out.append(f"Pipelines: {_gateway_url(cfg, 'airflow', ref)} (DAGs from "
                       f"{team.pipelines.dag_repo}, branch {team.pipelines.dag_branch})")
    return out
