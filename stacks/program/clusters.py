"""Compose the Kubernetes layer: a managed cluster per configured cloud region, the existing
on-prem cluster, GPU pools on each, and the same add-ons on every one of them.

Each managed cluster hands back its own Kubernetes provider (from its kubeconfig, a secret);
the on-prem cluster is reached through the provider built from its kubeconfig secret. Every
Kubernetes object is created through one of those explicit providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aws.cluster import KubernetesCluster as EksCluster
from components.aws.cluster import KubernetesClusterArgs as EksClusterArgs
from components.azure.cluster import KubernetesCluster as AksCluster
from components.azure.cluster import KubernetesClusterArgs as AksClusterArgs
from components.gcp.cluster import KubernetesCluster as GkeCluster
from components.gcp.cluster import KubernetesClusterArgs as GkeClusterArgs
from components.gcp.network import PODS_RANGE, SERVICES_RANGE
from components.kubernetes.addons import ClusterAddons, ClusterAddonsArgs
from components.kubernetes.cluster_spec import ApiAccess, StorageClassSpec, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec
from components.kubernetes.onprem_gpu_pool import GpuNodePool as OnPremGpuNodePool
from components.kubernetes.onprem_gpu_pool import GpuNodePoolArgs as OnPremGpuNodePoolArgs
from components.kubernetes.platform_ca import PlatformRootCa
from components.tags import StandardTags
from stacks.config.kubernetes import CloudCluster, SystemPool
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import ONPREM, PlannedCluster, gpu_specs, planned_clusters
from stacks.plan.namespaces import namespace_specs
from stacks.program.network import Networks
from stacks.program.providers import Providers

#: Stack output: every cluster with its site, region, version and GPU pools (no secrets).
CLUSTERS_OUTPUT = "clusters"
#: Secret stack output: each cluster's kubeconfig, by cluster name.
KUBECONFIG_OUTPUT = "kubeconfigs"

_SYSTEM_MACHINE = {"aws": "m6i.xlarge", "gcp": "e2-standard-4", "azure": "Standard_D4ds_v5"}


@dataclass
class Cluster:
    """One cluster of the stack and the provider that reaches it."""

    plan: PlannedCluster
    provider: k8s.Provider
    addons: ClusterAddons
    #: The managed cluster component (EKS/GKE/AKS: OIDC issuer, workload pool, ...); None on-prem.
    cloud: Any = None


def _system_pool(site: str, pool: SystemPool) -> SystemPoolSpec:
    return SystemPoolSpec(machine_type=pool.machine_type or _SYSTEM_MACHINE[site],
                          min_size=pool.min_size, max_size=pool.max_size,
                          disk_size_gb=pool.disk_size_gb)


def _api_access(cfg: PlatformConfig, cluster: CloudCluster) -> ApiAccess:
    # The private endpoint is reached from on-prem over the VPN (where `pulumi up` runs).
    onprem = [str(c) for c in cfg.network.onprem.cidrs] if cfg.network and cfg.network.onprem else []
    return ApiAccess(mode=cluster.api_access, admin_cidrs=tuple(onprem),
                     public_cidrs=tuple(str(c) for c in cluster.public_cidrs))


def _cloud_cluster(cfg: PlatformConfig, c: PlannedCluster, providers: Providers,
                   networks: Networks, tags: StandardTags) -> Any:
    k = cfg.kubernetes
    assert k is not None
    conf = getattr(k, c.site)[c.region]
    common = dict(prefix=cfg.prefix, cluster_name=c.name, kubernetes_version=c.version, tags=tags,
                  protect=cfg.protect, api_access=_api_access(cfg, conf),
                  system_pool=_system_pool(c.site, conf.system_pool),
                  gpu_pools=gpu_specs(c.site, conf.gpu_pools))
    if c.site == "aws":
        vpc = networks.aws[c.region]
        assert cfg.network is not None
        return EksCluster(f"cluster-aws-{c.region}", EksClusterArgs(
            **common, region=c.region, account_id=cfg.sites.aws.account_id, vpc_id=vpc.vpc_id,
            subnet_ids=vpc.private_subnet_ids, vpc_cidr=str(cfg.network.aws[c.region].cidr),
            log_retention_days=cfg.network.flow_log_retention_days,
        ), pulumi.ResourceOptions(providers=[providers.aws[c.region]]))
    if c.site == "gcp":
        assert networks.gcp is not None
        site = cfg.sites.gcp
        return GkeCluster(f"cluster-gcp-{c.region}", GkeClusterArgs(
            **common, project=site.project, project_number=site.project_number, region=c.region,
            release_channel=conf.release_channel, network_self_link=networks.gcp.network_self_link,
            subnet_self_link=networks.gcp.subnet_self_links[c.region],
            pods_range_name=PODS_RANGE, services_range_name=SERVICES_RANGE,
            security_group=conf.security_group,
        ), pulumi.ResourceOptions(providers=[providers.gcp[c.region]]))
    vnet = networks.azure[c.region]
    site = cfg.sites.azure
    return AksCluster(f"cluster-azure-{c.region}", AksClusterArgs(
        **common, subscription_id=site.subscription_id, tenant_id=site.tenant_id,
        location=c.region, resource_group_name=vnet.resource_group_name,
        node_subnet_id=vnet.subnet_ids["nodes"], api_server_subnet_id=vnet.subnet_ids["apiserver"],
        pod_cidr=str(conf.pod_cidr),
        service_cidr=str(conf.service_cidr), dns_service_ip=str(conf.service_cidr[10]),
        admin_group_object_ids=tuple(conf.admin_group_object_ids),
    ), pulumi.ResourceOptions(providers=[providers.azure[c.region], providers.random]))


def _addons(cfg: PlatformConfig, c: PlannedCluster, storage: StorageClassSpec,
            pools: tuple[GpuPoolSpec, ...], provider: k8s.Provider, tags: StandardTags,
            depends_on: list[pulumi.Resource], root_ca: PlatformRootCa) -> ClusterAddons:
    k = cfg.kubernetes
    assert k is not None
    gpu_stack = "none" if not pools else "gke-managed" if c.site == "gcp" else "operator"
    return ClusterAddons(f"addons-{c.name}", ClusterAddonsArgs(
        cluster_name=c.name, site=c.site, tags=tags, storage_class=storage,
        # GKE and AKS ship metrics-server; EKS does not; on-prem says.
        metrics_server=(c.site == "aws") or (c.site == ONPREM and bool(k.onprem and k.onprem.metrics_server)),
        gpu_stack=gpu_stack,
        # The AL2023 NVIDIA AMI brings driver and toolkit; on AKS and on-prem the operator does.
        gpu_driver=c.site in ("azure", ONPREM), gpu_toolkit=c.site in ("azure", ONPREM),
        gpu_pools=pools, base_domain=k.base_domain,
        platform_namespaces=namespace_specs(k.namespaces),
        platform_ca=root_ca.intermediate(f"ca-{c.name}", c.name),
    ), pulumi.ResourceOptions(providers=[provider], depends_on=depends_on))


def build_clusters(cfg: PlatformConfig, providers: Providers, networks: Networks,
                   tags: StandardTags, root_ca: PlatformRootCa) -> list[Cluster]:
    """Every cluster of the stack with its GPU pools and add-ons; exports `clusters`, `kubeconfigs`.

    Each cluster's `platform-ca` issuer is an intermediate of `root_ca`.
    """
    out: list[Cluster] = []
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    summary: dict[str, Any] = {}
    for c in planned_clusters(cfg):
        if c.site == ONPREM:
            assert cfg.kubernetes is not None and cfg.kubernetes.onprem is not None
            assert providers.onprem is not None
            onprem = cfg.kubernetes.onprem
            pools = gpu_specs(ONPREM, onprem.gpu_pools)
            opts = pulumi.ResourceOptions(providers=[providers.onprem])
            gpu = [OnPremGpuNodePool(f"gpu-{c.name}-{p.name}", OnPremGpuNodePoolArgs(pool=p, tags=tags), opts)
                   for p in pools]
            storage = StorageClassSpec(provisioner=onprem.storage.provisioner,
                                       parameters=dict(onprem.storage.parameters))
            addons = _addons(cfg, c, storage, pools, providers.onprem, tags, list(gpu), root_ca)
            out.append(Cluster(c, providers.onprem, addons))
        else:
            conf = getattr(cfg.kubernetes, c.site)[c.region]
            pools = gpu_specs(c.site, conf.gpu_pools)
            cluster = _cloud_cluster(cfg, c, providers, networks, tags)
            addons = _addons(cfg, c, cluster.storage_class, pools, cluster.provider, tags,
                             [cluster], root_ca)
            kubeconfigs[c.name] = cluster.kubeconfig
            out.append(Cluster(c, cluster.provider, addons, cluster))
        summary[c.name] = {
            "site": c.site, "region": c.region, "version": c.version,
            "gpuPools": {p.name: {"gpuType": p.gpu_type, "gpusPerNode": p.gpu_count,
                                  "maxNodes": p.max_size if c.site != ONPREM else len(p.nodes)}
                         for p in pools},
        }
    if out:
        pulumi.export(CLUSTERS_OUTPUT, summary)
        pulumi.export(KUBECONFIG_OUTPUT, pulumi.Output.secret(kubeconfigs))
    return out
