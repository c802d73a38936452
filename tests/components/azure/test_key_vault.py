"""The customer-key helper: pure vault/key settings, resource names, and what it creates."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
import pytest

from components.azure.key_vault import (
    WRAP_KEY_OPS,
    CustomerKeyArgs,
    CustomerKeyNames,
    create_customer_key,
    expiring_rotation_policy,
    key_properties,
    non_expiring_rotation_policy,
    vault_properties,
)
from components.azure.roles import CRYPTO_SERVICE_ENCRYPTION_USER, role_definition_id
from tests.conftest import component_plan

SUB = "00000000-0000-0000-0000-000000000001"
T_VAULT = "azure-native:keyvault:Vault"
T_KEY = "azure-native:keyvault:Key"
T_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
T_GRANT = "azure-native:authorization:RoleAssignment"


def test_vault_is_premium_rbac_only_purge_protected_and_firewalled():
    props = vault_properties("tenant-1")
    assert props["tenant_id"] == "tenant-1"
    assert props["sku"] == {"family": "A", "name": "premium"}
    assert props["enable_rbac_authorization"] is True
    assert props["enable_purge_protection"] is True
    assert (props["enable_soft_delete"], props["soft_delete_retention_in_days"]) == (True, 90)
    assert props["public_network_access"] == "Disabled"
    assert props["network_acls"] == {"bypass": "AzureServices", "default_action": "Deny"}


def test_default_key_wraps_and_rotates_yearly_with_versions_expiring_after_two_years():
    props = key_properties(4096)
    assert (props["kty"], props["key_size"]) == ("RSA-HSM", 4096)
    assert props["key_ops"] == ["wrapKey", "unwrapKey"] == list(WRAP_KEY_OPS)
    policy = props["rotation_policy"]
    assert policy["attributes"] == {"expiry_time": "P2Y"}
    assert {a["action"]["type"]: a["trigger"] for a in policy["lifetime_actions"]} == {
        "rotate": {"time_after_create": "P1Y"}, "notify": {"time_before_expiry": "P30D"}}


def test_pinned_version_keys_rotate_but_never_expire():
    props = key_properties(3072, ("encrypt", "decrypt"), non_expiring_rotation_policy())
    assert props["key_ops"] == ["encrypt", "decrypt"]
    assert "attributes" not in props["rotation_policy"]
    assert [a["action"]["type"] for a in props["rotation_policy"]["lifetime_actions"]] == ["rotate"]


def test_rotation_policies_are_fresh_objects():
    # Callers may not share one dict between resources by accident.
    assert expiring_rotation_policy() is not expiring_rotation_policy()


def test_resource_names_of_the_two_naming_schemes():
    assert CustomerKeyNames.for_cmk("store") == CustomerKeyNames(
        identity="store-cmk-identity", vault="store-vault", key="store-key",
        grant="store-cmk-grant")
    assert CustomerKeyNames.for_role("pg-geo", "geo-cmk") == CustomerKeyNames(
        identity="pg-geo-geo-cmk-identity", vault="pg-geo-geo-cmk-vault",
        key="pg-geo-geo-cmk-key", grant="pg-geo-geo-cmk-grant")


def test_role_definition_id_is_the_subscriptions_built_in_role():
    assert role_definition_id(SUB, CRYPTO_SERVICE_ENCRYPTION_USER) == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "e147488a-f6f5-4113-8e2d-b22465e65bf6")


def _plan(grant_scope: str, protect_identity: bool) -> dict:
    def program():
        providers = [azure.Provider("azure", location="westeurope"), random.Provider("random")]
        parent = pulumi.ComponentResource("test:index:Parent", "owner", None,
                                          pulumi.ResourceOptions(providers=providers))
        create_customer_key(CustomerKeyArgs(
            names=CustomerKeyNames.for_cmk("owner"), identity_name="id-owner-cmk",
            vault_name="kvowner123456", key_name="owner-cmk", key_size=2048,
            subscription_id=SUB, tenant_id="tenant-1", location="westeurope",
            resource_group_name="rg-owner", tags={"env": "test"}, protect=True,
            grant_scope=grant_scope, protect_identity=protect_identity,
        ), parent)
    return component_plan(program)


@pytest.mark.parametrize(("scope", "protect_identity"), [("vault", False), ("key", True)])
def test_creates_vault_key_identity_and_grant_under_the_parent(scope, protect_identity):
    plan = _plan(scope, protect_identity)
    by_type = {r["type"]: r for r in plan["resources"] if r["type"].startswith("azure-native:")
               and r["type"] != "pulumi:providers:azure-native"}
    vault, key, identity, grant = (by_type[t] for t in (T_VAULT, T_KEY, T_IDENTITY, T_GRANT))
    assert [r["name"] for r in (identity, vault, key, grant)] == [
        "owner-cmk-identity", "owner-vault", "owner-key", "owner-cmk-grant"]
    assert all(r["parent"].endswith("test:index:Parent::owner")
               for r in (identity, vault, key, grant))
    # Vault and key always protected; identity and grant only when asked.
    assert vault["protect"] and key["protect"]
    assert identity["protect"] is grant["protect"] is protect_identity
    assert vault["inputs"]["vaultName"] == "kvowner123456"
    assert key["inputs"]["keyName"] == "owner-cmk"
    assert key["inputs"]["properties"]["keySize"] == 2048
    assert identity["inputs"]["resourceName"] == "id-owner-cmk"
    assert grant["inputs"]["roleDefinitionId"] == role_definition_id(
        SUB, CRYPTO_SERVICE_ENCRYPTION_USER)
    scoped_on = T_VAULT if scope == "vault" else T_KEY
    assert [u.split("::")[-1] for u in grant["propertyDependencies"]["scope"]] == [
        by_type[scoped_on]["name"]]
    assert grant["propertyDependencies"]["principalId"] == [identity["urn"]]
