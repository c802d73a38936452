"""Encrypted, versioned, soft-deleting Azure Blob artifact store."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field

from components import naming
from components.tags import StandardTags, azure_tags

#: Built-in role "Key Vault Crypto Service Encryption User".
_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


class ArtifactStoreArgs(BaseModel):
    """Arguments of an Azure Blob artifact store."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    store: str = Field(description="Logical store name, e.g. `artifacts`.")
    subscription_id: str = Field(description="Subscription that holds the store.")
    tenant_id: str = Field(description="Entra ID tenant of the Key Vault.")
    location: str = Field(description="Azure location of every resource of the store.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    noncurrent_version_days: int = Field(ge=1, description="Days before old versions are deleted.")
    soft_delete_days: int = Field(ge=1, le=365, description="Days deleted blobs/containers are kept.")
    access_log_retention_days: int = Field(ge=30, le=730, description="Days diagnostics are kept.")
    key_size: int = Field(description="RSA key size of the customer-managed key.")
    protect: bool = Field(description="Protect stateful resources (account, vault, key).")


class ArtifactStore(pulumi.ComponentResource):
    """A storage account with one private blob container, encrypted with a Key Vault key.

    Guarantees: customer-managed RSA key in a purge-protected, RBAC-only Key
    Vault (rotating yearly) plus infrastructure (double) encryption; zone-
    redundant storage that stays in its location; HTTPS only with TLS 1.2+;
    no public blob access, no shared keys; versioning, blob and container soft
    delete; deletion of old versions; read/write/delete diagnostics to Log
    Analytics; and `protect` when asked.
    """

    account_name: pulumi.Output[str]
    container_name: pulumi.Output[str]
    key_vault_uri: pulumi.Output[str]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:ArtifactStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = azure_tags(args.tags)
        loc = args.location

        group = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=f"rg-{args.prefix}-{args.store}-{loc}",
            location=loc, tags=tags, opts=child,
        )
        # Storage account and vault names are global; a random suffix keeps them unique.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, special=False, upper=False, numeric=True, lower=True,
            opts=child,
        )
        stem = naming.azure_compact(args.prefix, args.store, 16)
        vault_name = pulumi.Output.concat("kv", stem, suffix.result)
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity", resource_group_name=group.name, location=loc,
            resource_name_=f"id-{args.prefix}-{args.store}-cmk", tags=tags, opts=child,
        )
        vault = azure.keyvault.Vault(
            f"{name}-vault",
            vault_name=vault_name,
            resource_group_name=group.name,
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
            resource_group_name=group.name,
            vault_name=vault.name,
            key_name=f"{args.store}-cmk",
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
        grant = azure.authorization.RoleAssignment(
            f"{name}-cmk-grant",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=(
                f"/subscriptions/{args.subscription_id}/providers/Microsoft.Authorization"
                f"/roleDefinitions/{_CRYPTO_SERVICE_ENCRYPTION_USER}"
            ),
            scope=vault.id,
            opts=child,
        )

        account = azure.storage.StorageAccount(
            f"{name}-account",
            account_name=pulumi.Output.concat(naming.azure_compact(args.prefix, args.store, 18), suffix.result),
            resource_group_name=group.name,
            location=loc,
            kind="StorageV2",
            # Zone-redundant, not geo-redundant: the data never leaves this location.
            sku={"name": "Standard_ZRS"},
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            public_network_access="Disabled",
            network_rule_set={"bypass": "AzureServices", "default_action": "Deny"},
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "require_infrastructure_encryption": True,
                "key_vault_properties": {
                    "key_name": key.name,
                    "key_vault_uri": vault.properties.vault_uri,
                },
                "encryption_identity": {"encryption_user_assigned_identity": identity.id},
                "services": {
                    "blob": {"enabled": True, "key_type": "Account"},
                    "file": {"enabled": True, "key_type": "Account"},
                },
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[grant]),
        )
        azure.storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=account.name,
            resource_group_name=group.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": args.soft_delete_days},
            change_feed={"enabled": True, "retention_in_days": args.soft_delete_days},
            opts=child,
        )
        container = azure.storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=group.name,
            container_name=args.store,
            public_access="None",
            opts=keep,
        )
        azure.storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=account.name,
            resource_group_name=group.name,
            management_policy_name="default",
            policy={"rules": [{
                "name": "delete-old-versions",
                "type": "Lifecycle",
                "enabled": True,
                "definition": {
                    "filters": {"blob_types": ["blockBlob"]},
                    "actions": {"version": {"delete": {
                        "days_after_creation_greater_than": args.noncurrent_version_days,
                    }}},
                },
            }]},
            opts=child,
        )
        workspace = azure.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=group.name,
            location=loc,
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
            logs=[
                {"category": category, "enabled": True}
                for category in ("StorageRead", "StorageWrite", "StorageDelete")
            ],
            opts=child,
        )

        self.account_name = account.name
        self.container_name = container.name
        self.key_vault_uri = vault.properties.vault_uri
        self.register_outputs({
            "account_name": self.account_name,
            "container_name": self.container_name,
            "key_vault_uri": self.key_vault_uri,
        })
