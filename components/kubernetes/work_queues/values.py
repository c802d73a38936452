"""Helm values of the three work-queue charts (pure): Kueue, JobSet, the KubeRay operator."""

from __future__ import annotations

from typing import Any

import yaml

from components.kubernetes.charts import CHARTS, container_resources
from components.kubernetes.work_queues.constants import TEAM_NAMESPACE_LABEL

#: What Kueue manages: batch Jobs, JobSets, RayJobs and RayClusters (the team-member Role may
#: create exactly these), and plain pods: the notebook servers JupyterHub starts in a team's
#: namespace (GPU ones carry the queue label; with manageJobsWithoutQueueName every plain pod
#: in a team namespace is queued, CPU servers against the team's CPU/memory share). Pods owned
#: by the frameworks above are theirs, not queued twice.
FRAMEWORKS = ("batch/job", "jobset.x-k8s.io/jobset", "ray.io/rayjob", "ray.io/raycluster", "pod")
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                       "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                       "seccompProfile": {"type": "RuntimeDefault"}}


def _tag(key: str) -> str:
    version = CHARTS[key].version
    return version if version.startswith("v") else f"v{version}"


def kueue_configuration(cluster_name: str, manager: bool) -> dict[str, Any]:
    """Kueue's own Configuration (config.kueue.x-k8s.io/v1beta2)."""
    config: dict[str, Any] = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        # Per-ClusterQueue resource metrics feed the teams' dashboards (usage, borrowing).
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        # In team namespaces the queue is the only way to GPUs: a job naming no queue is
        # defaulted to the LocalQueue `default` and waits there like any other.
        "manageJobsWithoutQueueName": True,
        "managedJobsNamespaceSelector": {"matchExpressions": [
            {"key": TEAM_NAMESPACE_LABEL, "operator": "Exists"}]},
        # All-or-nothing for multi-pod training: a workload whose pods are not all running
        # within 10 minutes gives its quota back and is queued again (with back-off).
        "waitForPodsReady": {"timeout": "10m", "blockAdmission": False,
                             "requeuingStrategy": {"timestamp": "Eviction",
                                                   "backoffBaseSeconds": 60,
                                                   "backoffMaxSeconds": 3600}},
        "integrations": {"frameworks": list(FRAMEWORKS)},
    }
    if manager:
        # `origin` marks the copies this manager creates on its workers (garbage-collected
        # when the original goes); a worker that stops answering loses its workloads after
        # 15 minutes, which are then dispatched again.
        config["multiKueue"] = {"gcInterval": "1m", "origin": cluster_name,
                                "workerLostTimeout": "15m"}
    return config


def kueue_values(cluster_name: str, manager: bool, issuer: str) -> dict[str, Any]:
    """Values of the `kueue` chart: two leader-elected replicas, restricted security contexts,
    certificates for webhooks and metrics from the cluster's `issuer` ClusterIssuer."""
    return {
        "enableCertManager": True,
        "certManager": {"issuerRef": {"name": issuer, "kind": "ClusterIssuer",
                                      "group": "cert-manager.io"}},
        "controllerManager": {
            "replicas": 2,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "manager": {
                "image": {"repository": "registry.k8s.io/kueue/kueue", "tag": _tag("kueue"),
                          "pullPolicy": "IfNotPresent"},
                "resources": container_resources("500m", "512Mi", "2", "512Mi"),
                "podSecurityContext": dict(_POD_SECURITY),
                "containerSecurityContext": dict(_CONTAINER_SECURITY),
            },
        },
        "managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(
            kueue_configuration(cluster_name, manager), sort_keys=False)},
    }


def jobset_values() -> dict[str, Any]:
    """Values of the `jobset` chart: two leader-elected replicas, restricted contexts."""
    return {
        "image": {"repository": "registry.k8s.io/jobset/jobset", "tag": _tag("jobset"),
                  "pullPolicy": "IfNotPresent"},
        "controller": {
            "replicas": 2,
            "leaderElection": {"enable": True},
            "resources": container_resources("500m", "128Mi", "2", "1Gi"),
            "securityContext": dict(_CONTAINER_SECURITY),
            "podSecurityContext": dict(_POD_SECURITY),
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        },
    }


def kuberay_values() -> dict[str, Any]:
    """Values of the `kuberay-operator` chart: leader election, restricted contexts, metrics
    on (scraped by a ServiceMonitor of our own), no batch scheduler (Kueue suspends and admits
    RayJobs and RayClusters itself)."""
    return {
        "image": {"repository": "quay.io/kuberay/operator", "tag": _tag("kuberay-operator"),
                  "pullPolicy": "IfNotPresent"},
        "leaderElectionEnabled": True,
        "batchScheduler": {"enabled": False},
        "resources": container_resources("100m", "512Mi", "1", "512Mi"),
        "podSecurityContext": dict(_POD_SECURITY),
        "securityContext": dict(_CONTAINER_SECURITY),
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
    }
