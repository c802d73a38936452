"""The platform services, each registered once: the one list every layer reads.

A service is its config model (a field of `stacks/config/services.Services`), its checks of
meaning (`stacks/checks/<service>.py`), its secret config keys and placements
(`stacks/plan/<service>.py`), its builder (`stacks/program/services/<service>.py`), and one
`Service` record below. Validation, the preview's secret placeholders, the program and the
platform graph all iterate `SERVICES`; no other list of services exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stacks.checks import kafka as kafka_checks
from stacks.checks import mlflow as mlflow_checks
from stacks.checks import monitoring as monitoring_checks
from stacks.checks import notebooks as notebook_checks
from stacks.checks import pipelines as pipeline_checks
from stacks.checks import serving as serving_checks
from stacks.checks import work_queues as work_queue_checks
from stacks.checks.problems import ConfigProblem
from stacks.config.platform import PlatformConfig
from stacks.plan import kafka as kafka_plan
from stacks.plan import mlflow as mlflow_plan
from stacks.plan import monitoring as monitoring_plan
from stacks.plan import notebooks as notebook_plan
from stacks.plan import pipelines as pipeline_plan
from stacks.plan import serving as serving_plan
from stacks.plan import work_queues as work_queue_plan
from stacks.plan.placements import every_cluster, listed_clusters, model_clusters
from stacks.program.services.context import Built, ServiceContext
from stacks.program.services.kafka import build_kafka
from stacks.program.services.mlflow import build_mlflow
from stacks.program.services.monitoring import build_monitoring
from stacks.program.services.notebooks import build_notebooks
from stacks.program.services.pipelines import build_pipelines
from stacks.program.services.serving import build_serving
from stacks.program.services.work_queues import build_work_queues


@dataclass(frozen=True)
class Service:
    """One platform service, as every layer sees it."""

    #: Its field in `services` (the config key `services.<key>`).
    key: str
    #: Its name in the platform graph.
    title: str
    #: Checks of meaning, run once the clusters are sound; key-path problems.
    checks: Callable[[PlatformConfig], list[ConfigProblem]]
    #: Secret config keys (without the project prefix) it reads.
    secret_keys: Callable[[PlatformConfig], list[str]]
    #: The cluster refs it runs on, given its config.
    placements: Callable[[PlatformConfig, Any], list[str]]
    #: Creates it; gets the results of the services before it, returns its own.
    build: Callable[[ServiceContext, Built], Any]

    def config(self, cfg: PlatformConfig) -> Any:
        """Its config, or None when the stack does not configure it."""
        return getattr(cfg.services, self.key)


#: Build order: monitoring first (its CRDs carry every service's monitors and rules).
SERVICES: tuple[Service, ...] = (
    Service("monitoring", "Monitoring", monitoring_checks.problems, monitoring_plan.secret_keys,
            lambda cfg, _svc: every_cluster(cfg), build_monitoring),
    Service("mlflow", "MLflow tracking", mlflow_checks.problems, mlflow_plan.secret_keys,
            listed_clusters, build_mlflow),
    Service("kafka", "Kafka", kafka_checks.problems, kafka_plan.secret_keys,
            listed_clusters, build_kafka),
    Service("serving", "Model serving", serving_checks.problems, serving_plan.secret_keys,
            model_clusters, build_serving),
    Service("work_queues", "GPU work queues", work_queue_checks.problems,
            work_queue_plan.secret_keys, lambda cfg, _svc: work_queue_plan.queue_clusters(cfg),
            build_work_queues),
    Service("notebooks", "Team notebooks (JupyterHub)", notebook_checks.problems,
            notebook_plan.secret_keys, listed_clusters, build_notebooks),
    Service("pipelines", "Airflow pipelines", pipeline_checks.problems, pipeline_plan.secret_keys,
            listed_clusters, build_pipelines),
)


def configured(cfg: PlatformConfig) -> list[Service]:
    """The services this stack configures, in build order."""
    return [s for s in SERVICES if s.config(cfg) is not None]


def service_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Every service's checks of meaning (clusters exist, namespaces exist, ...)."""
    out: list[ConfigProblem] = []
    for service in SERVICES:
        out += service.checks(cfg)
    return out


def service_secret_keys(cfg: PlatformConfig) -> list[str]:
    """Secret config keys (without the project prefix) the services read."""
    out: list[str] = []
    for service in SERVICES:
        out += service.secret_keys(cfg)
    return sorted(set(out))


def service_placements(cfg: PlatformConfig) -> dict[str, list[str]]:
    """Which clusters each configured service runs on: service key -> cluster refs."""
    return {s.key: s.placements(cfg, s.config(cfg)) for s in configured(cfg)}


def build_services(ctx: ServiceContext) -> Built:
    """Every configured service, in registry order; each exports its own stack output."""
    built: dict[str, Any] = {}
    for service in configured(ctx.cfg):
        built[service.key] = service.build(ctx, built)
    return built
