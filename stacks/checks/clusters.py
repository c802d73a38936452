"""What the `kubernetes` config means, checked before anything is built.

Each problem names its key path, the bad value and what is allowed: GPU types the cloud offers
and the machine types that carry them, versions the offline schema check knows, API access that
is never open to the internet, cluster ranges that collide with the address plan.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from kubernetes_validate.utils import all_versions

from components import network_plan as plan
from components.gpu_catalog import check_gpu_pool
from components.kubernetes.objects import RESERVED_NAMESPACES as KUBERNETES_NAMESPACES
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.kubernetes import GpuPool
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import planned_clusters

#: Oldest minor version accepted: older ones are out of support on EKS, GKE and AKS.
MIN_VERSION = 30
#: Minor versions the offline schema check (kubernetes-validate) has schemas for.
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(
    sorted({".".join(v.split(".")[:2]) for v in all_versions()
            if int(v.split(".")[1]) >= MIN_VERSION}, key=lambda v: int(v.split(".")[1])))

#: Longest cluster name each service accepts.
NAME_LIMITS = {"aws": 100, "gcp": 40, "azure": 63}

#: On-prem CSI drivers whose encryption we know how to switch on: parameter -> required value.
ONPREM_ENCRYPTION = {
    "rbd.csi.ceph.com": {"encrypted": "true"},
    "driver.longhorn.io": {"encrypted": "true"},
}

#: Namespaces the add-ons own; platform namespaces must not take them.
RESERVED_NAMESPACES = frozenset({
    *KUBERNETES_NAMESPACES, "cert-manager",
    "envoy-gateway-system", "gateway", "gpu-operator", "metrics-server",
    # the services' operators and node-level agents (privileged or cluster-wide)
    "cnpg-system", "monitoring-host",
})

_FIELD_WORDS = (("gpu count", "gpuCount"), ("machine type", "machineType"),
                ("instance type", "machineType"), ("VM size", "machineType"), ("MIG", "migProfile"),
                ("time-slicing", "timeSlicingReplicas"), ("gpu type", "gpuType"),
                ("target", "gpuType"))


def _pool_key(message: str) -> str:
    # check_gpu_pool speaks of fields in words; map each message to the config key it is about.
    return next((key for word, key in _FIELD_WORDS if word in message), "gpuType")


def _pool_value(pool: GpuPool, key: str) -> Any:
    return {"machineType": pool.machine_type, "gpuCount": pool.gpu_count,
            "migProfile": pool.mig_profile, "timeSlicingReplicas": pool.time_slicing_replicas,
            "gpuType": pool.gpu_type}[key]


def _gpu_pool_problems(target: str, pools: list[GpuPool], loc: tuple[Any, ...]) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    names: set[str] = set()
    nodes: set[str] = set()
    for i, pool in enumerate(pools):
        p = (*loc, "gpuPools", i)
        for msg in check_gpu_pool(target, pool.gpu_type, pool.gpu_count, pool.machine_type,
                                  pool.mig_profile, pool.time_slicing_replicas):
            key = _pool_key(msg)
            out.append(ConfigProblem(key_path((*p, key)), _pool_value(pool, key), msg))
        if pool.min_size > pool.max_size:
            out.append(ConfigProblem(key_path((*p, "minSize")), pool.min_size,
                                     f"must not exceed maxSize ({pool.max_size})"))
        if pool.mig_profile is not None and pool.time_slicing_replicas is not None:
            out.append(ConfigProblem(key_path((*p, "timeSlicingReplicas")), pool.time_slicing_replicas,
                                     "a pool uses MIG or time-slicing, not both; unset one"))
        if pool.name in names:
            out.append(ConfigProblem(key_path((*p, "name")), pool.name, "pool names must be unique per cluster"))
        names.add(pool.name)
        if target == "onprem":
            if not pool.nodes:
                out.append(ConfigProblem(key_path((*p, "nodes")), MISSING,
                                         "an on-prem pool lists its existing GPU nodes"))
            for j, node in enumerate(pool.nodes):
                if node in nodes:
                    out.append(ConfigProblem(key_path((*p, "nodes", j)), node,
                                             "a node belongs to one GPU pool only"))
                nodes.add(node)
        elif pool.nodes:
            out.append(ConfigProblem(key_path((*p, "nodes")), pool.nodes,
                                     "only on-prem pools list nodes; cloud pools create theirs"))
    return out


def _access_problems(cfg: PlatformConfig, cluster: Any, loc: tuple[Any, ...]) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    if cluster.api_access == "private" and (cfg.network is None or cfg.network.onprem is None):
        # The private endpoint is reached from on-prem over the VPN; without it, from nowhere.
        out.append(ConfigProblem(key_path((*loc, "apiAccess")), "private",
                                 "a private API is reached over the VPN from network.onprem; "
                                 "configure it, or use restricted with publicCidrs"))
    if cluster.api_access == "restricted" and not cluster.public_cidrs:
        out.append(ConfigProblem(key_path((*loc, "publicCidrs")), MISSING,
                                 "restricted API access needs the public ranges allowed to reach it"))
    if cluster.api_access == "private" and cluster.public_cidrs:
        out.append(ConfigProblem(key_path((*loc, "publicCidrs")), [str(c) for c in cluster.public_cidrs],
                                 "only with apiAccess: restricted; a private API has no public endpoint"))
    for i, cidr in enumerate(cluster.public_cidrs):
        if cidr.prefixlen < 8 or not plan.is_public_address(str(cidr.network_address)):
            out.append(ConfigProblem(key_path((*loc, "publicCidrs", i)), str(cidr),
                                     "must be a public range of /8 or smaller (never 0.0.0.0/0)"))
    sp = cluster.system_pool
    if sp.min_size > sp.max_size:
        out.append(ConfigProblem(key_path((*loc, "systemPool", "minSize")), sp.min_size,
                                 f"must not exceed maxSize ({sp.max_size})"))
    return out


def _network_ranges(cfg: PlatformConfig) -> list[tuple[str, IPv4Network]]:
    net = cfg.network
    if net is None:
        return []
    ranges = [(key_path(("network", "onprem", "cidrs", i)), c)
              for i, c in enumerate(net.onprem.cidrs if net.onprem else [])]
    for cloud in ("aws", "gcp", "azure"):
        ranges += [(key_path(("network", cloud, r, "cidr")), e.cidr) for r, e in getattr(net, cloud).items()]
    return ranges + [(key_path(("network", "tunnelInsidePool")), net.tunnel_inside_pool)]


def _aks_range_problems(cfg: PlatformConfig, cluster: Any, loc: tuple[Any, ...]) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    taken = _network_ranges(cfg)
    extra = list(cfg.network.extra_private_ranges) if cfg.network else []
    for key in ("podCidr", "serviceCidr"):
        cidr: IPv4Network = cluster.pod_cidr if key == "podCidr" else cluster.service_cidr
        if not plan.is_private(cidr, extra + [IPv4Network("100.64.0.0/10")]):
            out.append(ConfigProblem(key_path((*loc, key)), str(cidr),
                                     "must be private (RFC 1918, 100.64.0.0/10 or network.extraPrivateRanges)"))
        if not 8 <= cidr.prefixlen <= (24 if key == "podCidr" else 28):
            out.append(ConfigProblem(key_path((*loc, key)), str(cidr),
                                     "allowed sizes /8 to /24 (pods) or /28 (services)"))
        for other_key, other in taken:
            if cidr.overlaps(other):
                out.append(ConfigProblem(key_path((*loc, key)), str(cidr), f"overlaps {other_key} ({other})"))
        taken.append((key_path((*loc, key)), cidr))
    return out


def _version_problem(version: str, loc: tuple[Any, ...]) -> list[ConfigProblem]:
    if version in SUPPORTED_VERSIONS:
        return []
    return [ConfigProblem(key_path(loc), version, f"allowed Kubernetes versions: {', '.join(SUPPORTED_VERSIONS)}")]


def cluster_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Every problem with `cfg.kubernetes`; empty when it is valid (or absent)."""
    k = cfg.kubernetes
    if k is None:
        return []
    out = _version_problem(k.version, ("kubernetes", "version"))
    if k.onprem is not None:
        loc = ("kubernetes", "onprem")
        if not cfg.onprem_enabled():
            out.append(ConfigProblem(key_path(loc), "<on-prem cluster>", "sites.onprem must be enabled"))
        if k.onprem.version:
            out += _version_problem(k.onprem.version, (*loc, "version"))
        storage = k.onprem.storage
        wanted = ONPREM_ENCRYPTION.get(storage.provisioner)
        if wanted is None:
            out.append(ConfigProblem(key_path((*loc, "storage", "provisioner")), storage.provisioner,
                                     f"allowed (CSI drivers with known encryption): {', '.join(ONPREM_ENCRYPTION)}"))
        else:
            for param, value in wanted.items():
                if storage.parameters.get(param) != value:
                    out.append(ConfigProblem(key_path((*loc, "storage", "parameters", param)),
                                             storage.parameters.get(param, MISSING),
                                             f"must be {value!r}: the default StorageClass is encrypted"))
        out += _gpu_pool_problems("onprem", k.onprem.gpu_pools, loc)
    enabled = cfg.enabled_clouds()
    for site in ("aws", "gcp", "azure"):
        for region, cluster in getattr(k, site).items():
            loc = ("kubernetes", site, region)
            if site not in enabled or region not in cfg.cloud_regions(site):
                regions = cfg.cloud_regions(site) if site in enabled else []
                out.append(ConfigProblem(key_path(loc), "<cluster>",
                                         f"allowed: enabled regions of sites.{site} ({', '.join(regions) or 'none'})"))
                continue
            if cfg.network is None or region not in getattr(cfg.network, site):
                out.append(ConfigProblem(key_path(loc), "<cluster>",
                                         f"a cluster runs in its region's network; add network.{site}.{region}"))
            if cluster.version:
                out += _version_problem(cluster.version, (*loc, "version"))
            out += _access_problems(cfg, cluster, loc)
            out += _gpu_pool_problems(site, cluster.gpu_pools, loc)
            if site == "azure":
                out += _aks_range_problems(cfg, cluster, loc)
    for c in planned_clusters(cfg):
        limit = NAME_LIMITS.get(c.site)
        if limit and len(c.name) > limit:
            out.append(ConfigProblem(key_path(("namePrefix",)), cfg.name_prefix,
                                     f"cluster name {c.name!r} is longer than {limit} characters; "
                                     "use a shorter namePrefix"))
    seen: set[str] = set()
    for i, ns in enumerate(k.namespaces):
        if ns.name in RESERVED_NAMESPACES or ns.name in seen:
            out.append(ConfigProblem(key_path(("kubernetes", "namespaces", i, "name")), ns.name,
                                     "must be unique and not one of the add-ons' namespaces "
                                     f"({', '.join(sorted(RESERVED_NAMESPACES))})"))
        seen.add(ns.name)
    return out
