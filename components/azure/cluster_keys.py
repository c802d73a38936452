"""An AKS cluster's customer-managed keys: Key Vault, disk key + encryption set, etcd key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import naming
from components.azure.key_vault import (
    CustomerKey,
    CustomerKeyArgs,
    CustomerKeyNames,
    create_customer_key,
    create_vault_key,
    key_properties,
    non_expiring_rotation_policy,
    random_suffix,
)
from components.azure.roles import (
    CRYPTO_SERVICE_ENCRYPTION_USER,
    CRYPTO_USER,
    KEY_VAULT_CONTRIBUTOR,
    READER,
    grant_role,
)

# The role ids stay importable from here (the disk encryption set's and the cluster's grants).
__all__ = ["CLUSTER_KEY_SIZE", "CRYPTO_SERVICE_ENCRYPTION_USER", "CRYPTO_USER",
           "KEY_VAULT_CONTRIBUTOR", "KMS_KEY_OPS", "READER", "ClusterKeys", "create_cluster_keys",
           "disk_key_names"]

#: RSA key size of both cluster keys.
CLUSTER_KEY_SIZE = 3072
#: What the AKS KMS plugin does with the etcd key (not wrapKey: it encrypts data keys).
KMS_KEY_OPS = ("encrypt", "decrypt")


@dataclass(frozen=True)
class ClusterKeys:
    """What the cluster needs from its keys, and the grants it must wait for."""

    vault: azure.keyvault.Vault
    kms_key: azure.keyvault.Key
    disk_encryption_set: azure.compute.DiskEncryptionSet
    grants: list[azure.authorization.RoleAssignment]


def disk_key_names(name: str) -> CustomerKeyNames:
    """The disk key's resources: `<name>-des-identity`, `-vault`, `-disk-key`, `-des-key-grant`."""
    return CustomerKeyNames(identity=f"{name}-des-identity", vault=f"{name}-vault",
                            key=f"{name}-disk-key", grant=f"{name}-des-key-grant")


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
    # Vault names are global; a random suffix keeps them unique.
    suffix = random_suffix(f"{name}-vault-suffix", parent)
    # Disk Storage (the DES) is a trusted service and bypasses the vault's firewall; AKS KMS
    # reaches the vault over the private endpoint AKS creates for a "Private" vault.
    disk = create_customer_key(CustomerKeyArgs(
        names=disk_key_names(name),
        identity_name=f"id-{cluster_name}-des",
        vault_name=pulumi.Output.concat("kv", naming.azure_compact(prefix, "aks", 16),
                                        suffix.result),
        key_name="disks-cmk",
        key_size=CLUSTER_KEY_SIZE,
        subscription_id=subscription_id,
        tenant_id=tenant_id,
        location=location,
        resource_group_name=resource_group_name,
        tags=tags,
        protect=protect,
        grant_scope="key",
    ), parent)
    kms_key = create_vault_key(
        f"{name}-kms-key", vault=disk.vault, resource_group_name=resource_group_name,
        key_name="etcd-kms",
        properties=key_properties(CLUSTER_KEY_SIZE, KMS_KEY_OPS, non_expiring_rotation_policy()),
        tags=tags, opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    des = _disk_encryption_set(name, cluster_name, location, resource_group_name, disk, tags,
                               protect, parent)
    return ClusterKeys(vault=disk.vault, kms_key=kms_key, disk_encryption_set=des,
                       grants=_cluster_grants(name, subscription_id, cluster_identity, des,
                                              kms_key, disk.vault, parent))


def _disk_encryption_set(name: str, cluster_name: str, location: str,
                         resource_group_name: pulumi.Input[str], disk: CustomerKey,
                         tags: dict[str, str], protect: bool,
                         parent: pulumi.Resource) -> azure.compute.DiskEncryptionSet:
    return azure.compute.DiskEncryptionSet(
        f"{name}-des",
        disk_encryption_set_name=f"des-{cluster_name}",
        resource_group_name=resource_group_name,
        location=location,
        encryption_type="EncryptionAtRestWithCustomerKey",
        identity={"type": "UserAssigned", "user_assigned_identities": [disk.identity.id]},
        active_key={"key_url": disk.key.key_uri_with_version,
                    "source_vault": {"id": disk.vault.id}},
        rotation_to_latest_key_version_enabled=True,
        tags=tags,
        # Without the grant the set cannot reach its key and creation fails.
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=[disk.grant]),
    )


def _cluster_grants(name: str, subscription_id: str,
                    cluster_identity: azure.managedidentity.UserAssignedIdentity,
                    des: azure.compute.DiskEncryptionSet, kms_key: azure.keyvault.Key,
                    vault: azure.keyvault.Vault,
                    parent: pulumi.Resource) -> list[azure.authorization.RoleAssignment]:
    """What the cluster identity needs on the encryption set, the etcd key and the vault."""
    child = pulumi.ResourceOptions(parent=parent)
    principal = cluster_identity.principal_id
    return [
        # AKS BYOK: the cluster identity must read the disk encryption set.
        grant_role(f"{name}-des-reader", principal, subscription_id, READER, des.id, child),
        # KMS: the control plane encrypts/decrypts etcd's data keys with the etcd key.
        grant_role(f"{name}-kms-crypto-user", principal, subscription_id, CRYPTO_USER,
                   kms_key.id, child),
        # KMS with a private vault: AKS links the vault to the cluster with a private endpoint.
        grant_role(f"{name}-kms-vault-contributor", principal, subscription_id,
                   KEY_VAULT_CONTRIBUTOR, vault.id, child),
    ]
