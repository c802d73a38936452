"""Compose the ML platform services on the clusters: monitoring first (its CRDs carry every
service's ServiceMonitors and rules), then MLflow, Kafka and model serving.

Each service's wiring lives in `stacks/<service>.py` and gets the same `ServiceContext`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.tags import StandardTags
from stacks.clusters import Cluster
from stacks.config import PlatformConfig
from stacks.network import Networks
from stacks.providers import Providers

#: An artifact store component by (store name, cloud, region), e.g. ("artifacts", "aws", "eu-west-1").
StoreKey = tuple[str, str, str]


@dataclass
class ServiceContext:
    """Everything a service's wiring may use; filled in as services are built."""

    cfg: PlatformConfig
    providers: Providers
    networks: Networks
    #: Every cluster by config reference (`onprem`, `aws/eu-west-1`, ...).
    clusters: dict[str, Cluster]
    #: Artifact store components (aws/gcp/azure ArtifactStore) by StoreKey.
    stores: dict[StoreKey, Any]
    tags: StandardTags
    #: Per cluster ref: the resource that installs the Prometheus Operator CRDs (ServiceMonitor,
    #: PodMonitor, PrometheusRule). Services that create monitors depend on it. Empty when
    #: monitoring is not configured: then services create no monitors.
    monitoring_crds: dict[str, pulumi.Resource] = field(default_factory=dict)
    #: Per cluster ref: in-cluster base URL of that cluster's MLflow tracking server.
    mlflow_urls: dict[str, str] = field(default_factory=dict)
    #: Per cluster ref: that cluster's MLflow at the Gateway (behind its sign-on).
    mlflow_gateway_urls: dict[str, str] = field(default_factory=dict)
    #: Per cluster ref: the KafkaCluster component there.
    kafka_clusters: dict[str, Any] = field(default_factory=dict)
    #: PEM of the platform root CA: every cluster's `platform-ca` ClusterIssuer is an
    #: intermediate under it, so a client trusting this reaches any cluster's Gateway over TLS.
    platform_ca_pem: pulumi.Output[str] | None = None


def build_services(ctx: ServiceContext) -> None:
    """Every configured service, in dependency order; each exports its own stack output."""
    from stacks.kafka import build_kafka
    from stacks.mlflow import build_mlflow
    from stacks.monitoring import build_monitoring
    from stacks.serving import build_serving

    services = ctx.cfg.services
    if services.monitoring is not None:
        build_monitoring(ctx)
    if services.mlflow is not None:
        build_mlflow(ctx)
    if services.kafka is not None:
        build_kafka(ctx)
    if services.serving is not None:
        build_serving(ctx)
