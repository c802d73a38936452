"""What `services.notebooks` and `teams[].notebooks` mean, checked: clusters, the namespace,
pinned images, the IdP ranges, and that every notebook team can reach a hub."""

from __future__ import annotations

import ipaddress
from typing import Any

from components.kubernetes.objects import quantity
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import ONPREM, clusters_by_ref
from stacks.plan.mlflow import ONPREM_INSTANCES


def _unpinned(image: str) -> bool:
    """No digest and no tag, or the tag `latest`."""
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """What `services.notebooks` means, checked against the rest of the stack."""
    n = cfg.services.notebooks
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(key_path(loc), value, allowed))

    if n is None:
        for i, t in enumerate(cfg.teams):
            if t.notebooks:
                add(("teams", i, "notebooks"), True,
                    "needs services.notebooks (the hub); configure it or set false")
        return out
    refs = clusters_by_ref(cfg)
    known = ", ".join(refs) or "none (configure kubernetes first)"
    for i, ref in enumerate(n.clusters):
        if ref not in refs:
            add(("services", "notebooks", "clusters", i), ref, f"allowed: clusters of this stack ({known})")
        elif n.clusters.index(ref) != i:
            add(("services", "notebooks", "clusters", i), ref, "each cluster may appear once")
        elif n.managed_database(cfg.environment) and ref != ONPREM:
            add(("services", "notebooks", "clusters", i), ref,
                "in prod the hub's database is a CloudNativePG PostgreSQL on the on-prem cluster "
                "(cloud hubs have no managed database here); allowed: onprem")
    if n.managed_database(cfg.environment) and n.database.volume_snapshot_class is None:
        add(("services", "notebooks", "database", "volumeSnapshotClass"), MISSING,
            "required in prod: the hub's database is backed up by volume snapshots of this class")
    namespaces = [ns.name for ns in cfg.kubernetes.namespaces] if cfg.kubernetes else []
    if n.namespace not in namespaces:
        add(("services", "notebooks", "namespace"), n.namespace,
            f"allowed: platform namespaces of kubernetes.namespaces ({', '.join(namespaces) or 'none'})")
    ns = next((x for x in cfg.kubernetes.namespaces if x.name == n.namespace), None) if cfg.kubernetes else None
    if ns is not None and n.managed_database(cfg.environment):
        k = cfg.kubernetes.namespaces.index(ns)
        instances = ONPREM_INSTANCES[n.high_availability(cfg.environment)]
        room = quantity(ns.quota.storage) / quantity("1Gi")
        if instances * n.database.storage_gb > room:
            add(("services", "notebooks", "database", "storageGb"), n.database.storage_gb,
                f"{instances} database volume(s) must fit the {n.namespace} namespace's quota "
                f"(kubernetes.namespaces[{k}].quota.storage = {ns.quota.storage}): at most "
                f"{int(room // instances)}, or raise the quota")
        if instances > ns.quota.volume_claims:
            add(("kubernetes", "namespaces", k, "quota", "volumeClaims"), ns.quota.volume_claims,
                f"at least {instances}: the hub's database has {instances} volumes")
    for key, image in (("image", n.image), ("gpuImage", n.gpu_image)):
        if image is not None and _unpinned(image):
            add(("services", "notebooks", key), image,
                "a pinned image: a tag other than latest (e.g. :4.4.0) or an @sha256: digest")
    for k, cidr in enumerate(n.oidc.idp_cidrs):
        if ipaddress.ip_network(str(cidr)).is_global:
            add(("services", "notebooks", "oidc", "idpCidrs", k), str(cidr),
                "a non-public range (public HTTPS is admitted already)")
    for i, t in enumerate(cfg.teams):
        if not t.notebooks:
            continue
        if not set(t.sites) & set(n.clusters):
            add(("teams", i, "sites"), t.sites,
                f"a team with notebooks needs a site with a hub: one of {', '.join(n.clusters)}")
        if not t.idp_groups:
            add(("teams", i, "group"), None,
                "a team with notebooks needs its IdP group (members are admitted by it)")
    return out
