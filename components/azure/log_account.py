"""A CMK-encrypted Azure storage account that Azure services write logs to (e.g. VNet flow logs)."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field

from components import naming
from components.azure.blob_storage import old_version_lifecycle, secure_account_properties
from components.azure.key_vault import (
    CustomerKey,
    CustomerKeyArgs,
    CustomerKeyNames,
    create_customer_key,
    random_suffix,
)
from components.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, grant_role
from components.tags import StandardTags, azure_tags


class LogAccountArgs(BaseModel):
    """Arguments of a log storage account."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    purpose: str = Field(pattern=r"^[a-z][a-z0-9]{2,9}$",
                         description="Short purpose, e.g. `flowlogs`; part of names.")
    subscription_id: str = Field(description="Subscription that holds the account.")
    tenant_id: str = Field(description="Entra ID tenant of the Key Vault.")
    location: str = Field(description="Azure location; log producers want their own.")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group to create everything in.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    soft_delete_days: int = Field(default=7, ge=7, le=365,
                                  description="Days deleted blobs and old versions are kept.")
    key_size: int = Field(default=3072, description="RSA key size of the customer-managed key.")
    protect: bool = Field(description="Protect the account, vault and key.")


class LogAccount(pulumi.ComponentResource):
    """A storage account for logs, plus the identity that writes into it.

    Guarantees: customer-managed RSA key (yearly rotation) in a purge-protected,
    RBAC-only Key Vault, plus infrastructure (double) encryption; HTTPS only,
    TLS 1.2+; no public blobs; no shared keys (writers authenticate with the
    `writer_identity_id` identity, which holds Storage Blob Data Contributor);
    firewall closed except to trusted Azure services (how Network Watcher
    writes); blob versioning and soft delete, with old versions expiring after
    `soft_delete_days` so appended log blobs do not pile up versions forever.
    Base blobs are deleted by the writer's own retention setting.
    """

    account_id: pulumi.Output[str]
    account_name: pulumi.Output[str]
    writer_identity_id: pulumi.Output[str]

    def __init__(self, name: str, args: LogAccountArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:LogAccount", name, None, opts)
        tags = azure_tags(args.tags)
        # Account and vault names are global; a random suffix keeps them unique.
        suffix = random_suffix(f"{name}-suffix", self)
        cmk = create_customer_key(_customer_key_args(name, args, suffix, tags), self)
        writer = _writer_identity(name, args, tags, self)
        account = _storage_account(name, args, suffix, cmk, tags, self)
        _blob_service(name, args, account, self)
        _lifecycle(name, args, account, self)
        grant_role(f"{name}-writer-grant", writer.principal_id, args.subscription_id,
                   STORAGE_BLOB_DATA_CONTRIBUTOR, account.id, pulumi.ResourceOptions(parent=self))

        self.account_id = account.id
        self.account_name = account.name
        self.writer_identity_id = writer.id
        self.register_outputs({
            "account_id": self.account_id,
            "account_name": self.account_name,
            "writer_identity_id": self.writer_identity_id,
        })


def _customer_key_args(name: str, args: LogAccountArgs, suffix: random.RandomString,
                       tags: dict[str, str]) -> CustomerKeyArgs:
    return CustomerKeyArgs(
        names=CustomerKeyNames.for_cmk(name),
        identity_name=f"id-{args.prefix}-{args.purpose}-cmk-{args.location}",
        vault_name=pulumi.Output.concat(
            "kv", naming.azure_compact(args.prefix, args.purpose, 16), suffix.result),
        key_name=f"{args.purpose}-cmk",
        key_size=args.key_size,
        subscription_id=args.subscription_id,
        tenant_id=args.tenant_id,
        location=args.location,
        resource_group_name=args.resource_group_name,
        tags=tags,
        protect=args.protect,
        grant_scope="vault",
    )


def _writer_identity(name: str, args: LogAccountArgs, tags: dict[str, str],
                     parent: pulumi.Resource) -> azure.managedidentity.UserAssignedIdentity:
    """The identity log producers write with (it gets Storage Blob Data Contributor)."""
    return azure.managedidentity.UserAssignedIdentity(
        f"{name}-writer", resource_group_name=args.resource_group_name, location=args.location,
        resource_name_=f"id-{args.prefix}-{args.purpose}-writer-{args.location}", tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _storage_account(name: str, args: LogAccountArgs, suffix: random.RandomString,
                     cmk: CustomerKey, tags: dict[str, str],
                     parent: pulumi.Resource) -> azure.storage.StorageAccount:
    return azure.storage.StorageAccount(
        f"{name}-account",
        account_name=pulumi.Output.concat(
            naming.azure_compact(args.prefix, args.purpose, 18), suffix.result),
        resource_group_name=args.resource_group_name,
        location=args.location,
        # "Enabled" behind a deny-all firewall, not "Disabled": trusted-service exceptions
        # (Network Watcher writing flow logs) apply only to an endpoint limited by rules.
        **secure_account_properties(cmk, public_network_access="Enabled"),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect, depends_on=[cmk.grant]),
    )


def _blob_service(name: str, args: LogAccountArgs, account: azure.storage.StorageAccount,
                  parent: pulumi.Resource) -> None:
    azure.storage.BlobServiceProperties(
        f"{name}-blob-service",
        account_name=account.name,
        resource_group_name=args.resource_group_name,
        blob_services_name="default",
        is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
        container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _lifecycle(name: str, args: LogAccountArgs, account: azure.storage.StorageAccount,
               parent: pulumi.Resource) -> None:
    azure.storage.ManagementPolicy(
        f"{name}-lifecycle",
        account_name=account.name,
        resource_group_name=args.resource_group_name,
        management_policy_name="default",
        policy=old_version_lifecycle("expire-old-versions", args.soft_delete_days),
        opts=pulumi.ResourceOptions(parent=parent),
    )
