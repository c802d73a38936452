"""What `services.pipelines` and `teams[].pipelines` mean, checked: clusters, namespace, log
stores, and that a team's tasks are placed only where its data may be."""

from __future__ import annotations

from typing import Any

from components.regions import ONPREM
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.pipelines import site_allowed


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Key-path problems of the pipelines config (none when the stack has no pipelines)."""
    out: list[ConfigProblem] = []
    p = cfg.services.pipelines

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(key_path(loc), value, allowed))

    for i, team in enumerate(cfg.teams):
        if team.pipelines is None:
            continue
        loc = ("teams", i, "pipelines")
        if p is None:
            add(loc, "<pipelines>", "only with services.pipelines configured; add it or remove this key")
            continue
        cls = team.data_classification or cfg.residency.default_classification
        ok = ", ".join(s for s in team.sites if site_allowed(cfg, team, s)) or "none"
        for j, ref in enumerate(team.pipelines.sites or []):
            if not site_allowed(cfg, team, ref):
                add((*loc, "sites", j), ref, f"outside the residency of the team's {cls!r} data; "
                    f"allowed: the team's sites that residency allows ({ok})")
            elif ref not in team.sites:
                add((*loc, "sites", j), ref, f"not one of the team's sites; allowed: {ok}")
    if p is None:
        return out
    svc = ("services", "pipelines")
    refs = clusters_by_ref(cfg)
    known = ", ".join(refs) or "none (configure kubernetes first)"
    for i, ref in enumerate(p.clusters):
        if ref not in refs:
            add((*svc, "clusters", i), ref, f"allowed: clusters of this stack ({known})")
        elif p.clusters.index(ref) != i:
            add((*svc, "clusters", i), ref, "each cluster may appear once")
        elif ref != ONPREM:
            add((*svc, "clusters", i), ref, "Airflow runs on the on-prem cluster (tasks reach the "
                "cloud sites over the VPN); allowed: onprem")
    if ONPREM in p.clusters and ONPREM in refs and p.onprem is None:
        add((*svc, "onprem"), MISSING, "required when onprem is in services.pipelines.clusters: "
            "logs (endpointUrl, endpointCidrs, bucket, secret key names)")
    if p.onprem is not None and cfg.environment == "prod" and p.onprem.volume_snapshot_class is None:
        add((*svc, "onprem", "volumeSnapshotClass"), MISSING,
            "required in prod: the metadata database is backed up by volume snapshots of this class")
    namespaces = [n.name for n in cfg.kubernetes.namespaces] if cfg.kubernetes else []
    if p.namespace not in namespaces:
        add((*svc, "namespace"), p.namespace,
            f"allowed: platform namespaces of kubernetes.namespaces ({', '.join(namespaces) or 'none'})")
    keys = [t.pipelines.deploy_key_key for t in cfg.teams if t.pipelines]
    for i, team in enumerate(cfg.teams):
        if team.pipelines and keys.count(team.pipelines.deploy_key_key) > 1:
            add(("teams", i, "pipelines", "deployKeyKey"), team.pipelines.deploy_key_key,
                "a secret config key of this team's own (each repository has its own deploy key)")
    return out
