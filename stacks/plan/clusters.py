"""Which clusters a stack has, their names and Kubernetes versions: pure, from the config."""

from __future__ import annotations

from dataclasses import dataclass

from components.kubernetes.gpu_pool import GpuPoolSpec
from stacks.config.kubernetes import GpuPool
from stacks.config.platform import PlatformConfig

#: Provider names and the physical names of managed clusters use this, so it is known at preview.
ONPREM = "onprem"


@dataclass(frozen=True)
class PlannedCluster:
    site: str  # aws | gcp | azure | onprem
    region: str  # cloud region/location; the data centre on-prem
    name: str  # the cluster's name (EKS/GKE/AKS name; on-prem: sites.onprem.clusterName)
    version: str  # Kubernetes minor version, e.g. "1.33"
    config_path: str  # key path in the platform config, for messages

    @property
    def ref(self) -> str:
        """How the services config names this cluster: `onprem` or `<site>/<region>`."""
        return ONPREM if self.site == ONPREM else f"{self.site}/{self.region}"


def cluster_name(cfg: PlatformConfig, site: str, region: str) -> str:
    return f"{cfg.prefix}-{site}-{region}"


def planned_clusters(cfg: PlatformConfig) -> list[PlannedCluster]:
    """Every cluster of the stack: on-prem first, then AWS, GCP, Azure in config order."""
    k = cfg.kubernetes
    if k is None:
        return []
    out: list[PlannedCluster] = []
    if k.onprem is not None and cfg.sites.onprem is not None:
        out.append(PlannedCluster(ONPREM, cfg.sites.onprem.datacenter, cfg.sites.onprem.cluster_name,
                                  k.onprem.version or k.version, "kubernetes.onprem"))
    for site in ("aws", "gcp", "azure"):
        for region, cluster in getattr(k, site).items():
            out.append(PlannedCluster(site, region, cluster_name(cfg, site, region),
                                      cluster.version or k.version, f"kubernetes.{site}.{region}"))
    return out


def clusters_by_ref(cfg: PlatformConfig) -> dict[str, PlannedCluster]:
    """The stack's clusters keyed by their config reference (`onprem`, `aws/eu-west-1`, ...)."""
    return {c.ref: c for c in planned_clusters(cfg)}


def gpu_specs(target: str, pools: list[GpuPool]) -> tuple[GpuPoolSpec, ...]:
    """The config's GPU pools as the components' one interface (validated again there)."""
    return tuple(GpuPoolSpec(
        target=target, name=p.name, gpu_type=p.gpu_type, gpu_count=p.gpu_count,
        machine_type=p.machine_type, min_size=p.min_size, max_size=p.max_size, spot=p.spot,
        disk_size_gb=p.disk_size_gb, mig_profile=p.mig_profile,
        time_slicing_replicas=p.time_slicing_replicas, nodes=tuple(p.nodes),
    ) for p in pools)
