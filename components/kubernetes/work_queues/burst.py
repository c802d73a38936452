"""MultiKueue's two ends: `BurstWorker` on a cloud cluster (the identity the manager acts as)
and `BurstTarget` on the manager (that worker's kubeconfig Secret and MultiKueueCluster)."""

from __future__ import annotations

import base64

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from components.kubernetes.objects import object_labels
from components.kubernetes.work_queues.constants import (
    CLUSTER_REGION_LABEL,
    CLUSTER_SITE_LABEL,
    KUEUE_API,
    KUEUE_NAMESPACE,
    WORKER_SERVICE_ACCOUNT,
)
from components.kubernetes.work_queues.specs import (
    WORKER_RULES,
    multikueue_cluster_spec,
    secret_name_for,
    worker_kubeconfig,
)
from components.naming import DNS_LABEL
from components.tags import StandardTags


def _token(data: dict[str, str] | None) -> str:
    """The ServiceAccount token the API server wrote into the Secret (empty until it has)."""
    encoded = (data or {}).get("token", "")
    return base64.b64decode(encoded).decode() if encoded else ""


class BurstWorkerArgs(BaseModel):
    """Arguments of BurstWorker."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(pattern=DNS_LABEL, description="The worker cluster's name.")
    cluster_kubeconfig: InstanceOf[pulumi.Output] = Field(
        description="The worker's own kubeconfig (secret): its API endpoint and CA.")
    tags: StandardTags = Field(description="Standard tags, as labels.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="The worker's WorkQueues (Kueue's namespace and CRDs).")


class BurstWorker(pulumi.ComponentResource):
    """On a worker: the ServiceAccount `multikueue-manager` in Kueue's namespace, a
    ClusterRole allowing what MultiKueue does there (create and watch workloads and the jobs
    behind them, nothing else) bound to it, and its long-lived token.

    `kubeconfig` (secret) reaches the worker's private API endpoint with that token: it goes
    only into the manager's Secret.
    """

    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: BurstWorkerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:workqueues:BurstWorker", name, None, opts)
        labels = object_labels(args.tags)
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        account = k8s.core.v1.ServiceAccount(
            f"{name}-account", metadata={"name": WORKER_SERVICE_ACCOUNT,
                                         "namespace": KUEUE_NAMESPACE, "labels": labels},
            opts=after)
        role = k8s.rbac.v1.ClusterRole(
            f"{name}-role", metadata={"name": WORKER_SERVICE_ACCOUNT, "labels": labels},
            rules=[dict(r) for r in WORKER_RULES], opts=after)
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-binding", metadata={"name": WORKER_SERVICE_ACCOUNT, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                      "name": WORKER_SERVICE_ACCOUNT},
            subjects=[{"kind": "ServiceAccount", "name": WORKER_SERVICE_ACCOUNT,
                       "namespace": KUEUE_NAMESPACE}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]))
        token = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": f"{WORKER_SERVICE_ACCOUNT}-token", "namespace": KUEUE_NAMESPACE,
                      "labels": labels,
                      "annotations": {"kubernetes.io/service-account.name":
                                      WORKER_SERVICE_ACCOUNT}},
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account],
                                        additional_secret_outputs=["data"]))
        cluster = args.cluster_name
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            args.cluster_kubeconfig, token.data).apply(
                lambda v: worker_kubeconfig(v[0], _token(v[1]), cluster)))
        self.register_outputs({"kubeconfig": self.kubeconfig})


class BurstTargetArgs(BaseModel):
    """Arguments of BurstTarget."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(pattern=DNS_LABEL, description="The worker cluster's name.")
    site: str = Field(description="The worker's cloud (aws, gcp, azure).")
    region: str = Field(description="The worker's region (what residency is judged by).")
    kubeconfig: InstanceOf[pulumi.Output] = Field(description="BurstWorker.kubeconfig.")
    tags: StandardTags = Field(description="Standard tags, as labels.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="The manager's WorkQueues.")


class BurstTarget(pulumi.ComponentResource):
    """On the manager: the worker's kubeconfig in a Secret of Kueue's namespace (the only place
    it is written) and the MultiKueueCluster named after the worker, labelled with its site and
    region so that what a MultiKueueConfig sends where can be judged."""

    def __init__(self, name: str, args: BurstTargetArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:workqueues:BurstTarget", name, None, opts)
        labels = object_labels(args.tags)
        secret_name = secret_name_for(args.cluster_name)
        secret = k8s.core.v1.Secret(
            f"{name}-kubeconfig",
            metadata={"name": secret_name, "namespace": KUEUE_NAMESPACE, "labels": labels},
            type="Opaque", string_data={"kubeconfig": pulumi.Output.secret(args.kubeconfig)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)))
        k8s.apiextensions.CustomResource(
            f"{name}-cluster", api_version=KUEUE_API, kind="MultiKueueCluster",
            metadata={"name": args.cluster_name, "labels": {
                **labels, CLUSTER_SITE_LABEL: args.site, CLUSTER_REGION_LABEL: args.region}},
            spec=multikueue_cluster_spec(secret_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.wait_for, secret]))
        self.register_outputs({})
