"""Where the services and teams of a stack run, read from the config defensively (pure).

The service models (`stacks/<service>_config.py`) evolve independently, so everything here reads
them by attribute with fallbacks: a service is placed on the clusters named by `clusters`
(refs, or objects with `cluster`), `central`, or its `models[].clusters` / `models[].sites`;
monitoring without a list runs on every cluster.
"""

from __future__ import annotations

import re
from typing import Any

from stacks.cluster_plan import PlannedCluster, planned_clusters
from stacks.config import PlatformConfig

SERVICE_TITLES = {"monitoring": "Monitoring", "mlflow": "MLflow tracking", "kafka": "Kafka",
                  "serving": "Model serving"}
_REF = re.compile(r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$")


def cluster_refs(values: Any) -> list[str]:
    """Cluster refs from a list of refs or of objects naming one (`cluster`, `ref`)."""
    out: list[str] = []
    for v in values or []:
        ref = v if isinstance(v, str) else getattr(v, "cluster", None) or getattr(v, "ref", None)
        if isinstance(ref, str) and _REF.match(ref) and ref not in out:
            out.append(ref)
    return out


def models(serving: Any) -> list[Any]:
    return list(getattr(serving, "models", None) or [])


def model_name(model: Any) -> str:
    return str(getattr(model, "name", None) or "model")


def model_refs(model: Any) -> list[str]:
    return cluster_refs(getattr(model, "clusters", None) or getattr(model, "sites", None))


def service_placements(cfg: PlatformConfig) -> dict[str, list[str]]:
    """Which clusters each configured service runs on: service name -> cluster refs."""
    services = cfg.services
    every = [c.ref for c in planned_clusters(cfg)]
    out: dict[str, list[str]] = {}
    for name in type(services).model_fields:
        svc = getattr(services, name, None)
        if svc is None:
            continue
        refs = cluster_refs(getattr(svc, "clusters", None))
        if name == "monitoring" and not refs:
            refs = list(every)  # monitoring runs on every cluster of the stack
        for ref in cluster_refs([getattr(svc, "central", None)]):
            refs += [ref] if ref not in refs else []
        for model in models(svc):
            refs += [r for r in model_refs(model) if r not in refs]
        out[name] = [r for r in every if r in refs]  # stack order; only clusters of the stack
    return out


def service_lines(name: str, svc: Any, ref: str) -> tuple[str, ...]:
    title = SERVICE_TITLES.get(name, name.replace("_", " ").capitalize())
    if name == "monitoring":
        if getattr(svc, "central", None) == ref:
            return (f"{title} (central)", "Prometheus · Alertmanager · Grafana")
        return (title, "Prometheus, remote-writes centrally")
    if name == "mlflow":
        return (title, "PostgreSQL backend")
    if name == "kafka":
        entry = next((c for c in getattr(svc, "clusters", None) or []
                      if getattr(c, "cluster", None) == ref), None)
        if entry is not None and getattr(entry, "layout", None) == "combined":
            return (title, "3 combined KRaft nodes")
        brokers = getattr(entry, "brokers", None)
        return (title, f"{brokers} brokers (KRaft)") if brokers else (title,)
    if name == "serving":
        lines = [title]
        for model in models(svc):
            if ref not in model_refs(model):
                continue
            name = model_name(model)
            stable = getattr(getattr(model, "stable", None), "version", None)
            text = f"{name} v{stable}" if stable else name
            canary = getattr(model, "canary", None)
            if canary is not None:
                weight = getattr(canary, "weight", None)
                text += f" + canary v{getattr(canary, 'version', '?')}"
                text += f" ({weight}%)" if weight is not None else ""
            lines.append(text)
        return tuple(lines)
    return (title,)


def _team_entries(teams: Any) -> list[tuple[str, Any]]:
    if isinstance(teams, dict):
        return [(str(k), v) for k, v in teams.items()]
    return [(str(getattr(t, "name", None) or (t.get("name") if isinstance(t, dict) else t)), t)
            for t in teams or []]


def team_placements(teams: Any, clusters: list[PlannedCluster]) -> dict[str, list[str]]:
    """Team name -> cluster refs. Hook for the teams config (not in the config model yet):
    each team names `clusters` (refs) or `sites` (`onprem`, a cloud, or a ref)."""
    out: dict[str, list[str]] = {}
    for name, team in _team_entries(teams):
        get = team.get if isinstance(team, dict) else (lambda k, t=team: getattr(t, k, None))
        wanted = list(get("clusters") or get("sites") or [])
        out[name] = [c.ref for c in clusters if c.ref in wanted or c.site in wanted]
    return out
