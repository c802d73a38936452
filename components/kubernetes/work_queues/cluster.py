"""`WorkQueues`: Kueue, JobSet and the KubeRay operator on one GPU cluster, with its flavors."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from components.kubernetes.cert_manager import CLUSTER_ISSUER
from components.kubernetes.charts import pinned_release
from components.kubernetes.objects import (
    MONITORING_API,
    TopLevelObject,
    add_on_namespace,
    object_labels,
)
from components.kubernetes.work_queues.constants import (
    BURST_FLAVOR,
    CPU_FLAVOR,
    JOBSET_NAMESPACE,
    KUBERAY_NAMESPACE,
    KUEUE_API,
    KUEUE_NAMESPACE,
    PRIORITY_CLASSES,
)
from components.kubernetes.work_queues.specs import FlavorSpec, resource_flavor_spec
from components.kubernetes.work_queues.values import jobset_values, kuberay_values, kueue_values
from components.naming import DNS_LABEL
from components.tags import StandardTags

#: The Prometheus identity that may read Kueue's (authenticated) metrics endpoint.
METRICS_READER = "kueue-metrics-scraper"


class WorkQueuesArgs(BaseModel):
    """Arguments of WorkQueues."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(pattern=DNS_LABEL, description="The cluster's name.")
    tags: StandardTags = Field(description="Standard tags, as labels.")
    flavors: tuple[FlavorSpec, ...] = Field(min_length=1, description="The GPU flavors.")
    manager: bool = Field(default=False, description="Run the MultiKueue manager here.")
    monitoring_crds: InstanceOf[pulumi.Resource] | None = Field(
        default=None, description="The Prometheus Operator CRDs; given, the controllers are "
                                  "scraped.")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="The cluster's add-ons (cert-manager and its issuer first).")


class WorkQueues(pulumi.ComponentResource):
    """Kueue (pinned chart), JobSet and the KubeRay operator in restricted add-on namespaces;
    the `standard` flavor (CPU, memory: any node), one ResourceFlavor per GPU flavor (its
    node labels and the GPU taint's toleration), the workload priority classes, and with
    monitoring, ServiceMonitors for Kueue (TLS verified, by a token allowed only /metrics) and
    KubeRay. On the MultiKueue manager also the label-less `burst` flavor.

    Guarantees: in team namespaces every Job, JobSet, RayJob and RayCluster goes through a
    queue; GPU work lands only on the GPU pools of its flavor.
    """

    kueue: k8s.helm.v3.Release

    def __init__(self, name: str, args: WorkQueuesArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:workqueues:WorkQueues", name, None, opts)
        self.kueue, jobset, kuberay = _controllers(name, args, self)
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.kueue])
        _flavors(name, args, after)
        _priority_classes(name, args, after)
        if args.monitoring_crds is not None:
            _monitors(name, args, self, [self.kueue, kuberay, args.monitoring_crds])
        self.register_outputs({})


def _controllers(name: str, args: WorkQueuesArgs, parent: pulumi.Resource,
                 ) -> tuple[k8s.helm.v3.Release, k8s.helm.v3.Release, k8s.helm.v3.Release]:
    """JobSet and KubeRay first, then Kueue: Kueue turns on an integration only for CRDs that
    exist when it starts. All after the cluster's add-ons (cert-manager issues Kueue's
    webhook and metrics certificates from the platform issuer)."""
    def install(key: str, namespace: str, values: dict, after: list[pulumi.Resource],
                ) -> k8s.helm.v3.Release:
        ns = add_on_namespace(f"{name}-{key}-namespace", namespace, args.tags, "restricted",
                              parent)
        return pinned_release(f"{name}-{key}", key, namespace, values, parent,
                              [ns, *args.wait_for, *after])

    jobset = install("jobset", JOBSET_NAMESPACE, jobset_values(), [])
    kuberay = install("kuberay-operator", KUBERAY_NAMESPACE, kuberay_values(), [])
    kueue = install("kueue", KUEUE_NAMESPACE,
                    kueue_values(args.cluster_name, args.manager, CLUSTER_ISSUER),
                    [jobset, kuberay])
    return kueue, jobset, kuberay


def _flavors(name: str, args: WorkQueuesArgs, opts: pulumi.ResourceOptions) -> None:
    labels = object_labels(args.tags)
    plain = [CPU_FLAVOR, *([BURST_FLAVOR] if args.manager else [])]
    for flavor in plain:
        k8s.apiextensions.CustomResource(
            f"{name}-flavor-{flavor}", api_version=KUEUE_API, kind="ResourceFlavor",
            metadata={"name": flavor, "labels": labels}, spec={}, opts=opts)
    for flavor in args.flavors:
        k8s.apiextensions.CustomResource(
            f"{name}-flavor-{flavor.name}", api_version=KUEUE_API, kind="ResourceFlavor",
            metadata={"name": flavor.name, "labels": labels},
            spec=resource_flavor_spec(flavor), opts=opts)


def _priority_classes(name: str, args: WorkQueuesArgs, opts: pulumi.ResourceOptions) -> None:
    for cls, value, description in PRIORITY_CLASSES:
        TopLevelObject(f"{name}-priority-{cls}", KUEUE_API, "WorkloadPriorityClass",
                       {"name": cls, "labels": object_labels(args.tags)},
                       {"value": value, "description": description}, opts)


def _monitors(name: str, args: WorkQueuesArgs, parent: pulumi.Resource,
              after: list[pulumi.Resource]) -> None:
    """Kueue serves metrics over TLS (certificate from the platform issuer) to callers allowed
    `get /metrics`: a ServiceAccount bound to the chart's `kueue-metrics-reader` role, whose
    token the ServiceMonitor presents. KubeRay's operator serves plain HTTP in-cluster."""
    labels = object_labels(args.tags)
    meta = {"namespace": KUEUE_NAMESPACE, "labels": labels}
    opts = pulumi.ResourceOptions(parent=parent, depends_on=after)
    account = k8s.core.v1.ServiceAccount(f"{name}-metrics-scraper",
                                         metadata={"name": METRICS_READER, **meta}, opts=opts)
    k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-metrics-scraper", metadata={"name": METRICS_READER, "labels": labels},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                  "name": "kueue-metrics-reader"},
        subjects=[{"kind": "ServiceAccount", "name": METRICS_READER,
                   "namespace": KUEUE_NAMESPACE}], opts=opts)
    token = k8s.core.v1.Secret(
        f"{name}-metrics-scraper-token",
        metadata={"name": f"{METRICS_READER}-token", **meta,
                  "annotations": {"kubernetes.io/service-account.name": METRICS_READER}},
        type="kubernetes.io/service-account-token",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, account]))
    service = "kueue-controller-manager-metrics-service"
    k8s.apiextensions.CustomResource(
        f"{name}-kueue-monitor", api_version=MONITORING_API, kind="ServiceMonitor",
        metadata={"name": "kueue", **meta},
        spec={"selector": {"matchLabels": {"app.kubernetes.io/name": "kueue",
                                           "app.kubernetes.io/component": "metrics-service"}},
              "endpoints": [{
                  "port": "https", "scheme": "https", "path": "/metrics", "interval": "30s",
                  "authorization": {"type": "Bearer", "credentials": {
                      "name": f"{METRICS_READER}-token", "key": "token"}},
                  "tlsConfig": {"serverName": f"{service}.{KUEUE_NAMESPACE}.svc",
                                "ca": {"secret": {"name": "kueue-metrics-server-cert",
                                                  "key": "ca.crt"}}}}]},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, token]))
    k8s.apiextensions.CustomResource(
        f"{name}-kuberay-monitor", api_version=MONITORING_API, kind="ServiceMonitor",
        metadata={"name": "kuberay-operator", "namespace": KUBERAY_NAMESPACE, "labels": labels},
        spec={"selector": {"matchLabels": {"app.kubernetes.io/name": "kuberay-operator"}},
              "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}]},
        opts=opts)


