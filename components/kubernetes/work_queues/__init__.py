"""GPU work queues: Kueue with JobSet and KubeRay on each GPU cluster, a queue per team, and
MultiKueue bursting from on-prem to the cloud.

Modules: `constants` (names, API version, priority classes), `values` (Helm values, pure),
`specs` (object specs and the worker kubeconfig, pure), `cluster` (WorkQueues: controllers,
flavors, priority classes, monitors), `team_queue` (TeamQueue: a team's queues on a cluster)
and `burst` (BurstWorker on a cloud cluster, BurstTarget on the manager).
"""

from components.kubernetes.work_queues.burst import (
    BurstTarget,
    BurstTargetArgs,
    BurstWorker,
    BurstWorkerArgs,
)
from components.kubernetes.work_queues.cluster import WorkQueues, WorkQueuesArgs
from components.kubernetes.work_queues.constants import (
    BURST_QUEUE,
    DEFAULT_QUEUE,
    KUEUE_API,
    PRIORITY_CLASSES,
    TEAM_NAMESPACE_LABEL,
)
from components.kubernetes.work_queues.specs import FlavorSpec, GpuShare, QueueQuota
from components.kubernetes.work_queues.team_queue import TeamBurst, TeamQueue, TeamQueueArgs

__all__ = [
    "BURST_QUEUE", "DEFAULT_QUEUE", "KUEUE_API", "PRIORITY_CLASSES", "TEAM_NAMESPACE_LABEL",
    "BurstTarget", "BurstTargetArgs", "BurstWorker", "BurstWorkerArgs", "FlavorSpec", "GpuShare",
    "QueueQuota", "TeamBurst", "TeamQueue", "TeamQueueArgs", "WorkQueues", "WorkQueuesArgs",
]
