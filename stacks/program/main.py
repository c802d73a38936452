"""The Pulumi program: the same code runs under `pulumi up` and the offline preview."""

from __future__ import annotations

from typing import Any

import pulumi

from components.azure.artifact_store import BlobPrivateDns
from components.kubernetes.platform_ca import PlatformRootCa, PlatformRootCaArgs
from stacks.checks.problems import ConfigError
from stacks.config.platform import CONFIG_KEY, PROJECT, ArtifactStoreConfig, PlatformConfig
from stacks.program.clusters import build_clusters
from stacks.program.network import Networks, build_network
from stacks.program.providers import Providers, build_providers
from stacks.program.services import build_services
from stacks.program.services.context import ServiceContext, StoreKey
from stacks.program.stores import StoreSite, build_store, store_physical_name
from stacks.program.teams import build_teams
from stacks.program.validate import parse_platform


def load_config() -> PlatformConfig:
    """Read and validate the stack's platform config from the Pulumi runtime."""
    raw = pulumi.Config(PROJECT).require_object(CONFIG_KEY)
    try:
        return parse_platform(raw)
    except ConfigError as err:
        # RunError is reported by the engine without a traceback.
        raise pulumi.RunError(f"invalid stack config:\n{err}") from None


def _artifact_stores(cfg: PlatformConfig, providers: Providers, store: ArtifactStoreConfig,
                     components: dict[StoreKey, Any], networks: Networks,
                     blob_dns: dict[str, BlobPrivateDns]) -> dict:
    """The store on each of its sites, in the site's primary region."""
    tags = cfg.standard_tags(cfg.store_classification(store))
    outputs: dict[str, pulumi.Output[str]] = {}
    for site in cfg.store_sites(store):
        region = cfg.cloud_regions(site)[0]
        built = build_store(StoreSite(cfg, providers, networks, blob_dns), store.name, site,
                            region, tags)
        outputs[f"{store.name}-{site}-{region}"] = store_physical_name(site, built)
        components[(store.name, site, region)] = built
    return outputs


def build(cfg: PlatformConfig) -> None:
    """Create the whole platform for a validated config."""
    onprem = cfg.sites.onprem
    kubeconfig = None
    if onprem is not None and onprem.enabled:
        kubeconfig = pulumi.Config(PROJECT).require_secret(onprem.kubeconfig_secret)
    providers = build_providers(cfg, cfg.standard_tags(), kubeconfig)
    networks = build_network(cfg, providers, cfg.standard_tags())
    root_ca = PlatformRootCa("platform-ca", PlatformRootCaArgs(prefix=cfg.prefix, protect=cfg.protect),
                             pulumi.ResourceOptions(providers=[providers.tls]))
    # Public: what clients (laptops, CI, other sites) trust to reach any cluster's Gateway.
    pulumi.export("platformRootCa", root_ca.cert_pem)
    clusters = build_clusters(cfg, providers, networks, cfg.standard_tags(), root_ca)
    stores: dict[str, pulumi.Output[str]] = {}
    store_components: dict[StoreKey, Any] = {}
    blob_dns: dict[str, BlobPrivateDns] = {}
    for store in cfg.storage.stores:
        stores.update(_artifact_stores(cfg, providers, store, store_components, networks, blob_dns))
    pulumi.export("artifactStores", stores)
    ctx = ServiceContext(
        cfg=cfg, providers=providers, networks=networks,
        clusters={c.plan.ref: c for c in clusters}, stores=store_components,
        tags=cfg.standard_tags(), platform_ca_pem=root_ca.cert_pem,
    )
    built = build_services(ctx)
    if cfg.teams:
        build_teams(ctx, built, StoreSite(cfg, providers, networks, blob_dns))


def main() -> None:
    build(load_config())
