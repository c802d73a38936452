"""An AKS cluster's customer-managed keys: Key Vault, disk key + encryption set, etcd key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random

from components import naming
from components.azure.log_account import _grant

#: Built-in role "Key Vault Crypto Service Encryption User" (wrap/unwrap for Azure services).
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#: Built-in role "Key Vault Crypto User" (encrypt/decrypt; what the KMS plugin does).
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
#: Built-in role "Key Vault Contributor" (management plane only, no data access).
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
#: Built-in role "Reader".
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


@dataclass(frozen=True)
class ClusterKeys:
    """What the cluster needs from its keys, and the grants it must wait for."""

    vault: azure.keyvault.Vault
    kms_key: azure.keyvault.Key
    disk_encryption_set: azure.compute.DiskEncryptionSet
    grants: list[azure.authorization.RoleAssignment]


def _key(name: str, key_name: str, vault: azure.keyvault.Vault, group: pulumi.Input[str],
         ops: list[str], rotation_policy: dict, tags: dict[str, str],
         opts: pulumi.ResourceOptions) -> azure.keyvault.Key:
    return azure.keyvault.Key(
        name,
        resource_group_name=group,
        vault_name=vault.name,
        key_name=key_name,
        properties={"kty": "RSA-HSM", "key_size": 3072, "key_ops": ops,
                    "rotation_policy": rotation_policy},
        tags=tags,
        opts=opts,
    )


def create_cluster_keys(
    name: str, *, parent: pulumi.Resource, prefix: str, cluster_name: str, subscription_id: str,
    tenant_id: str, location: str, resource_group_name: pulumi.Input[str],
    cluster_identity: azure.managedidentity.UserAssignedIdentity, tags: dict[str, str],
    protect: bool,
) -> ClusterKeys:
    """A purge-protected, firewalled, RBAC-only vault with the cluster's two keys.

    The disk key backs a disk encryption set (OS and data disks) that rotates to the newest
    key version by itself. The etcd key is for AKS KMS with a private vault: AKS pins a key
    *version*, so this key's versions never expire (an expired version stops the API
    server); after each yearly rotation, `pulumi refresh` + `pulumi up` moves KMS to the new
    version, then re-encrypt: `kubectl get secrets -A -o json | kubectl replace -f -`.
    """
    child = pulumi.ResourceOptions(parent=parent)
    keep = pulumi.ResourceOptions(parent=parent, protect=protect)
    group = resource_group_name
    # Vault names are global; a random suffix keeps them unique.
    suffix = random.RandomString(
        f"{name}-vault-suffix", length=6, special=False, upper=False, numeric=True, lower=True,
        opts=child,
    )
    vault = azure.keyvault.Vault(
        f"{name}-vault",
        vault_name=pulumi.Output.concat(
            "kv", naming.azure_compact(prefix, "aks", 16), suffix.result),
        resource_group_name=group,
        location=location,
        properties={
            "tenant_id": tenant_id,
            "sku": {"family": "A", "name": "premium"},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            "enable_purge_protection": True,
            # Disk Storage (the DES) is a trusted service and bypasses the firewall even with
            # public access disabled; AKS KMS reaches the vault over the private endpoint AKS
            # creates for a "Private" vault.
            "public_network_access": "Disabled",
            "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
        },
        tags=tags,
        opts=keep,
    )
    disk_key = _key(
        f"{name}-disk-key", "disks-cmk", vault, group, ["wrapKey", "unwrapKey"],
        {"attributes": {"expiry_time": "P2Y"}, "lifetime_actions": [
            {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
            {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
        ]},
        tags, keep,
    )
    kms_key = _key(
        f"{name}-kms-key", "etcd-kms", vault, group, ["encrypt", "decrypt"],
        {"lifetime_actions": [
            {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
        ]},
        tags, keep,
    )
    des_identity = azure.managedidentity.UserAssignedIdentity(
        f"{name}-des-identity", resource_group_name=group, location=location,
        resource_name_=f"id-{cluster_name}-des", tags=tags, opts=child,
    )
    des_grant = _grant(f"{name}-des-key-grant", des_identity, subscription_id,
                       CRYPTO_SERVICE_ENCRYPTION_USER, disk_key.id, parent)
    des = azure.compute.DiskEncryptionSet(
        f"{name}-des",
        disk_encryption_set_name=f"des-{cluster_name}",
        resource_group_name=group,
        location=location,
        encryption_type="EncryptionAtRestWithCustomerKey",
        identity={"type": "UserAssigned", "user_assigned_identities": [des_identity.id]},
        active_key={"key_url": disk_key.key_uri_with_version, "source_vault": {"id": vault.id}},
        rotation_to_latest_key_version_enabled=True,
        tags=tags,
        # Without the grant the set cannot reach its key and creation fails.
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=[des_grant]),
    )
    grants = [
        # AKS BYOK: the cluster identity must read the disk encryption set.
        _grant(f"{name}-des-reader", cluster_identity, subscription_id, READER, des.id, parent),
        # KMS: the control plane encrypts/decrypts etcd's data keys with the etcd key.
        _grant(f"{name}-kms-crypto-user", cluster_identity, subscription_id, CRYPTO_USER,
               kms_key.id, parent),
        # KMS with a private vault: AKS links the vault to the cluster with a private endpoint.
        _grant(f"{name}-kms-vault-contributor", cluster_identity, subscription_id,
               KEY_VAULT_CONTRIBUTOR, vault.id, parent),
    ]
    return ClusterKeys(vault=vault, kms_key=kms_key, disk_encryption_set=des, grants=grants)
