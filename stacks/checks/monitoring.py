"""What `services.monitoring` means, checked: the central cluster, retention, storage and alerting."""

from __future__ import annotations

from components.kubernetes.monitoring import (
    ALERTMANAGER_REPLICAS,
    ALERTMANAGER_STORAGE,
    CENTRAL_REPLICAS,
    NAMESPACE,
)
from components.kubernetes.objects import quantity
from stacks.checks.problems import ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.monitoring import duration_seconds


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """The central cluster exists, the monitoring namespace exists and its quota holds the volumes."""
    mon = cfg.services.monitoring
    if mon is None:
        return []
    out: list[ConfigProblem] = []
    base = ("services", "monitoring")
    refs = clusters_by_ref(cfg)
    if mon.central not in refs:
        out.append(ConfigProblem(
            key_path((*base, "central")), mon.central,
            f"allowed: a cluster of the stack ({', '.join(refs) or 'none: configure kubernetes'})"))
    if duration_seconds(mon.central_retention) < duration_seconds(mon.local_retention):
        out.append(ConfigProblem(
            key_path((*base, "centralRetention")), mon.central_retention,
            f"must be at least localRetention ({mon.local_retention}): the central Prometheus "
            "holds the history"))
    k = cfg.kubernetes
    namespaces = {ns.name: (i, ns) for i, ns in enumerate(k.namespaces)} if k is not None else {}
    # HOST_NAMESPACE as a platform namespace is refused with the other add-on namespaces
    # (stacks/cluster_validation.py RESERVED_NAMESPACES), before services are judged.
    if k is not None and NAMESPACE not in namespaces:
        out.append(ConfigProblem(
            key_path(("kubernetes", "namespaces")), [ns.name for ns in k.namespaces],
            f"must include {NAMESPACE!r}: monitoring runs in that platform namespace"))
    elif NAMESPACE in namespaces:
        i, ns = namespaces[NAMESPACE]
        quota = quantity(ns.quota.storage)
        central = (CENTRAL_REPLICAS * quantity(mon.central_storage)
                   + ALERTMANAGER_REPLICAS * quantity(ALERTMANAGER_STORAGE))
        if central > quota:
            out.append(ConfigProblem(
                key_path((*base, "centralStorage")), mon.central_storage,
                f"{CENTRAL_REPLICAS} replicas plus Alertmanager ({ALERTMANAGER_REPLICAS} x "
                f"{ALERTMANAGER_STORAGE}) exceed the {NAMESPACE!r} namespace's storage quota "
                f"(kubernetes.namespaces[{i}].quota.storage = {ns.quota.storage}); lower it or "
                "raise the quota"))
        if quantity(mon.local_storage) > quota:
            out.append(ConfigProblem(
                key_path((*base, "localStorage")), mon.local_storage,
                f"exceeds the {NAMESPACE!r} namespace's storage quota "
                f"(kubernetes.namespaces[{i}].quota.storage = {ns.quota.storage})"))
    if mon.alerting is not None:
        for i, cidr in enumerate(mon.alerting.receiver_cidrs):
            if not cidr.is_private:
                out.append(ConfigProblem(
                    key_path((*base, "alerting", "receiverCidrs", i)), str(cidr),
                    "allowed: a private range (an internal receiver); leave the list empty "
                    "for a receiver on the public internet"))
    return out
