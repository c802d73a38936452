"""The `services` section: MLflow, Kafka, monitoring, model serving and work queues, each off
unless configured.

Each service's model lives in its own module here; services run on clusters named by reference:
`onprem` or `<cloud>/<region>` (`aws/eu-west-1`, `gcp/europe-west4`, `azure/westeurope`).
"""

from __future__ import annotations

from stacks.config.base import ConfigModel
from stacks.config.kafka import Kafka
from stacks.config.mlflow import Mlflow
from stacks.config.monitoring import Monitoring
from stacks.config.notebooks import Notebooks
from stacks.config.pipelines import Pipelines
from stacks.config.serving import Serving
from stacks.config.work_queues import WorkQueues

#: A cluster of the stack: `onprem` or `<cloud>/<region>`; checked against `kubernetes`.


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
    work_queues: WorkQueues | None = None
    """Kueue GPU work queues per team (with JobSet and KubeRay) on every cluster with GPU pools,
    and optionally MultiKueue bursting from on-prem to the cloud clusters."""
    notebooks: Notebooks | None = None
    """JupyterHub: team notebooks in the teams' namespaces, through their queues."""
    pipelines: Pipelines | None = None
    """Airflow 3: team pipelines whose tasks run where their data may be."""
