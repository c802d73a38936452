"""Settings shared by the platform's CMK-encrypted storage accounts (pure: no resources)."""

from __future__ import annotations

from typing import Any

import pulumi


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
