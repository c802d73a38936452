"""The Pulumi program: the same code runs under `pulumi up` and the offline preview."""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws.artifact_store import ArtifactStore as AwsArtifactStore
from components.aws.artifact_store import ArtifactStoreArgs as AwsArtifactStoreArgs
from components.azure.artifact_store import ArtifactStore as AzureArtifactStore
from components.azure.artifact_store import ArtifactStoreArgs as AzureArtifactStoreArgs
from components.azure.artifact_store import BlobPrivateDns, BlobPrivateDnsArgs
from components.gcp.artifact_store import ArtifactStore as GcpArtifactStore
from components.gcp.artifact_store import ArtifactStoreArgs as GcpArtifactStoreArgs
from components.kubernetes.platform_ca import PlatformRootCa, PlatformRootCaArgs
from components.tags import StandardTags
from stacks.clusters import build_clusters
from stacks.config import CONFIG_KEY, PROJECT, ArtifactStoreConfig, PlatformConfig
from stacks.network import Networks, build_network
from stacks.providers import Providers, build_providers
from stacks.services import ServiceContext, StoreKey, build_services
from stacks.validation import ConfigError, parse_platform


def load_config() -> PlatformConfig:
    """Read and validate the stack's platform config from the Pulumi runtime."""
    raw = pulumi.Config(PROJECT).require_object(CONFIG_KEY)
    try:
        return parse_platform(raw)
    except ConfigError as err:
        # RunError is reported by the engine without a traceback.
        raise pulumi.RunError(f"invalid stack config:\n{err}") from None


def standard_tags(cfg: PlatformConfig, data_classification: str | None = None) -> StandardTags:
    return StandardTags(
        owner=cfg.tags.owner,
        cost_center=cfg.tags.cost_center,
        environment=cfg.environment,
        data_classification=data_classification or cfg.residency.default_classification,
        managed_by=cfg.tags.managed_by,
    )


def _artifact_stores(cfg: PlatformConfig, providers: Providers, store: ArtifactStoreConfig,
                     components: dict[StoreKey, Any], networks: Networks,
                     blob_dns: dict[str, BlobPrivateDns]) -> dict:
    """The store on each of its sites. Azure stores get a blob private endpoint in their
    location's VNet, registered in that VNet's blob zone (`blob_dns`, one per location, made
    by the first store there and shared: Azure links a VNet to one zone of a name). Without a
    `network` section there is no VNet, and no endpoint (see the Azure ArtifactStore)."""
    tags = standard_tags(cfg, cfg.store_classification(store))
    d = cfg.storage.defaults
    outputs: dict[str, pulumi.Output[str]] = {}
    for site in cfg.store_sites(store):
        region = cfg.cloud_regions(site)[0]
        name = f"{store.name}-{site}-{region}"
        if site == "aws":
            s = AwsArtifactStore(name, AwsArtifactStoreArgs(
                prefix=cfg.prefix, store=store.name, account_id=cfg.sites.aws.account_id,
                region=region, tags=tags, noncurrent_version_days=d.noncurrent_version_days,
                access_log_retention_days=d.access_log_retention_days, protect=cfg.protect,
            ), pulumi.ResourceOptions(providers=[providers.aws[region]]))
            outputs[name] = s.bucket_name
            components[(store.name, site, region)] = s
        elif site == "gcp":
            g = GcpArtifactStore(name, GcpArtifactStoreArgs(
                prefix=cfg.prefix, store=store.name, project=cfg.sites.gcp.project,
                project_number=cfg.sites.gcp.project_number, region=region, tags=tags,
                noncurrent_version_days=d.noncurrent_version_days,
                soft_delete_days=d.soft_delete_days,
                access_log_retention_days=d.access_log_retention_days, protect=cfg.protect,
            ), pulumi.ResourceOptions(providers=[providers.gcp[region]]))
            outputs[name] = g.bucket_name
            components[(store.name, site, region)] = g
        else:
            endpoint: dict[str, pulumi.Output[str]] = {}
            # Config validation gives every enabled location a network once `network` is set.
            vnet = networks.azure.get(region)
            if vnet is not None:
                if region not in blob_dns:
                    blob_dns[region] = BlobPrivateDns(f"blob-dns-azure-{region}", BlobPrivateDnsArgs(
                        prefix=cfg.prefix, subscription_id=cfg.sites.azure.subscription_id,
                        location=region, resource_group_name=vnet.resource_group_name,
                        vnet_id=vnet.vnet_id, tags=standard_tags(cfg),
                    ), pulumi.ResourceOptions(providers=[providers.azure[region]]))
                endpoint = {"endpoint_subnet_id": vnet.subnet_ids["endpoints"],
                            "blob_dns_zone_id": blob_dns[region].zone_id}
            z = AzureArtifactStore(name, AzureArtifactStoreArgs(
                prefix=cfg.prefix, store=store.name, subscription_id=cfg.sites.azure.subscription_id,
                tenant_id=cfg.sites.azure.tenant_id, location=region, tags=tags,
                noncurrent_version_days=d.noncurrent_version_days,
                soft_delete_days=d.soft_delete_days,
                access_log_retention_days=d.access_log_retention_days,
                key_size=d.azure_key_size, protect=cfg.protect, **endpoint,
            ), pulumi.ResourceOptions(providers=[providers.azure[region], providers.random]))
            outputs[name] = z.account_name
            components[(store.name, site, region)] = z
    return outputs


def build(cfg: PlatformConfig) -> None:
    """Create the whole platform for a validated config."""
    onprem = cfg.sites.onprem
    kubeconfig = None
    if onprem is not None and onprem.enabled:
        kubeconfig = pulumi.Config(PROJECT).require_secret(onprem.kubeconfig_secret)
    providers = build_providers(cfg, standard_tags(cfg), kubeconfig)
    networks = build_network(cfg, providers, standard_tags(cfg))
    root_ca = PlatformRootCa("platform-ca", PlatformRootCaArgs(prefix=cfg.prefix, protect=cfg.protect),
                             pulumi.ResourceOptions(providers=[providers.tls]))
    # Public: what clients (laptops, CI, other sites) trust to reach any cluster's Gateway.
    pulumi.export("platformRootCa", root_ca.cert_pem)
    clusters = build_clusters(cfg, providers, networks, standard_tags(cfg), root_ca)
    stores: dict[str, pulumi.Output[str]] = {}
    store_components: dict[StoreKey, Any] = {}
    blob_dns: dict[str, BlobPrivateDns] = {}
    for store in cfg.storage.stores:
        stores.update(_artifact_stores(cfg, providers, store, store_components, networks, blob_dns))
    pulumi.export("artifactStores", stores)
    build_services(ServiceContext(
        cfg=cfg, providers=providers, networks=networks,
        clusters={c.plan.ref: c for c in clusters}, stores=store_components,
        tags=standard_tags(cfg), platform_ca_pem=root_ca.cert_pem,
    ))


def main() -> None:
    build(load_config())
