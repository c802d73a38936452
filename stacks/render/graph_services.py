"""What the platform graph says about each service and team on a cluster (pure).

Where a service runs comes from its registry record (`stacks.program.services.SERVICES`); the
lines here read the service models by attribute with fallbacks, so a new service shows its
title without code here.
"""

from __future__ import annotations

from typing import Any

from stacks.plan.clusters import PlannedCluster
from stacks.plan.placements import model_refs
from stacks.program.services import Service


def models(serving: Any) -> list[Any]:
    return list(getattr(serving, "models", None) or [])


def model_name(model: Any) -> str:
    return str(getattr(model, "name", None) or "model")


def service_lines(service: Service, svc: Any, ref: str) -> tuple[str, ...]:
    """The lines of a service's box on cluster `ref`: its registered title, then detail."""
    name, title = service.key, service.title
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
