"""`TeamQueue`: a team's queues on one cluster, and on the MultiKueue manager its burst queue."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from components.kubernetes.objects import in_namespace, network_policy, object_labels
from components.kubernetes.work_queues.constants import (
    BURST_QUEUE,
    DEFAULT_QUEUE,
    KUBERAY_NAMESPACE,
    KUEUE_API,
    RAY_DASHBOARD_PORT,
)
from components.kubernetes.work_queues.specs import (
    QueueQuota,
    admission_check_spec,
    burst_queue_spec,
    cluster_queue_spec,
)
from components.tags import StandardTags


class TeamBurst(BaseModel):
    """On the manager: where the team's `burst` queue dispatches, and how much at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: tuple[str, ...] = Field(min_length=1, description="MultiKueueCluster names.")
    quota: QueueQuota = Field(description="What the team may have dispatched at once.")


class TeamQueueArgs(BaseModel):
    """Arguments of TeamQueue."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    team: str = Field(description="Team name.")
    namespace: str = Field(description="The team's namespace.")
    tags: StandardTags = Field(description="The team's tags (owner, cost centre, class).")
    quota: QueueQuota = Field(description="The team's guarantee and borrowing here.")
    receives_bursts: bool = Field(default=False, description=(
        "A worker the team bursts to: a `burst` LocalQueue receives the dispatched work."))
    burst: TeamBurst | None = Field(default=None, description="On the manager: the team's "
                                                              "burst queue.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="The cluster's WorkQueues and the team's namespace.")


class TeamQueue(pulumi.ComponentResource):
    """The ClusterQueue `team-<name>` (its namespace only, in the cohort `teams`), the
    LocalQueue `default` in the team namespace (and `burst` where MultiKueue dispatches the
    team's work to), and ingress from the KubeRay operator to the team's Ray heads' dashboard
    (how it follows RayJobs). On the manager, with `burst`: a MultiKueueConfig listing only
    the team's burst clusters, its admission check, the ClusterQueue `team-<name>-burst` and
    the LocalQueue `burst`.

    Guarantees: the team's work is admitted within its guarantee plus what it may borrow, and
    dispatched nowhere but the clusters its MultiKueueConfig names.
    """

    def __init__(self, name: str, args: TeamQueueArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:workqueues:TeamQueue", name, None, opts)
        labels = object_labels(args.tags)
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        queue = f"team-{args.team}"
        cq = k8s.apiextensions.CustomResource(
            f"{name}-cluster-queue", api_version=KUEUE_API, kind="ClusterQueue",
            metadata={"name": queue, "labels": labels},
            spec=cluster_queue_spec(args.namespace, args.quota), opts=after)
        local = [DEFAULT_QUEUE, *([BURST_QUEUE] if args.receives_bursts else [])]
        for lq in local:
            _local_queue(f"{name}-{lq}", lq, args, queue, [*args.wait_for, cq], self)
        if args.burst is not None:
            _burst(name, args, args.burst, self)
        network_policy(f"{name}-ray-operator", "allow-ingress-ray-operator", args.namespace,
                       args.tags, {"policyTypes": ["Ingress"], "ingress": [{
                           "from": [{**in_namespace(KUBERAY_NAMESPACE), "podSelector": {
                               "matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}}}],
                           "ports": [{"protocol": "TCP", "port": RAY_DASHBOARD_PORT}]}]},
                       self, list(args.wait_for),
                       pod_selector={"matchLabels": {"ray.io/node-type": "head"}})
        self.register_outputs({})


def _local_queue(resource: str, name: str, args: TeamQueueArgs, cluster_queue: str,
                 after: list[pulumi.Resource], parent: pulumi.Resource) -> None:
    k8s.apiextensions.CustomResource(
        resource, api_version=KUEUE_API, kind="LocalQueue",
        metadata={"name": name, "namespace": args.namespace, "labels": object_labels(args.tags)},
        spec={"clusterQueue": cluster_queue},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after))


def _burst(name: str, args: TeamQueueArgs, burst: TeamBurst, parent: pulumi.Resource) -> None:
    """MultiKueueConfig and admission check `team-<name>-burst`, its ClusterQueue, and the
    LocalQueue `burst`."""
    labels = object_labels(args.tags)
    check = f"team-{args.team}-burst"
    opts = pulumi.ResourceOptions(parent=parent, depends_on=list(args.wait_for))
    config = k8s.apiextensions.CustomResource(
        f"{name}-multikueue-config", api_version=KUEUE_API, kind="MultiKueueConfig",
        metadata={"name": check, "labels": labels}, spec={"clusters": list(burst.workers)},
        opts=opts)
    admission = k8s.apiextensions.CustomResource(
        f"{name}-burst-check", api_version=KUEUE_API, kind="AdmissionCheck",
        metadata={"name": check, "labels": labels}, spec=admission_check_spec(check),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*args.wait_for, config]))
    cq = k8s.apiextensions.CustomResource(
        f"{name}-burst-queue", api_version=KUEUE_API, kind="ClusterQueue",
        metadata={"name": check, "labels": labels},
        spec=burst_queue_spec(args.namespace, burst.quota, check),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*args.wait_for, admission]))
    _local_queue(f"{name}-{BURST_QUEUE}", BURST_QUEUE, args, check, [*args.wait_for, cq], parent)
