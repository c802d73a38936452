"""Pure settings of the Azure storage accounts and PostgreSQL servers."""

from __future__ import annotations

from components.azure.blob_storage import customer_key_encryption, old_version_lifecycle
from components.azure.postgres import MAINTENANCE_WINDOW, backup_settings, private_zone_name


def test_encryption_uses_the_customer_key_through_the_identity_with_double_encryption():
    enc = customer_key_encryption("store-cmk", "https://kv.vault.azure.net/", "/identity")
    assert enc["key_source"] == "Microsoft.Keyvault"
    assert enc["require_infrastructure_encryption"] is True
    assert enc["key_vault_properties"] == {"key_name": "store-cmk",
                                           "key_vault_uri": "https://kv.vault.azure.net/"}
    assert enc["encryption_identity"] == {"encryption_user_assigned_identity": "/identity"}
    assert enc["services"] == {"blob": {"enabled": True, "key_type": "Account"},
                               "file": {"enabled": True, "key_type": "Account"}}


def test_lifecycle_deletes_only_old_block_blob_versions_after_the_given_days():
    [rule] = old_version_lifecycle("expire-old-versions", 14)["rules"]
    assert (rule["name"], rule["type"], rule["enabled"]) == ("expire-old-versions", "Lifecycle",
                                                             True)
    assert rule["definition"] == {
        "filters": {"blob_types": ["blockBlob"]},
        "actions": {"version": {"delete": {"days_after_creation_greater_than": 14}}}}


def test_backups_are_kept_at_least_seven_days_and_geo_redundant_only_when_asked():
    assert backup_settings(3, geo_redundant=False) == {
        "backup_retention_days": 7, "geo_redundant_backup": "Disabled"}
    assert backup_settings(30, geo_redundant=True) == {
        "backup_retention_days": 30, "geo_redundant_backup": "Enabled"}


def test_private_zone_and_maintenance_window():
    assert private_zone_name("hml-prod", "mlflow") == (
        "hml-prod-mlflow.private.postgres.database.azure.com")
    assert (MAINTENANCE_WINDOW["day_of_week"], MAINTENANCE_WINDOW["start_hour"]) == (0, 2)


def test_both_storage_accounts_share_one_hardened_set_differing_only_in_network_access():
    from types import SimpleNamespace

    from components.azure.blob_storage import secure_account_properties

    cmk = SimpleNamespace(identity=SimpleNamespace(id="id-1"), key=SimpleNamespace(name="k"),
                          vault=SimpleNamespace(properties=SimpleNamespace(vault_uri="https://v/")))
    store = secure_account_properties(cmk, public_network_access="Disabled")
    logs = secure_account_properties(cmk, public_network_access="Enabled")
    assert {k for k in store if store[k] != logs[k]} == {"public_network_access"}
    assert store["allow_shared_key_access"] is False and store["minimum_tls_version"] == "TLS1_2"
    assert store["network_rule_set"] == {"bypass": "AzureServices", "default_action": "Deny"}
    assert store["encryption"]["key_vault_properties"] == {"key_name": "k", "key_vault_uri": "https://v/"}
