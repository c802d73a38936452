"""The pure builders of the RDS for PostgreSQL component."""

from __future__ import annotations

import json
from typing import Any

from components.aws import postgres as rds
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")


def _args(**over: Any) -> rds.PostgresDatabaseArgs:
    fields: dict[str, Any] = {
        "name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
        "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
        "region": "eu-west-1", "account_id": "123456789012", "vpc_id": "vpc-0123",
        "subnet_ids": ["subnet-0a", "subnet-0b"], "client_cidrs": ("10.20.0.0/16",)}
    return rds.PostgresDatabaseArgs(**{**fields, **over})


def test_protected_instance_keeps_backups_and_refuses_deletion():
    settings = rds.instance_settings(_args(protect=True))
    assert settings["deletion_protection"] is True
    assert settings["skip_final_snapshot"] is False
    assert settings["delete_automated_backups"] is False


def test_unprotected_instance_skips_the_final_snapshot():
    settings = rds.instance_settings(_args(protect=False))
    assert settings["deletion_protection"] is False
    assert settings["skip_final_snapshot"] is True
    assert settings["delete_automated_backups"] is True


def test_instance_is_private_encrypted_and_sized_from_the_args():
    settings = rds.instance_settings(_args(storage_gb=50, high_availability=False))
    assert settings["identifier"] == "hml-prod-mlflow"
    assert settings["publicly_accessible"] is False
    assert settings["storage_encrypted"] is True
    assert settings["allocated_storage"] == 50
    assert settings["max_allocated_storage"] == 200  # four times by default
    assert settings["multi_az"] is False
    assert settings["engine_version"] == str(rds.POSTGRES_MAJOR)
    assert settings["enabled_cloudwatch_logs_exports"] == ["postgresql"]


def test_explicit_storage_ceiling_wins():
    assert rds.instance_settings(_args(max_storage_gb=500))["max_allocated_storage"] == 500


def test_insights_off_leaves_no_insights_settings():
    settings = rds.instance_settings(_args(performance_insights=False))
    assert settings["performance_insights_enabled"] is False
    assert settings["database_insights_mode"] is None
    assert settings["performance_insights_retention_period"] is None


def test_parameters_force_tls_and_apply_immediately():
    params = {p["name"]: p for p in rds.parameter_list()}
    assert params["rds.force_ssl"]["value"] == "1"
    assert params["ssl_min_protocol_version"]["value"] == "TLSv1.2"
    assert {p["apply_method"] for p in params.values()} == {"immediate"}


def test_key_policy_lets_logs_use_the_key_for_the_database_log_only():
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/rds/instance/x/postgresql"
    admin, logs = json.loads(rds.key_policy("123456789012", "eu-west-1", arn))["Statement"]
    assert admin["Sid"] == "AccountAdministers"
    assert logs["Sid"] == "CloudWatchLogsEncryptsDatabaseLog"
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == arn
