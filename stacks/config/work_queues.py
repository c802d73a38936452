"""Config of the GPU work queues (`services.workQueues`): Kueue, JobSet and KubeRay.

Kueue, JobSet and the KubeRay operator run on every cluster of the stack that has GPU pools.
Each team gets a ClusterQueue per such cluster (its share of each GPU flavor, see
`teams[].queue`) and a LocalQueue `default` in its namespace: a Job, JobSet, RayJob or
RayCluster there waits in the queue until its GPUs are free, instead of being refused.

With `burst`, MultiKueue runs with the manager on the on-prem cluster and the cloud clusters
as workers: a team's workload submitted to its LocalQueue `burst` on-prem is dispatched to one
of the cloud clusters its `queue.burstTo` names, each allowed for its data classification.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import ConfigModel


class WorkQueues(ConfigModel):
    """Kueue work queues per team on every GPU cluster, with JobSet and KubeRay."""

    burst: bool = False
    """MultiKueue: the on-prem cluster dispatches teams' `burst` workloads to the cloud clusters
    their `queue.burstTo` names (each checked against the team's data classification); every
    cloud cluster with GPU pools becomes a worker, reached over the VPN by a token of its own."""
    max_wait_minutes: int = Field(default=60, ge=5, le=10080)
    """Alert when a team's queue has held workloads this long without admitting any."""
