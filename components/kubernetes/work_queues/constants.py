"""Names and API versions the work-queue objects share (one definition each)."""

from __future__ import annotations

#: The API the pinned Kueue serves (v0.20 no longer serves v1beta1).
KUEUE_API = "kueue.x-k8s.io/v1beta2"
#: Namespaces of the three controllers (add-on namespaces, restricted Pod Security).
KUEUE_NAMESPACE = "kueue-system"
JOBSET_NAMESPACE = "jobset-system"
KUBERAY_NAMESPACE = "kuberay-system"
#: Label on every team namespace (value: the team); Kueue manages every job there, so a job
#: without a queue name is held by the queue instead of bypassing it.
TEAM_NAMESPACE_LABEL = "hybridml.io/team"
#: The LocalQueue in each team namespace; Kueue's LocalQueue defaulting gives it to jobs that
#: name no queue.
DEFAULT_QUEUE = "default"
#: The LocalQueue whose workloads MultiKueue dispatches to the team's burst clusters (on the
#: manager), and which receives them there (on each worker).
BURST_QUEUE = "burst"
#: The cohort every team's ClusterQueue of a cluster belongs to: idle guarantees are lent there.
COHORT = "teams"
#: The ResourceFlavor of CPU and memory (no node labels) and, on the manager, of bursts.
CPU_FLAVOR = "standard"
BURST_FLAVOR = "burst"
GPU_RESOURCE = "nvidia.com/gpu"
#: The admission-check controller of MultiKueue.
MULTIKUEUE_CONTROLLER = "kueue.x-k8s.io/multikueue"
#: On each worker: the identity the manager acts as.
WORKER_SERVICE_ACCOUNT = "multikueue-manager"
#: Labels of a MultiKueueCluster naming where the worker is (read by the policy pack).
CLUSTER_SITE_LABEL = "hybridml.io/cluster-site"
CLUSTER_REGION_LABEL = "hybridml.io/cluster-region"
#: Workload priority classes (name, value, what for); a workload without one has priority 0.
PRIORITY_CLASSES: tuple[tuple[str, int, str], ...] = (
    ("production", 1000, "Training that a release waits for; preempts batch and opportunistic "
                         "work of its own team."),
    ("batch", 100, "Ordinary experiments and retraining."),
    ("opportunistic", 10, "Runs only on what is idle; the first to be preempted."),
)
#: The Ray head's dashboard port: the KubeRay operator asks it about RayJobs.
RAY_DASHBOARD_PORT = 8265
#: The KubeRay operator's Prometheus port (plain HTTP inside the cluster).
KUBERAY_METRICS_PORT = 8080
