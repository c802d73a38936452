"""The work-queue objects' specs (pure): flavors, queues, MultiKueue, the worker's access."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.kubernetes.gpu_pool import gpu_toleration
from components.kubernetes.work_queues.constants import (
    BURST_FLAVOR,
    COHORT,
    CPU_FLAVOR,
    GPU_RESOURCE,
    KUEUE_API,
    MULTIKUEUE_CONTROLLER,
)
from components.naming import DNS_LABEL

#: AKS taints its spot nodes itself; workloads admitted to an Azure spot flavor tolerate it.
AKS_SPOT_TOLERATION = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                       "value": "spot", "effect": "NoSchedule"}


class FlavorSpec(BaseModel):
    """One GPU ResourceFlavor: where its GPUs are and how many."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
                      description="Flavor name, e.g. nvidia-l4-spot.")
    node_labels: dict[str, str] = Field(min_length=1,
                                        description="Labels of exactly its pools' nodes.")
    spot_toleration: bool = Field(default=False,
                                  description="Also tolerate AKS's own spot taint.")


class GpuShare(BaseModel):
    """A team's share of one GPU flavor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flavor: str = Field(description="The GPU flavor.")
    nominal: int = Field(ge=0, description="GPUs guaranteed to the team.")
    borrowing: int = Field(ge=0, description="GPUs it may borrow beyond that from the cohort.")


class QueueQuota(BaseModel):
    """What one ClusterQueue admits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu: str = Field(description="CPU guaranteed (requests).")
    memory: str = Field(description="Memory guaranteed (requests).")
    gpus: tuple[GpuShare, ...] = Field(default=(), description="Per GPU flavor.")


def resource_flavor_spec(flavor: FlavorSpec) -> dict[str, Any]:
    """Admitted pods get the node labels as a selector and the GPU taint's toleration."""
    tolerations = [gpu_toleration(), *([AKS_SPOT_TOLERATION] if flavor.spot_toleration else [])]
    return {"nodeLabels": dict(flavor.node_labels), "tolerations": tolerations}


def _quota(name: str, nominal: Any, borrowing: Any | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "nominalQuota": nominal}
    if borrowing is not None:
        out["borrowingLimit"] = borrowing
    return out


def cluster_queue_spec(namespace: str, quota: QueueQuota) -> dict[str, Any]:
    """A team's ClusterQueue: only its namespace may use it; CPU and memory of the `standard`
    flavor (its own, never borrowed), GPUs per flavor (guarantee plus a borrowing limit); in
    the cohort, a team takes back what it lent by preempting the borrower, and within the
    team higher priority preempts lower."""
    groups = [{"coveredResources": ["cpu", "memory"], "flavors": [{
        "name": CPU_FLAVOR, "resources": [_quota("cpu", quota.cpu, "0"),
                                          _quota("memory", quota.memory, "0")]}]}]
    if quota.gpus:
        groups.append({"coveredResources": [GPU_RESOURCE], "flavors": [
            {"name": s.flavor, "resources": [_quota(GPU_RESOURCE, s.nominal, s.borrowing)]}
            for s in quota.gpus]})
    return {
        "cohortName": COHORT,
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": groups,
        "preemption": {"reclaimWithinCohort": "Any",
                       "borrowWithinCohort": {"policy": "LowerPriority"},
                       "withinClusterQueue": "LowerPriority"},
    }


def burst_queue_spec(namespace: str, quota: QueueQuota, check: str) -> dict[str, Any]:
    """The team's ClusterQueue on the manager whose workloads MultiKueue dispatches: no cohort
    (nothing is borrowed for work that runs elsewhere), one label-less flavor bounding what
    the team may have dispatched at once, and the team's MultiKueue admission check."""
    resources = [_quota("cpu", quota.cpu, None), _quota("memory", quota.memory, None)]
    resources += [_quota(GPU_RESOURCE, sum(s.nominal + s.borrowing for s in quota.gpus), None)]
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [{"coveredResources": ["cpu", "memory", GPU_RESOURCE],
                            "flavors": [{"name": BURST_FLAVOR, "resources": resources}]}],
        "admissionChecksStrategy": {"admissionChecks": [{"name": check}]},
    }


def admission_check_spec(config_name: str) -> dict[str, Any]:
    """A MultiKueue admission check reading the MultiKueueConfig `config_name`."""
    return {"controllerName": MULTIKUEUE_CONTROLLER,
            "parameters": {"apiGroup": KUEUE_API.split("/")[0], "kind": "MultiKueueConfig",
                           "name": config_name}}


def multikueue_cluster_spec(secret_name: str) -> dict[str, Any]:
    """A worker reached through the kubeconfig in Secret `secret_name` (key `kubeconfig`) of
    Kueue's namespace."""
    return {"clusterSource": {"kubeConfig": {"locationType": "Secret", "location": secret_name}}}


#: What the manager may do on a worker: create and watch the workloads it dispatches and the
#: jobs behind them (Kueue's documented MultiKueue role, limited to the frameworks in use).
WORKER_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["create", "delete", "get", "list", "watch"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
    {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"],
     "verbs": ["create", "delete", "get", "list", "watch"]},
    {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets/status"], "verbs": ["get"]},
    {"apiGroups": ["ray.io"], "resources": ["rayjobs"],
     "verbs": ["create", "delete", "get", "list", "watch"]},
    {"apiGroups": ["ray.io"], "resources": ["rayjobs/status"], "verbs": ["get"]},
    {"apiGroups": ["ray.io"], "resources": ["rayclusters"],
     "verbs": ["create", "delete", "get", "list", "watch", "update", "patch"]},
    {"apiGroups": ["ray.io"], "resources": ["rayclusters/status"], "verbs": ["get"]},
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads"],
     "verbs": ["create", "delete", "get", "list", "watch", "update", "patch"]},
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads/status"],
     "verbs": ["get", "patch", "update"]},
    {"apiGroups": ["kueue.x-k8s.io"], "resources": ["clusterqueues", "localqueues"],
     "verbs": ["get", "list", "watch"]},
)


def worker_kubeconfig(cluster_kubeconfig: str, token: str, name: str) -> str:
    """The kubeconfig the manager reaches a worker with: the worker's API endpoint and CA
    (from the cluster's own kubeconfig, whose user runs a cloud CLI plugin that MultiKueue
    refuses) and the token of the worker's `multikueue-manager` ServiceAccount."""
    if not token:
        raise ValueError(f"worker {name}: the ServiceAccount token is empty")
    source = yaml.safe_load(cluster_kubeconfig)
    cluster = source["clusters"][0]["cluster"]
    if "certificate-authority-data" not in cluster or not cluster["server"].startswith("https://"):
        raise ValueError(f"worker {name}: its kubeconfig needs an https server and a CA")
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"]}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }, sort_keys=False)


def secret_name_for(cluster_name: str) -> str:
    """The manager's Secret holding a worker's kubeconfig."""
    name = f"multikueue-{cluster_name}"
    if len(name) > 63 or not re.match(DNS_LABEL, name):
        raise ValueError(f"{name!r} is not a DNS label")
    return name
