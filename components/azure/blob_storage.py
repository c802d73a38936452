"""Settings shared by the platform's CMK-encrypted storage accounts (pure: no resources)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.azure.key_vault import CustomerKey


def customer_key_encryption(key_name: pulumi.Input[str], vault_uri: pulumi.Input[str],
                            identity_id: pulumi.Input[str]) -> dict[str, Any]:
    """Blob and file encryption with the customer-managed key `key_name` of the vault at
    `vault_uri`, reached by the user-assigned identity `identity_id`, plus infrastructure
    (double) encryption. Versionless: the account follows the key's rotation by itself."""
    return {
        "key_source": "Microsoft.Keyvault",
        "require_infrastructure_encryption": True,
        "key_vault_properties": {"key_name": key_name, "key_vault_uri": vault_uri},
        "encryption_identity": {"encryption_user_assigned_identity": identity_id},
        "services": {
            "blob": {"enabled": True, "key_type": "Account"},
            "file": {"enabled": True, "key_type": "Account"},
        },
    }


def secure_account_properties(cmk: CustomerKey, public_network_access: str) -> dict[str, Any]:
    """What every platform storage account is: StorageV2, zone-redundant (the data never leaves
    its location), HTTPS and TLS 1.2 only, Entra ID only (no shared keys, no public blobs, no
    cross-tenant replication), a deny-all firewall that lets trusted Azure services through,
    and encrypted with the customer-managed key `cmk` through its identity.

    `public_network_access` is "Disabled" for a store reached only through its private
    endpoint, "Enabled" for an account that trusted services (Network Watcher flow logs) write
    to: their exception applies only to an endpoint limited by firewall rules.
    """
    return {
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS"},
        "access_tier": "Hot",
        "enable_https_traffic_only": True,
        "minimum_tls_version": "TLS1_2",
        "allow_blob_public_access": False,
        "allow_shared_key_access": False,
        "allow_cross_tenant_replication": False,
        "default_to_o_auth_authentication": True,
        "public_network_access": public_network_access,
        "network_rule_set": {"bypass": "AzureServices", "default_action": "Deny"},
        "identity": {"type": "UserAssigned", "user_assigned_identities": [cmk.identity.id]},
        "encryption": customer_key_encryption(
            cmk.key.name, cmk.vault.properties.vault_uri, cmk.identity.id),
    }


def old_version_lifecycle(rule_name: str, days: int) -> dict[str, Any]:
    """A management policy deleting block-blob versions `days` after they were superseded."""
    return {"rules": [{
        "name": rule_name,
        "type": "Lifecycle",
        "enabled": True,
        "definition": {
            "filters": {"blob_types": ["blockBlob"]},
            "actions": {"version": {"delete": {"days_after_creation_greater_than": days}}},
        },
    }]}
