"""Azure built-in roles the components grant, and the one way they grant them."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure

#: Built-in role "Key Vault Crypto Service Encryption User" (get, wrap and unwrap a key): what an
#: Azure service's identity needs on its customer-managed key (Microsoft's RBAC setup).
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#: Built-in role "Key Vault Crypto User" (encrypt/decrypt; what the AKS KMS plugin does).
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
#: Built-in role "Key Vault Contributor" (management plane only, no data access).
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
#: Built-in role "Reader".
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
#: Built-in role "Network Contributor" (join subnets, manage load balancers and public IPs).
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
#: Built-in role "Storage Blob Data Contributor": read, write and delete blobs (no account keys,
#: no management of the account itself).
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


def role_definition_id(subscription_id: str, role: str) -> str:
    """The resource id of built-in role `role` as seen from `subscription_id`."""
    return (f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization"
            f"/roleDefinitions/{role}")


def grant_role(name: str, principal_id: pulumi.Input[str], subscription_id: str, role: str,
               scope: pulumi.Input[str], opts: pulumi.ResourceOptions
               ) -> azure.authorization.RoleAssignment:
    """Give a service principal (a managed identity) one built-in role on `scope`."""
    return azure.authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition_id(subscription_id, role),
        scope=scope,
        opts=opts,
    )
