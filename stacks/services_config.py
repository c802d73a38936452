"""The `services` section of the platform config: MLflow, Kafka, monitoring and model serving.

Each service has its own model module (`stacks/<service>_config.py`) with its checks of meaning
(`problems(cfg)`) and the secret config keys it names (`secret_keys(cfg)`); this module only
gathers them. Services run on clusters named by reference: `onprem` or `<cloud>/<region>`
(`aws/eu-west-1`, `gcp/europe-west4`, `azure/westeurope`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from stacks.config_base import ConfigModel
from stacks.kafka_config import Kafka
from stacks.mlflow_config import Mlflow
from stacks.monitoring_config import Monitoring
from stacks.serving_config import Serving

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem

#: A cluster of the stack: `onprem` or `<cloud>/<region>`; checked against `kubernetes`.
ClusterRef = Annotated[str, Field(pattern=r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$")]


class Services(ConfigModel):
    """The ML platform services; each is off unless configured."""

    monitoring: Monitoring | None = None
    """kube-prometheus-stack on every cluster, aggregated into one central Prometheus/Grafana."""
    mlflow: Mlflow | None = None
    """MLflow tracking servers with managed PostgreSQL and the site's artifact store."""
    kafka: Kafka | None = None
    """Strimzi Kafka clusters, topics, users and cross-site MirrorMaker2."""
    serving: Serving | None = None
    """GPU model serving with canary split and cross-site DNS failover."""


def services_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Every service's checks of meaning (clusters exist, namespaces exist, ...)."""
    from stacks import kafka_config, mlflow_config, monitoring_config, serving_config

    out: list[ConfigProblem] = []
    for module in (monitoring_config, mlflow_config, kafka_config, serving_config):
        out += module.problems(cfg)
    return out


def services_secret_keys(cfg: PlatformConfig) -> list[str]:
    """Secret config keys (without the project prefix) the services read."""
    from stacks import kafka_config, mlflow_config, monitoring_config, serving_config

    out: list[str] = []
    for module in (monitoring_config, mlflow_config, kafka_config, serving_config):
        out += module.secret_keys(cfg)
    return sorted(set(out))
