"""A customer-managed key: Key Vault, RSA-HSM key, the identity that wraps with it, its grant.

Every CMK-encrypted Azure resource of the platform (artifact stores, log accounts, PostgreSQL
servers, AKS disks) gets its key the same way, from `create_customer_key`: a premium,
RBAC-only, purge-protected Key Vault (90-day soft delete) closed to public networks except
trusted Azure services, an RSA-HSM key that rotates yearly, a user-assigned identity, and that
identity's "Key Vault Crypto Service Encryption User" grant. The caller keeps naming every
resource (names are identity: they never change in a move) and says where the copies differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random

from components.azure.roles import CRYPTO_SERVICE_ENCRYPTION_USER, grant_role

#: What an Azure service does with its data-encryption key's wrapping key.
WRAP_KEY_OPS = ("wrapKey", "unwrapKey")
#: Days a deleted vault (and its keys) can be recovered.
SOFT_DELETE_DAYS = 90


def vault_properties(tenant_id: str) -> dict[str, Any]:
    """Premium, RBAC-only, purge-protected, soft-deleting, firewalled vault properties.

    Public network access is disabled: the services that use the keys (Storage, Disk Storage,
    PostgreSQL flexible servers) are trusted services and bypass the firewall; AKS KMS reaches a
    "Private" vault over the private endpoint AKS creates.
    """
    return {
        "tenant_id": tenant_id,
        "sku": {"family": "A", "name": "premium"},
        "enable_rbac_authorization": True,
        "enable_soft_delete": True,
        "soft_delete_retention_in_days": SOFT_DELETE_DAYS,
        "enable_purge_protection": True,
        "public_network_access": "Disabled",
        "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
    }


def expiring_rotation_policy() -> dict[str, Any]:
    """A new version every year, each expiring after two, with a notice 30 days before.

    For keys whose users follow the newest version by themselves (versionless key URIs), so
    the version in use never expires.
    """
    return {
        "attributes": {"expiry_time": "P2Y"},
        "lifetime_actions": [
            {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
            {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
        ],
    }


def non_expiring_rotation_policy() -> dict[str, Any]:
    """A new version every year; versions never expire (for users that pin a version)."""
    return {"lifetime_actions": [
        {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
    ]}


def key_properties(key_size: int, key_ops: Sequence[str] = WRAP_KEY_OPS,
                   rotation_policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """An RSA-HSM key of `key_size` bits allowed `key_ops`, rotating by `rotation_policy`
    (default: `expiring_rotation_policy()`)."""
    return {
        "kty": "RSA-HSM",
        "key_size": key_size,
        "key_ops": list(key_ops),
        "rotation_policy": rotation_policy if rotation_policy is not None
        else expiring_rotation_policy(),
    }


def random_suffix(name: str, parent: pulumi.Resource) -> random.RandomString:
    """Six lowercase letters and digits that make a global Azure name (account, vault) unique."""
    return random.RandomString(
        name, length=6, special=False, upper=False, numeric=True, lower=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class CustomerKeyNames:
    """Pulumi resource names of a customer key's four resources (part of their URNs)."""

    identity: str
    vault: str
    key: str
    grant: str

    @classmethod
    def for_cmk(cls, name: str) -> CustomerKeyNames:
        """`<name>-cmk-identity`, `<name>-vault`, `<name>-key`, `<name>-cmk-grant`."""
        return cls(identity=f"{name}-cmk-identity", vault=f"{name}-vault", key=f"{name}-key",
                   grant=f"{name}-cmk-grant")

    @classmethod
    def for_role(cls, name: str, role: str) -> CustomerKeyNames:
        """`<name>-<role>-identity`, `-vault`, `-key` and `-grant`."""
        return cls(identity=f"{name}-{role}-identity", vault=f"{name}-{role}-vault",
                   key=f"{name}-{role}-key", grant=f"{name}-{role}-grant")


@dataclass(frozen=True)
class CustomerKeyArgs:
    """What differs between the platform's customer keys."""

    names: CustomerKeyNames
    #: Azure names of the identity, the vault (global: callers add a random suffix) and the key.
    identity_name: str
    vault_name: pulumi.Input[str]
    key_name: str
    key_size: int
    subscription_id: str
    tenant_id: str
    location: str
    resource_group_name: pulumi.Input[str]
    tags: dict[str, str]
    #: Protect the vault and the key.
    protect: bool
    #: Where the identity's grant applies: the whole vault or just the key.
    grant_scope: Literal["vault", "key"]
    #: Also protect the identity and its grant (a server whose identity or grant goes turns
    #: Inaccessible, so they are as vital as the key).
    protect_identity: bool = False


@dataclass(frozen=True)
class CustomerKey:
    """A customer-managed key with its vault, the identity that may wrap with it and the grant
    (depend on the grant before using the key)."""

    identity: azure.managedidentity.UserAssignedIdentity
    vault: azure.keyvault.Vault
    key: azure.keyvault.Key
    grant: azure.authorization.RoleAssignment


def create_vault_key(name: str, *, vault: azure.keyvault.Vault,
                     resource_group_name: pulumi.Input[str], key_name: str,
                     properties: dict[str, Any], tags: dict[str, str],
                     opts: pulumi.ResourceOptions) -> azure.keyvault.Key:
    """One key in `vault` (properties from `key_properties`)."""
    return azure.keyvault.Key(
        name,
        resource_group_name=resource_group_name,
        vault_name=vault.name,
        key_name=key_name,
        properties=properties,
        tags=tags,
        opts=opts,
    )


def create_customer_key(args: CustomerKeyArgs, parent: pulumi.Resource) -> CustomerKey:
    """Vault, wrapping key (`expiring_rotation_policy`), identity and its grant, all children
    of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    keep = pulumi.ResourceOptions(parent=parent, protect=args.protect)
    identity_opts = keep if args.protect_identity else child
    identity = azure.managedidentity.UserAssignedIdentity(
        args.names.identity, resource_group_name=args.resource_group_name,
        location=args.location, resource_name_=args.identity_name, tags=args.tags,
        opts=identity_opts,
    )
    vault = azure.keyvault.Vault(
        args.names.vault,
        vault_name=args.vault_name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        properties=vault_properties(args.tenant_id),
        tags=args.tags,
        opts=keep,
    )
    key = create_vault_key(args.names.key, vault=vault,
                           resource_group_name=args.resource_group_name, key_name=args.key_name,
                           properties=key_properties(args.key_size), tags=args.tags, opts=keep)
    grant = grant_role(args.names.grant, identity.principal_id, args.subscription_id,
                       CRYPTO_SERVICE_ENCRYPTION_USER,
                       vault.id if args.grant_scope == "vault" else key.id, identity_opts)
    return CustomerKey(identity=identity, vault=vault, key=key, grant=grant)
