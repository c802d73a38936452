"""Customer-managed KMS keys, the CloudWatch log groups they encrypt, and the IAM policy
documents both need: one definition shared by the cluster, the network, the database and the
artifact store."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

#: Yearly automatic rotation; a deleted key stays recoverable for 30 days.
ROTATION_PERIOD_DAYS = 365
DELETION_WINDOW_DAYS = 30
#: What CloudWatch Logs does with a key that encrypts a log group.
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:Describe*")


def policy_document(*statements: dict) -> str:
    """An IAM policy document (JSON) holding `statements`."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def log_group_arn(region: str, account_id: str, group_name: str) -> str:
    """The ARN of log group `group_name`, known before the group exists (so a key policy can
    name it exactly)."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{group_name}"


def account_administers(account_id: str) -> dict:
    """Key policy statement: the account administers the key (and delegates to IAM policies)."""
    return {"Sid": "AccountAdministers", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "kms:*",
            "Resource": "*"}


def logs_encrypt(sid: str, region: str, group_arn: str) -> dict:
    """Key policy statement: CloudWatch Logs may use the key for exactly one log group; the
    encryption-context condition stops any other log group from borrowing it."""
    return {"Sid": sid, "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": list(LOGS_KEY_ACTIONS),
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}}


def customer_managed_key(
    name: str, *, description: str, policy: str, alias: str, tags: dict[str, str],
    parent: pulumi.Resource, protect: bool,
) -> aws.kms.Key:
    """A rotating symmetric key (`name`, protected with `protect`) and its alias `<name>-alias`."""
    key = aws.kms.Key(
        name, description=description, enable_key_rotation=True,
        rotation_period_in_days=ROTATION_PERIOD_DAYS, deletion_window_in_days=DELETION_WINDOW_DAYS,
        policy=policy, tags=tags, opts=pulumi.ResourceOptions(parent=parent, protect=protect))
    aws.kms.Alias(f"{name}-alias", name=alias, target_key_id=key.key_id,
                  opts=pulumi.ResourceOptions(parent=parent))
    return key


def encrypted_log_group(
    name: str, *, group_name: str, key: aws.kms.Key, retention_days: int, tags: dict[str, str],
    parent: pulumi.Resource, protect: bool,
) -> aws.cloudwatch.LogGroup:
    """A CloudWatch log group encrypted with `key`, kept `retention_days`. Created before the
    service that writes into it, so that service never makes an unencrypted, never-expiring
    group of its own."""
    return aws.cloudwatch.LogGroup(
        name, name=group_name, kms_key_id=key.arn, retention_in_days=retention_days, tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect))
