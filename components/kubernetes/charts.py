"""Every Helm chart the platform installs, pinned in one place, and the one way to install one.

A pin names the exact chart version and where that version was checked, so a bump is a
one-line, reviewable change here. Charts are installed only as `helm.v3.Release`: one resource
whose chart, version, repository and values the offline preview can capture and list
(`helm.v4.Chart` renders templates through provider invokes, which cannot run offline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ChartPin:
    """One chart at one exact version."""

    chart: str  # chart name in `repository`, or a full oci:// reference
    version: str
    repository: str | None  # https Helm repository URL; None for OCI charts
    source: str  # where the version was checked (release page / release notes)


CHARTS: dict[str, ChartPin] = {
    "cert-manager": ChartPin(
        chart="cert-manager",
        version="v1.19.4",
        repository="https://charts.jetstack.io",
        source="https://github.com/cert-manager/cert-manager/releases/tag/v1.19.4",
    ),
    "envoy-gateway": ChartPin(
        chart="oci://docker.io/envoyproxy/gateway-helm",
        version="v1.6.3",
        repository=None,
        source="https://gateway.envoyproxy.io/news/releases/notes/v1.6.3/",
    ),
    "metrics-server": ChartPin(
        chart="metrics-server",
        version="3.13.0",
        repository="https://kubernetes-sigs.github.io/metrics-server/",
        source="https://github.com/kubernetes-sigs/metrics-server/releases/tag/metrics-server-helm-chart-3.13.0",
    ),
    "gpu-operator": ChartPin(
        chart="gpu-operator",
        version="v25.10.1",
        repository="https://helm.ngc.nvidia.com/nvidia",
        source="https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/release-notes.html",
    ),
    # EKS only (GKE and AKS autoscale pools themselves). The image tag follows the cluster's
    # minor version; chart 9.47.0+ supports 1.33 (kubernetes/autoscaler cluster-autoscaler README).
    "cluster-autoscaler": ChartPin(
        chart="cluster-autoscaler",
        version="9.47.0",
        repository="https://kubernetes.github.io/autoscaler",
        source="https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases",
    ),
    # --- ML platform services (#6) ---
    "kube-prometheus-stack": ChartPin(
        chart="kube-prometheus-stack",
        version="92.16.1",
        repository="https://prometheus-community.github.io/helm-charts",
        source="https://github.com/prometheus-community/helm-charts/releases/tag/kube-prometheus-stack-92.16.1",
    ),
    # 1.0.x serves only the kafka.strimzi.io/v1 API (v1 came in 0.49); Kafka 4.1.x and 4.2.0.
    "strimzi-kafka-operator": ChartPin(
        chart="oci://quay.io/strimzi-helm/strimzi-kafka-operator",
        version="1.0.1",
        repository=None,
        source="https://github.com/strimzi/strimzi-kafka-operator/releases/tag/1.0.1",
    ),
    # Operator 1.30.0 (chart appVersion), kubeVersion >=1.29 (https://cloudnative-pg.io/charts/index.yaml).
    "cloudnative-pg": ChartPin(
        chart="cloudnative-pg",
        version="0.29.0",
        repository="https://cloudnative-pg.github.io/charts",
        source="https://github.com/cloudnative-pg/charts/releases/tag/cloudnative-pg-v0.29.0",
    ),
    # --- GPU work queues (#17) ---
    # 0.20 serves only kueue.x-k8s.io/v1beta2 (v1beta1 removed); MultiKueue kubeconfigs must
    # be secure (no exec plugins, no insecure TLS) since 0.15.
    "kueue": ChartPin(
        chart="oci://registry.k8s.io/kueue/charts/kueue",
        version="0.20.7",
        repository=None,
        source="https://github.com/kubernetes-sigs/kueue/releases/tag/v0.20.7",
    ),
    "jobset": ChartPin(
        chart="oci://registry.k8s.io/jobset/charts/jobset",
        version="0.12.0",
        repository=None,
        source="https://github.com/kubernetes-sigs/jobset/releases/tag/v0.12.0",
    ),
    # Operator v1.7.0 (chart appVersion); ray.io/v1 RayJob, RayCluster.
    "kuberay-operator": ChartPin(
        chart="kuberay-operator",
        version="1.7.0",
        repository="https://ray-project.github.io/kuberay-helm/",
        source="https://github.com/ray-project/kuberay/releases/tag/v1.7.0",
    ),
    # Team notebooks (#18): hub image jupyterhub 5.5.0, oauthenticator 17.4.0, kubespawner 7.0.0
    # (images/hub/requirements.txt at tag 4.4.0; tests/jupyterhub_real/requirements.txt).
    "jupyterhub": ChartPin(
        chart="jupyterhub",
        version="4.4.0",
        repository="https://hub.jupyter.org/helm-chart/",
        source="https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/4.4.0/docs/source/changelog.md",
    ),
    # Pipelines (services.pipelines): the official chart; its latest release in the chart index
    # is 1.22.0 (2026-06-04). It runs Airflow 3.3.2 (values airflowVersion/defaultAirflowTag),
    # the version tests/airflow_real/requirements.txt parses the DAGs with.
    "airflow": ChartPin(
        chart="airflow",
        version="1.22.0",
        repository="https://airflow.apache.org",
        source="https://github.com/apache/airflow-site/pull/1554 (chart index 1.22.0) and "
               "https://pypi.org/project/apache-airflow/3.3.2/",
    ),
}


@dataclass(frozen=True)
class ImagePin:
    """One container image at one exact version (tag, optionally with a digest)."""

    image: str  # repository/name:tag[@sha256:...]
    source: str  # where the version was checked


#: Every container image the platform runs directly (not through a chart), pinned once.
IMAGES: dict[str, ImagePin] = {
    # The -full variant (published from v3.9.0; docker/Dockerfile.full: mlflow[extras,azure,db,
    # gateway,genai,auth]) carries psycopg2, boto3, google-cloud-storage, azure-storage-blob,
    # azure-identity and prometheus-flask-exporter; the plain image has core MLflow only.
    "mlflow": ImagePin(
        image="ghcr.io/mlflow/mlflow:v3.18.0-full",
        source="https://pypi.org/project/mlflow/3.18.0/ and https://github.com/mlflow/mlflow/tree/master/docker",
    ),
}


def image(key: str) -> str:
    """The pinned image reference for `key`."""
    if key not in IMAGES:
        raise KeyError(f"no pinned image {key!r}; pinned: {', '.join(IMAGES)}")
    return IMAGES[key].image

#: Seconds Helm waits for each chart's objects to become ready before rolling back.
RELEASE_TIMEOUT = 600
#: Release revisions Helm keeps (enough to roll back a few upgrades, not an unbounded history).
RELEASE_MAX_HISTORY = 5


def release_args(key: str) -> dict[str, Any]:
    """`chart`, `version` and (for https repositories) `repository_opts` of a pinned chart."""
    if key not in CHARTS:
        raise KeyError(f"no pinned chart {key!r}; pinned: {', '.join(CHARTS)}")
    pin = CHARTS[key]
    args: dict[str, Any] = {"chart": pin.chart, "version": pin.version}
    if pin.repository is not None:
        args["repository_opts"] = k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository)
    return args


def pinned_release(
    name: str,
    key: str,
    namespace: str,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    provider: pulumi.ProviderResource | None = None,
) -> k8s.helm.v3.Release:
    """Install the pinned chart `key` as release `key` into `namespace`, all-or-nothing.

    The namespace is created by the caller (so it appears in the manifests with its Pod
    Security labels), never by Helm. Values must hold no secrets: they are stored in the
    release and in the plan in clear.
    """
    return k8s.helm.v3.Release(
        name,
        name=key,
        namespace=namespace,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        create_namespace=False,
        timeout=RELEASE_TIMEOUT,
        max_history=RELEASE_MAX_HISTORY,
        **release_args(key),
        # `provider` for a parent that is not itself on the cluster (a cloud's cluster component).
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), provider=provider),
    )


def container_resources(
    request_cpu: str, request_memory: str, limit_cpu: str, limit_memory: str
) -> dict[str, dict[str, str]]:
    """A container's `resources` value, in the shape every chart here takes."""
    return {
        "requests": {"cpu": request_cpu, "memory": request_memory},
        "limits": {"cpu": limit_cpu, "memory": limit_memory},
    }
