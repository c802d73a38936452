"""The config's platform namespaces as the add-ons' namespace specs."""

from __future__ import annotations

from components.kubernetes.namespace import NamespaceQuota, NamespaceSpec
from components.kubernetes.objects import quantity
from stacks.config.kubernetes import PlatformNamespace

#: CPU limits may burst to twice the requests; memory is not overcommitted (OOM kills hurt).
CPU_LIMIT_FACTOR = 2


def scaled(value: str, factor: int) -> str:
    """A quantity times `factor`, as a quantity string."""
    return format((quantity(value) * factor).normalize(), "f")


def namespace_specs(namespaces: list[PlatformNamespace]) -> tuple[NamespaceSpec, ...]:
    return tuple(NamespaceSpec(
        name=ns.name,
        quota=NamespaceQuota(
            requests_cpu=ns.quota.cpu, limits_cpu=scaled(ns.quota.cpu, CPU_LIMIT_FACTOR),
            requests_memory=ns.quota.memory, limits_memory=ns.quota.memory,
            requests_gpu=ns.quota.gpus, pods=ns.quota.pods,
            persistentvolumeclaims=ns.quota.volume_claims, requests_storage=ns.quota.storage,
        ),
    ) for ns in namespaces)
