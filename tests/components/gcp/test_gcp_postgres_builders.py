"""The pure builders of the Cloud SQL for PostgreSQL component and the GCS artifact store."""

from __future__ import annotations

from typing import Any

from components.gcp import artifact_store
from components.gcp import postgres as cloudsql
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")


def _args(**over: Any) -> cloudsql.PostgresDatabaseArgs:
    fields: dict[str, Any] = {
        "name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
        "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
        "project": "hml-prod-gke", "project_number": "987654321098", "region": "europe-west4",
        "network_id": "projects/p/global/networks/v",
        "allocated_ip_range": "hml-prod-psa-europe-west4"}
    return cloudsql.PostgresDatabaseArgs(**{**fields, **over})


def test_instance_is_private_and_tls_only():
    ip = cloudsql.instance_settings(_args(), {})["ip_configuration"]
    assert ip["ipv4_enabled"] is False
    assert ip["ssl_mode"] == "ENCRYPTED_ONLY"
    assert ip["private_network"] == "projects/p/global/networks/v"
    assert ip["allocated_ip_range"] == "hml-prod-psa-europe-west4"


def test_no_allocated_range_leaves_the_choice_to_google():
    ip = cloudsql.instance_settings(_args(allocated_ip_range=None), {})["ip_configuration"]
    assert "allocated_ip_range" not in ip


def test_availability_and_protection_follow_the_args():
    ha = cloudsql.instance_settings(_args(high_availability=True, protect=True), {})
    assert ha["availability_type"] == "REGIONAL"
    assert ha["deletion_protection_enabled"] is True and ha["retain_backups_on_delete"] is True
    zonal = cloudsql.instance_settings(_args(high_availability=False, protect=False), {})
    assert zonal["availability_type"] == "ZONAL"
    assert zonal["retain_backups_on_delete"] is False


def test_backups_keep_fewer_days_of_log_than_backups():
    backup = cloudsql.instance_settings(_args(backup_retention_days=3), {})["backup_configuration"]
    assert backup["backup_retention_settings"] == {"retained_backups": 3, "retention_unit": "COUNT"}
    assert backup["transaction_log_retention_days"] == 2
    assert backup["point_in_time_recovery_enabled"] is True


def test_disk_grows_up_to_four_times_and_labels_are_passed_through():
    settings = cloudsql.instance_settings(_args(storage_gb=50), {"owner": "x"})
    assert settings["disk_autoresize_limit"] == 200
    assert settings["user_labels"] == {"owner": "x"}
    assert {f["name"] for f in settings["database_flags"]} == set(cloudsql.DATABASE_FLAGS)


def test_gcs_service_agent_member():
    assert artifact_store.gcs_service_agent("42") == (
        "serviceAccount:service-42@gs-project-accounts.iam.gserviceaccount.com")
