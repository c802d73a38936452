"""Wire the GPU work queues onto every cluster with GPU pools, and MultiKueue bursting.

Per GPU cluster: `WorkQueues` (Kueue, JobSet, KubeRay, the cluster's flavors and priority
classes). With `burst`: on each cloud worker a `BurstWorker` (the identity the manager acts as)
and on the on-prem manager a `BurstTarget` holding that worker's kubeconfig. The teams' queues
are made with the teams (stacks/program/teams.py). Stack output `workQueues`: per cluster name
its flavors with their capacity, and which clusters are MultiKueue manager and workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.kubernetes.work_queues import (
    BurstTarget,
    BurstTargetArgs,
    BurstWorker,
    BurstWorkerArgs,
    FlavorSpec,
    WorkQueues,
    WorkQueuesArgs,
)
from stacks.plan.work_queues import (
    Flavor,
    burst_manager,
    burst_workers,
    flavors_on,
    queue_clusters,
)
from stacks.program.services.context import Built, ServiceContext, monitoring_crds

#: Stack output: flavors per cluster, MultiKueue manager and workers (no secrets).
WORK_QUEUES_OUTPUT = "workQueues"


@dataclass(frozen=True)
class WorkQueuesBuilt:
    """What the work queues hand on (to the teams)."""

    #: Per cluster ref: the WorkQueues component there (teams' queues come after it).
    clusters: dict[str, WorkQueues]
    #: The MultiKueue manager's ref, if bursting is on.
    manager: str | None
    #: Per worker ref: the worker's cluster name (the MultiKueueCluster's name).
    workers: dict[str, str]


def flavor_spec(flavor: Flavor, site: str) -> FlavorSpec:
    """The component's view of a planned flavor (AKS spot nodes carry AKS's own taint)."""
    return FlavorSpec(name=flavor.name, node_labels=dict(flavor.node_labels),
                      spot_toleration=flavor.spot and site == "azure")


def build_work_queues(ctx: ServiceContext, built: Built) -> WorkQueuesBuilt:
    """Create the work queues on every GPU cluster; export the `workQueues` output."""
    cfg = ctx.cfg
    manager = burst_manager(cfg)
    components: dict[str, WorkQueues] = {}
    output: dict[str, Any] = {}
    for ref in queue_clusters(cfg):
        cluster = ctx.clusters[ref]
        flavors = flavors_on(cfg, ref)
        components[ref] = WorkQueues(f"work-queues-{cluster.plan.name}", WorkQueuesArgs(
            cluster_name=cluster.plan.name, tags=ctx.tags,
            flavors=tuple(flavor_spec(f, cluster.plan.site) for f in flavors),
            manager=ref == manager, monitoring_crds=monitoring_crds(built, ref),
            wait_for=(cluster.addons,),
        ), pulumi.ResourceOptions(providers=[cluster.provider]))
        output[cluster.plan.name] = {
            "cluster": ref, "flavors": {f.name: f.capacity for f in flavors},
            "multiKueue": "manager" if ref == manager else None}
    workers: dict[str, str] = {}
    if manager is not None:
        home = ctx.clusters[manager]
        for ref in burst_workers(cfg):
            cluster = ctx.clusters[ref]
            name = cluster.plan.name
            worker = BurstWorker(f"burst-worker-{name}", BurstWorkerArgs(
                cluster_name=name, cluster_kubeconfig=cluster.cloud.kubeconfig, tags=ctx.tags,
                wait_for=(components[ref],),
            ), pulumi.ResourceOptions(providers=[cluster.provider]))
            BurstTarget(f"burst-target-{name}", BurstTargetArgs(
                cluster_name=name, site=cluster.plan.site, region=cluster.plan.region,
                kubeconfig=worker.kubeconfig, tags=ctx.tags, wait_for=(components[manager],),
            ), pulumi.ResourceOptions(providers=[home.provider]))
            workers[ref] = name
            output[name]["multiKueue"] = "worker"
    pulumi.export(WORK_QUEUES_OUTPUT, output)
    return WorkQueuesBuilt(clusters=components, manager=manager, workers=workers)
