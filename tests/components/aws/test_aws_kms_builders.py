"""The pure builders of components/aws/kms.py: policy documents and key-policy statements."""

from __future__ import annotations

import json

from components.aws import kms

ACCOUNT, REGION = "444455556666", "eu-west-1"


def test_policy_document_wraps_statements_in_the_2012_version():
    doc = json.loads(kms.policy_document({"Effect": "Allow"}, {"Effect": "Deny"}))
    assert doc == {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow"}, {"Effect": "Deny"}]}


def test_log_group_arn_names_region_account_and_group():
    assert (kms.log_group_arn(REGION, ACCOUNT, "/aws/eks/c/cluster")
            == "arn:aws:logs:eu-west-1:444455556666:log-group:/aws/eks/c/cluster")


def test_account_administers_is_the_account_root_with_every_kms_action():
    statement = kms.account_administers(ACCOUNT)
    assert statement["Principal"] == {"AWS": "arn:aws:iam::444455556666:root"}
    assert statement["Action"] == "kms:*"
    assert statement["Effect"] == "Allow"


def test_logs_encrypt_is_scoped_to_one_log_group_by_encryption_context():
    arn = kms.log_group_arn(REGION, ACCOUNT, "/x")
    statement = kms.logs_encrypt("Sid1", REGION, arn)
    assert statement["Sid"] == "Sid1"
    assert statement["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arn}}
    assert "kms:*" not in statement["Action"]
    assert "kms:GenerateDataKey*" in statement["Action"]
