"""Build one artifact store (S3, Cloud Storage or Blob storage) on one cloud site and region:
the platform's stores and each team's store go through here, so they are built alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.aws import workload_identity as aws_identity
from components.aws.artifact_store import ArtifactStore as AwsArtifactStore
from components.aws.artifact_store import ArtifactStoreArgs as AwsArtifactStoreArgs
from components.azure import workload_identity as azure_identity
from components.azure.artifact_store import ArtifactStore as AzureArtifactStore
from components.azure.artifact_store import ArtifactStoreArgs as AzureArtifactStoreArgs
from components.azure.artifact_store import BlobPrivateDns, BlobPrivateDnsArgs
from components.gcp import workload_identity as gcp_identity
from components.gcp.artifact_store import ArtifactStore as GcpArtifactStore
from components.gcp.artifact_store import ArtifactStoreArgs as GcpArtifactStoreArgs
from components.tags import StandardTags
from stacks.config.platform import PlatformConfig
from stacks.program.network import Networks
from stacks.program.providers import Providers


@dataclass
class StoreSite:
    """What building a store needs. `blob_dns` is shared by every store of a run: Azure links a
    VNet to one zone of a name, so the first store in a location makes it and the rest reuse it."""

    cfg: PlatformConfig
    providers: Providers
    networks: Networks
    blob_dns: dict[str, BlobPrivateDns]


def store_physical_name(site: str, store: Any) -> pulumi.Output[str]:
    """The bucket (AWS, GCP) or storage account (Azure) name of a built store."""
    return store.account_name if site == "azure" else store.bucket_name


def build_store(where: StoreSite, store: str, site: str, region: str, tags: StandardTags,
                parent: pulumi.Resource | None = None) -> Any:
    """The ArtifactStore component of `site` named `<store>-<site>-<region>`. Azure stores get a
    blob private endpoint in their location's VNet when there is one (see the Azure store)."""
    cfg, providers = where.cfg, where.providers
    d = cfg.storage.defaults
    name = f"{store}-{site}-{region}"
    common = {"prefix": cfg.prefix, "store": store, "tags": tags, "protect": cfg.protect,
              "noncurrent_version_days": d.noncurrent_version_days,
              "access_log_retention_days": d.access_log_retention_days}
    if site == "aws":
        return AwsArtifactStore(name, AwsArtifactStoreArgs(
            **common, account_id=cfg.sites.aws.account_id, region=region,
        ), pulumi.ResourceOptions(providers=[providers.aws[region]], parent=parent))
    if site == "gcp":
        return GcpArtifactStore(name, GcpArtifactStoreArgs(
            **common, project=cfg.sites.gcp.project, project_number=cfg.sites.gcp.project_number,
            region=region, soft_delete_days=d.soft_delete_days,
        ), pulumi.ResourceOptions(providers=[providers.gcp[region]], parent=parent))
    endpoint: dict[str, pulumi.Output[str]] = {}
    # Config validation gives every enabled location a network once `network` is set.
    vnet = where.networks.azure.get(region)
    if vnet is not None:
        if region not in where.blob_dns:
            where.blob_dns[region] = BlobPrivateDns(f"blob-dns-azure-{region}", BlobPrivateDnsArgs(
                prefix=cfg.prefix, subscription_id=cfg.sites.azure.subscription_id,
                location=region, resource_group_name=vnet.resource_group_name,
                vnet_id=vnet.vnet_id, tags=cfg.standard_tags(),
            ), pulumi.ResourceOptions(providers=[providers.azure[region]]))
        endpoint = {"endpoint_subnet_id": vnet.subnet_ids["endpoints"],
                    "blob_dns_zone_id": where.blob_dns[region].zone_id}
    return AzureArtifactStore(name, AzureArtifactStoreArgs(
        **common, subscription_id=cfg.sites.azure.subscription_id,
        tenant_id=cfg.sites.azure.tenant_id, location=region,
        soft_delete_days=d.soft_delete_days, key_size=d.azure_key_size, **endpoint,
    ), pulumi.ResourceOptions(providers=[providers.azure[region], providers.random], parent=parent))


def grant_store_access(where: StoreSite, name: str, cluster: Any, store: Any, namespace: str,
                       service_account: str, key_prefix: str, tags: StandardTags,
                       parent: pulumi.Resource | None = None) -> Any:
    """One ServiceAccount's workload-identity grant to a store on the cluster's cloud (EKS Pod
    Identity, GKE Workload Identity, Azure Workload Identity); `key_prefix` limits it on S3."""
    cfg, p = where.cfg, where.providers
    site, region = cluster.plan.site, cluster.plan.region
    common = {"namespace": namespace, "service_account": service_account, "tags": tags,
              "prefix": cfg.prefix}
    if site == "aws":
        return aws_identity.StoreAccess(name, aws_identity.StoreAccessArgs(
            **common, cluster_name=cluster.cloud.cluster_name, bucket_arn=store.bucket_arn,
            kms_key_arn=store.key_arn, key_prefix=key_prefix,
            account_id=cfg.sites.aws.account_id,
        ), pulumi.ResourceOptions(parent=parent, providers=[p.aws[region]]))
    if site == "gcp":
        return gcp_identity.StoreAccess(name, gcp_identity.StoreAccessArgs(
            **common, project=cfg.sites.gcp.project, project_number=cfg.sites.gcp.project_number,
            bucket_name=store.bucket_name,
        ), pulumi.ResourceOptions(parent=parent, providers=[p.gcp[region]]))
    vnet = where.networks.azure[region]
    return azure_identity.StoreAccess(name, azure_identity.StoreAccessArgs(
        **common, resource_group_name=vnet.resource_group_name, location=region,
        oidc_issuer_url=cluster.cloud.oidc_issuer_url, storage_account_id=store.account_id,
        container_name=store.container_name,
    ), pulumi.ResourceOptions(parent=parent, providers=[p.azure[region]]))
