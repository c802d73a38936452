"""Encrypted, versioned, soft-deleting Azure Blob artifact store behind a private endpoint."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components import naming
from components.azure.blob_storage import old_version_lifecycle, secure_account_properties
from components.azure.key_vault import (
    CustomerKey,
    CustomerKeyArgs,
    CustomerKeyNames,
    create_customer_key,
    random_suffix,
)
from components.azure.network import known_after
from components.tags import StandardTags, azure_tags

#: The zone Azure resolves `<account>.blob.core.windows.net` through once the account has a blob
#: private endpoint (the public name becomes a CNAME to `<account>.privatelink.blob...`).
BLOB_PRIVATE_ZONE = "privatelink.blob.core.windows.net"
#: The storage account sub-resource a blob private endpoint connects to.
BLOB_GROUP_ID = "blob"


class BlobPrivateDnsArgs(BaseModel):
    """Arguments of the blob private DNS zone of one VNet."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    subscription_id: str = Field(description="Subscription that holds the zone.")
    location: str = Field(description="Azure location of the VNet (names the VNet link).")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group of the zone: the VNet's (`Network.resource_group_name`).")
    vnet_id: str | pulumi.Output[str] = Field(
        description="The VNet the zone is linked to (`Network.vnet_id`).")
    tags: StandardTags = Field(description="Standard tags put on the zone and its link.")


class BlobPrivateDns(pulumi.ComponentResource):
    """The private DNS zone `privatelink.blob.core.windows.net` of one VNet, linked to it.

    One per VNet, shared by every blob private endpoint in it (each artifact store's zone
    group writes its account's A record here): Azure refuses to link a VNet to two zones of
    the same name, so a zone per store would fail as soon as a location holds two stores.
    Resolution only (no auto-registration of VMs). Private DNS zones exist only at location
    "global"; they hold names, not data.

    Caller opts: providers=[the Azure provider of `location`].
    """

    zone_id: pulumi.Output[str]
    zone_name: str

    def __init__(self, name: str, args: BlobPrivateDnsArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:BlobPrivateDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = azure_tags(args.tags)
        zone = azure.privatedns.PrivateZone(
            f"{name}-zone",
            private_zone_name=BLOB_PRIVATE_ZONE,
            resource_group_name=args.resource_group_name,
            location="global",
            tags=tags,
            opts=child,
        )
        zone_name = known_after(zone, BLOB_PRIVATE_ZONE)
        azure.privatedns.VirtualNetworkLink(
            f"{name}-link",
            virtual_network_link_name=f"vnet-{args.prefix}-{args.location}",
            private_zone_name=zone_name,
            resource_group_name=args.resource_group_name,
            location="global",
            virtual_network={"id": args.vnet_id},
            # Records come from the endpoints' zone groups; the VNet's VMs must not register.
            registration_enabled=False,
            tags=tags,
            opts=child,
        )
        # Built from names (known at preview, like the network's ids), yet users wait for the zone.
        self.zone_id = pulumi.Output.concat(
            "/subscriptions/", args.subscription_id, "/resourceGroups/", args.resource_group_name,
            "/providers/Microsoft.Network/privateDnsZones/", zone_name,
        )
        self.zone_name = BLOB_PRIVATE_ZONE
        self.register_outputs({"zone_id": self.zone_id, "zone_name": self.zone_name})


class ArtifactStoreArgs(BaseModel):
    """Arguments of an Azure Blob artifact store."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    store: str = Field(description="Logical store name, e.g. `artifacts`.")
    subscription_id: str = Field(description="Subscription that holds the store.")
    tenant_id: str = Field(description="Entra ID tenant of the Key Vault.")
    location: str = Field(description="Azure location of every resource of the store.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    noncurrent_version_days: int = Field(ge=1, description="Days before old versions are deleted.")
    soft_delete_days: int = Field(ge=1, le=365,
                                  description="Days deleted blobs/containers are kept.")
    access_log_retention_days: int = Field(ge=30, le=730, description="Days diagnostics are kept.")
    key_size: int = Field(description="RSA key size of the customer-managed key.")
    protect: bool = Field(description="Protect stateful resources (account, vault, key).")
    endpoint_subnet_id: str | pulumi.Output[str] | None = Field(default=None, description=(
        "The VNet's private-endpoint subnet (`Network.subnet_ids['endpoints']`): the account's "
        "blob endpoint gets a private address there. None (a stack without a `network`): no "
        "private endpoint, see the class docstring."))
    blob_dns_zone_id: str | pulumi.Output[str] | None = Field(default=None, description=(
        "The `privatelink.blob.core.windows.net` zone linked to that subnet's VNet "
        "(`BlobPrivateDns.zone_id`); the endpoint's A record is kept there. Given exactly when "
        "`endpoint_subnet_id` is."))

    @model_validator(mode="after")
    def _endpoint_complete(self) -> ArtifactStoreArgs:
        if (self.endpoint_subnet_id is None) != (self.blob_dns_zone_id is None):
            raise ValueError("endpoint_subnet_id and blob_dns_zone_id go together: a private "
                             "endpoint without its DNS zone would not resolve, and vice versa")
        return self


class ArtifactStore(pulumi.ComponentResource):
    """A storage account with one private blob container, encrypted with a Key Vault key.

    Guarantees: customer-managed RSA key in a purge-protected, RBAC-only Key
    Vault (rotating yearly) plus infrastructure (double) encryption; zone-
    redundant storage that stays in its location; HTTPS only with TLS 1.2+;
    no public blob access, no shared keys; versioning, blob and container soft
    delete; deletion of old versions; read/write/delete diagnostics to Log
    Analytics; and `protect` when asked.

    Network: public network access is disabled, so with `endpoint_subnet_id` the blob
    service is reached through a private endpoint (sub-resource `blob`) in the VNet's
    private-endpoint subnet, whose A record a zone group keeps in the VNet's
    `privatelink.blob.core.windows.net` zone (`BlobPrivateDns`, shared by the stores of a
    VNet): `<account>.blob.core.windows.net` resolves to the private address inside the VNet.
    Without `endpoint_subnet_id` (a stack with no `network` section, so no VNet) there is no
    private endpoint and the blob data plane is reachable only by trusted Azure services
    until a network is configured; the other resources are the same either way, so adding
    the network later only adds the endpoint.
    """

    account_name: pulumi.Output[str]
    account_id: pulumi.Output[str]
    container_name: pulumi.Output[str]
    key_vault_uri: pulumi.Output[str]
    #: Id of the blob private endpoint; None without `endpoint_subnet_id`.
    private_endpoint_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: ArtifactStoreArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:ArtifactStore", name, None, opts)
        tags = azure_tags(args.tags)
        group = _resource_group(name, args, tags, self)
        # Storage account and vault names are global; a random suffix keeps them unique.
        suffix = random_suffix(f"{name}-suffix", self)
        cmk = create_customer_key(_customer_key_args(name, args, group, suffix, tags), self)
        account = _storage_account(name, args, group, suffix, cmk, tags, self)
        self.private_endpoint_id = None
        if args.endpoint_subnet_id is not None:
            self.private_endpoint_id = _blob_endpoint(name, args, group, account, tags, self)
        _blob_service(name, args, group, account, self)
        container = _container(name, args, group, account, self)
        _lifecycle(name, args, group, account, self)
        _access_logs(name, args, group, account, tags, self)

        self.account_name = account.name
        # Resource id of the storage account: the scope prefix of role grants on the container.
        self.account_id = account.id
        self.container_name = container.name
        self.key_vault_uri = cmk.vault.properties.vault_uri
        self.register_outputs({
            "account_name": self.account_name,
            "account_id": self.account_id,
            "container_name": self.container_name,
            "key_vault_uri": self.key_vault_uri,
            "private_endpoint_id": self.private_endpoint_id,
        })


def _resource_group(name: str, args: ArtifactStoreArgs, tags: dict[str, str],
                    parent: pulumi.Resource) -> azure.resources.ResourceGroup:
    return azure.resources.ResourceGroup(
        f"{name}-rg", resource_group_name=f"rg-{args.prefix}-{args.store}-{args.location}",
        location=args.location, tags=tags, opts=pulumi.ResourceOptions(parent=parent),
    )


def _customer_key_args(name: str, args: ArtifactStoreArgs,
                       group: azure.resources.ResourceGroup, suffix: random.RandomString,
                       tags: dict[str, str]) -> CustomerKeyArgs:
    stem = naming.azure_compact(args.prefix, args.store, 16)
    return CustomerKeyArgs(
        names=CustomerKeyNames.for_cmk(name),
        identity_name=f"id-{args.prefix}-{args.store}-cmk",
        vault_name=pulumi.Output.concat("kv", stem, suffix.result),
        key_name=f"{args.store}-cmk",
        key_size=args.key_size,
        subscription_id=args.subscription_id,
        tenant_id=args.tenant_id,
        location=args.location,
        resource_group_name=group.name,
        tags=tags,
        protect=args.protect,
        grant_scope="vault",
    )


def _storage_account(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
                     suffix: random.RandomString, cmk: CustomerKey, tags: dict[str, str],
                     parent: pulumi.Resource) -> azure.storage.StorageAccount:
    return azure.storage.StorageAccount(
        f"{name}-account",
        account_name=pulumi.Output.concat(naming.azure_compact(args.prefix, args.store, 18),
                                          suffix.result),
        resource_group_name=group.name,
        location=args.location,
        # Reached only through its private endpoint.
        **secure_account_properties(cmk, public_network_access="Disabled"),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect, depends_on=[cmk.grant]),
    )


def _blob_service(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
                  account: azure.storage.StorageAccount, parent: pulumi.Resource) -> None:
    azure.storage.BlobServiceProperties(
        f"{name}-blob-service",
        account_name=account.name,
        resource_group_name=group.name,
        blob_services_name="default",
        is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
        container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
        change_feed={"enabled": True, "retention_in_days": args.soft_delete_days},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _container(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
               account: azure.storage.StorageAccount,
               parent: pulumi.Resource) -> azure.storage.BlobContainer:
    return azure.storage.BlobContainer(
        f"{name}-container",
        account_name=account.name,
        resource_group_name=group.name,
        container_name=args.store,
        public_access="None",
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
    )


def _lifecycle(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
               account: azure.storage.StorageAccount, parent: pulumi.Resource) -> None:
    azure.storage.ManagementPolicy(
        f"{name}-lifecycle",
        account_name=account.name,
        resource_group_name=group.name,
        management_policy_name="default",
        policy=old_version_lifecycle("delete-old-versions", args.noncurrent_version_days),
        opts=pulumi.ResourceOptions(parent=parent),
    )


#: Blob diagnostics categories sent to Log Analytics: every read, write and delete.
BLOB_ACCESS_LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")


def _access_logs(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
                 account: azure.storage.StorageAccount, tags: dict[str, str],
                 parent: pulumi.Resource) -> None:
    """A Log Analytics workspace and the blob service's access diagnostics into it."""
    child = pulumi.ResourceOptions(parent=parent)
    workspace = azure.operationalinsights.Workspace(
        f"{name}-logs",
        resource_group_name=group.name,
        location=args.location,
        sku={"name": "PerGB2018"},
        retention_in_days=args.access_log_retention_days,
        tags=tags,
        opts=child,
    )
    azure.monitor.DiagnosticSetting(
        f"{name}-blob-diagnostics",
        name="blob-access-logs",
        resource_uri=pulumi.Output.concat(account.id, "/blobServices/default"),
        workspace_id=workspace.id,
        logs=[{"category": category, "enabled": True} for category in BLOB_ACCESS_LOG_CATEGORIES],
        opts=child,
    )


def _blob_endpoint(name: str, args: ArtifactStoreArgs, group: azure.resources.ResourceGroup,
                   account: azure.storage.StorageAccount, tags: dict[str, str],
                   parent: pulumi.Resource) -> pulumi.Output[str]:
    """A private endpoint for the account's blob service, registered in the VNet's zone."""
    child = pulumi.ResourceOptions(parent=parent)
    # The store's resource group is per location, so the name need not repeat it.
    endpoint_name = f"pe-{args.prefix}-{args.store}-blob"
    endpoint = azure.network.PrivateEndpoint(
        f"{name}-blob-endpoint",
        private_endpoint_name=endpoint_name,
        resource_group_name=group.name,
        location=args.location,
        subnet={"id": args.endpoint_subnet_id},
        # Same subscription and tenant: the connection is approved on creation.
        private_link_service_connections=[{
            "name": endpoint_name,
            "private_link_service_id": account.id,
            "group_ids": [BLOB_GROUP_ID],
        }],
        # A readable NIC name instead of Azure's `<endpoint>.nic.<guid>`.
        custom_network_interface_name=f"{endpoint_name}-nic",
        tags=tags,
        opts=child,
    )
    azure.network.PrivateDnsZoneGroup(
        f"{name}-blob-endpoint-dns",
        private_endpoint_name=known_after(endpoint, endpoint_name),
        resource_group_name=group.name,
        private_dns_zone_group_name="default",
        # Azure writes (and on deletion removes) the endpoint's A record in this zone.
        private_dns_zone_configs=[{
            "name": BLOB_PRIVATE_ZONE.replace(".", "-"),
            "private_dns_zone_id": args.blob_dns_zone_id,
        }],
        opts=child,
    )
    return endpoint.id
