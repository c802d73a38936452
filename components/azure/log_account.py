"""A CMK-encrypted Azure storage account that Azure services write logs to (e.g. VNet flow logs)."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field

from components import naming
from components.tags import StandardTags, azure_tags

#: Built-in role "Key Vault Crypto Service Encryption User".
_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#: Built-in role "Storage Blob Data Contributor".
_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def _grant(name: str, identity: azure.managedidentity.UserAssignedIdentity, subscription_id: str,
           role: str, scope: pulumi.Input[str], parent: pulumi.Resource
           ) -> azure.authorization.RoleAssignment:
    """Give a managed identity one built-in role on `scope`."""
    return azure.authorization.RoleAssignment(
        name,
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=(f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization"
                            f"/roleDefinitions/{role}"),
        scope=scope,
        opts=pulumi.ResourceOptions(parent=parent),
    )


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
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = azure_tags(args.tags)
        loc, group = args.location, args.resource_group_name
        # Account and vault names are global; a random suffix keeps them unique.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, special=False, upper=False, numeric=True, lower=True,
            opts=child,
        )
        cmk_identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity", resource_group_name=group, location=loc,
            resource_name_=f"id-{args.prefix}-{args.purpose}-cmk-{loc}", tags=tags, opts=child,
        )
        writer = azure.managedidentity.UserAssignedIdentity(
            f"{name}-writer", resource_group_name=group, location=loc,
            resource_name_=f"id-{args.prefix}-{args.purpose}-writer-{loc}", tags=tags, opts=child,
        )
        vault = azure.keyvault.Vault(
            f"{name}-vault",
            vault_name=pulumi.Output.concat(
                "kv", naming.azure_compact(args.prefix, args.purpose, 16), suffix.result),
            resource_group_name=group,
            location=loc,
            properties={
                "tenant_id": args.tenant_id,
                "sku": {"family": "A", "name": "premium"},
                "enable_rbac_authorization": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 90,
                "enable_purge_protection": True,
                "public_network_access": "Disabled",
                "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
            },
            tags=tags,
            opts=keep,
        )
        key = azure.keyvault.Key(
            f"{name}-key",
            resource_group_name=group,
            vault_name=vault.name,
            key_name=f"{args.purpose}-cmk",
            properties={
                "kty": "RSA-HSM",
                "key_size": args.key_size,
                "key_ops": ["wrapKey", "unwrapKey"],
                "rotation_policy": {
                    "attributes": {"expiry_time": "P2Y"},
                    "lifetime_actions": [
                        {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
                        {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
                    ],
                },
            },
            tags=tags,
            opts=keep,
        )
        cmk_grant = _grant(f"{name}-cmk-grant", cmk_identity, args.subscription_id,
                           _CRYPTO_SERVICE_ENCRYPTION_USER, vault.id, self)
        account = azure.storage.StorageAccount(
            f"{name}-account",
            account_name=pulumi.Output.concat(
                naming.azure_compact(args.prefix, args.purpose, 18), suffix.result),
            resource_group_name=group,
            location=loc,
            kind="StorageV2",
            # Zone-redundant, not geo-redundant: the logs never leave this location.
            sku={"name": "Standard_ZRS"},
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            # "Enabled" behind a deny-all firewall, not "Disabled": trusted-service exceptions
            # (Network Watcher writing flow logs) apply only to an endpoint limited by rules.
            public_network_access="Enabled",
            network_rule_set={"bypass": "AzureServices", "default_action": "Deny"},
            identity={"type": "UserAssigned", "user_assigned_identities": [cmk_identity.id]},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "require_infrastructure_encryption": True,
                "key_vault_properties": {
                    "key_name": key.name, "key_vault_uri": vault.properties.vault_uri,
                },
                "encryption_identity": {"encryption_user_assigned_identity": cmk_identity.id},
                "services": {
                    "blob": {"enabled": True, "key_type": "Account"},
                    "file": {"enabled": True, "key_type": "Account"},
                },
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[cmk_grant]),
        )
        azure.storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=account.name,
            resource_group_name=group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            opts=child,
        )
        azure.storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=account.name,
            resource_group_name=group,
            management_policy_name="default",
            policy={"rules": [{
                "name": "expire-old-versions",
                "type": "Lifecycle",
                "enabled": True,
                "definition": {
                    "filters": {"blob_types": ["blockBlob"]},
                    "actions": {"version": {"delete": {
                        "days_after_creation_greater_than": args.soft_delete_days,
                    }}},
                },
            }]},
            opts=child,
        )
        _grant(f"{name}-writer-grant", writer, args.subscription_id, _BLOB_DATA_CONTRIBUTOR,
               account.id, self)

        self.account_id = account.id
        self.account_name = account.name
        self.writer_identity_id = writer.id
        self.register_outputs({
            "account_id": self.account_id,
            "account_name": self.account_name,
            "writer_identity_id": self.writer_identity_id,
        })
