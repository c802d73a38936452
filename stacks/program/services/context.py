"""What every service builder receives, and what builders hand on to the ones built after them.

A builder gets the `ServiceContext` (what exists before any service: config, providers,
networks, clusters, stores) and `Built`, the results of the services registered before it.
It returns its own result; nothing is filled in behind another builder's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.kubernetes.postgres_onprem import CloudNativePgOperator, CloudNativePgOperatorArgs
from components.tags import StandardTags
from stacks.config.platform import PlatformConfig
from stacks.program.clusters import Cluster
from stacks.program.network import Networks
from stacks.program.providers import Providers

#: An artifact store component by (store name, cloud, region), e.g. ("artifacts", "aws", "eu-west-1").
StoreKey = tuple[str, str, str]

#: Each built service's result by its registry key (`monitoring`, `mlflow`, ...).
Built = Mapping[str, Any]


@dataclass(frozen=True)
class ServiceContext:
    """Everything that exists before the services: what a service's wiring may use."""

    cfg: PlatformConfig
    providers: Providers
    networks: Networks
    #: Every cluster by config reference (`onprem`, `aws/eu-west-1`, ...).
    clusters: dict[str, Cluster]
    #: Artifact store components (aws/gcp/azure ArtifactStore) by StoreKey.
    stores: dict[StoreKey, Any]
    tags: StandardTags
    #: PEM of the platform root CA: every cluster's `platform-ca` ClusterIssuer is an
    #: intermediate under it, so a client trusting this reaches any cluster's Gateway over TLS.
    platform_ca_pem: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class MonitoringBuilt:
    """What monitoring hands on."""

    #: Per cluster ref: the resource that installs the Prometheus Operator CRDs (ServiceMonitor,
    #: PodMonitor, PrometheusRule). Services that create monitors depend on it.
    crds: dict[str, pulumi.Resource]


@dataclass(frozen=True)
class MlflowBuilt:
    """What MLflow hands on."""

    #: Per cluster ref: in-cluster base URL of that cluster's MLflow tracking server.
    urls: dict[str, str]
    #: Per cluster ref: that cluster's MLflow at the Gateway (behind its sign-on).
    gateway_urls: dict[str, str]
    #: Per cluster ref: the CloudNativePG operator its on-prem database installed.
    cnpg_operators: dict[str, pulumi.Resource] = field(default_factory=dict)


@dataclass(frozen=True)
class NotebooksBuilt:
    """What the notebooks hand on."""

    #: Per cluster ref: the hub's URL at the Gateway (teams get their access where a hub runs).
    urls: dict[str, str]
    #: Per cluster ref: the CloudNativePG operator the hub's database installed.
    cnpg_operators: dict[str, pulumi.Resource] = field(default_factory=dict)


@dataclass(frozen=True)
class KafkaBuilt:
    """What Kafka hands on."""

    #: Per cluster ref: the KafkaCluster component there.
    clusters: dict[str, Any]


def monitoring_crds(built: Built, ref: str) -> pulumi.Resource | None:
    """The monitoring CRDs on cluster `ref`; None without monitoring (then no monitors are made)."""
    monitoring: MonitoringBuilt | None = built.get("monitoring")
    return monitoring.crds.get(ref) if monitoring is not None else None


def mlflow_gateway_url(built: Built, ref: str) -> str | None:
    """MLflow at the Gateway of cluster `ref`, if MLflow runs there."""
    mlflow: MlflowBuilt | None = built.get("mlflow")
    return mlflow.gateway_urls.get(ref) if mlflow is not None else None


def kafka_cluster(built: Built, ref: str) -> Any:
    """The KafkaCluster component on cluster `ref` (Kafka must run there)."""
    kafka: KafkaBuilt = built["kafka"]
    return kafka.clusters[ref]


def cnpg_operator(built: Built, cluster: Cluster, tags: StandardTags,
                  installed: dict[str, pulumi.Resource]) -> pulumi.Resource:
    """The CloudNativePG operator release of `cluster`, one per cluster whoever needs it: the
    one a service built earlier installed there (each hands its own on as `cnpg_operators`),
    else a new one, recorded in `installed` (the caller's `cnpg_operators`)."""
    ref = cluster.plan.ref
    for result in built.values():
        earlier = getattr(result, "cnpg_operators", {})
        if ref in earlier:
            return earlier[ref]
    if ref not in installed:
        installed[ref] = CloudNativePgOperator(
            f"cnpg-{cluster.plan.name}", CloudNativePgOperatorArgs(tags=tags),
            pulumi.ResourceOptions(providers=[cluster.provider])).release
    return installed[ref]
