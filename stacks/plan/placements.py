"""Which clusters each service runs on, derived from its config (pure).

Services name their clusters by reference: a list `clusters` (refs, or entries with `cluster`),
a `central` cluster, or per-model `clusters`. Monitoring runs on every cluster of the stack.
"""

from __future__ import annotations

import re
from typing import Any

from stacks.config.base import CLUSTER_REF
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import planned_clusters

_REF = re.compile(CLUSTER_REF)


def cluster_refs(values: Any) -> list[str]:
    """Cluster refs from a list of refs or of objects naming one (`cluster`, `ref`)."""
    out: list[str] = []
    for v in values or []:
        ref = v if isinstance(v, str) else getattr(v, "cluster", None) or getattr(v, "ref", None)
        if isinstance(ref, str) and _REF.match(ref) and ref not in out:
            out.append(ref)
    return out


def model_refs(model: Any) -> list[str]:
    """The clusters one served model runs on."""
    return cluster_refs(getattr(model, "clusters", None) or getattr(model, "sites", None))


def _in_stack_order(cfg: PlatformConfig, refs: list[str]) -> list[str]:
    return [c.ref for c in planned_clusters(cfg) if c.ref in refs]


def every_cluster(cfg: PlatformConfig) -> list[str]:
    """Every cluster of the stack (monitoring)."""
    return [c.ref for c in planned_clusters(cfg)]


def listed_clusters(cfg: PlatformConfig, service: Any) -> list[str]:
    """The clusters a service lists in `clusters` (MLflow, Kafka)."""
    return _in_stack_order(cfg, cluster_refs(getattr(service, "clusters", None)))


def model_clusters(cfg: PlatformConfig, service: Any) -> list[str]:
    """Every cluster any of the service's models runs on (serving)."""
    refs: list[str] = []
    for model in getattr(service, "models", None) or []:
        refs += [r for r in model_refs(model) if r not in refs]
    return _in_stack_order(cfg, refs)
