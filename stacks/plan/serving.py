"""Serving derivations: the GPU pools a model accepts, its CPU limit and peak pods, secret keys."""

from __future__ import annotations

from stacks.config.kubernetes import GpuPool
from stacks.config.platform import PlatformConfig
from stacks.config.serving import SURGE_PODS, Model


def cluster_gpu_pools(cfg: PlatformConfig, ref: str) -> list[GpuPool]:
    """The GPU pools of the cluster `ref` (`onprem` or `<cloud>/<region>`)."""
    k = cfg.kubernetes
    if k is None:
        return []
    if ref == "onprem":
        return list(k.onprem.gpu_pools) if k.onprem is not None else []
    site, _, region = ref.partition("/")
    cluster = getattr(k, site, {}).get(region)
    return list(cluster.gpu_pools) if cluster is not None else []


def accepted_pools(cfg: PlatformConfig, model: Model, ref: str) -> list[GpuPool]:
    """The pools of `ref` the model may run on: an accepted type, on-demand unless spot is allowed."""
    return [p for p in cluster_gpu_pools(cfg, ref)
            if (not model.gpu_types or p.gpu_type in model.gpu_types) and (model.spot or not p.spot)]


def slots_per_node(pool: GpuPool) -> int:
    # Time-slicing multiplies what a node advertises; a MIG node advertises at least its GPU count.
    return pool.gpu_count * (pool.time_slicing_replicas or 1)


def cpu_limit(model: Model) -> str:
    return model.cpu_limit or model.cpu


def peak_pods(model: Model) -> int:
    versions = [model.stable, *([model.canary] if model.canary else [])]
    return sum(v.max_replicas + SURGE_PODS for v in versions)


def secret_keys(cfg: PlatformConfig) -> list[str]:
    # Nothing secret: images are pulled by the nodes, JWT keys are public (JWKS).
    return []
