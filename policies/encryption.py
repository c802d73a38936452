"""Encryption at rest: data stores use customer-managed keys, and those keys rotate.

The rules live in ``encryption_storage`` (S3, GCS, Azure Storage, EBS), ``encryption_keys`` (key
rotation) and ``encryption_databases`` (databases, managed Kubernetes secrets); this module is
the pack's list of them, in the pack's order, and where the tests import the checks from.
"""

from __future__ import annotations

from encryption_databases import (
    check_cluster_secrets,
    check_database_encryption,
    database_encryption,
    kubernetes_secrets_encryption,
)
from encryption_keys import check_key_rotation, kms_key_rotation
from encryption_storage import (
    AWS_CMK_TYPES,
    KMS_SSE_ALGORITHMS,
    S3_SSE_TYPES,
    block_storage_encryption,
    check_block_storage,
    check_storage_cmk,
    s3_bucket_kms_encryption,
    sse_rule_verdict,
    storage_cmk_encryption,
)

__all__ = [
    "AWS_CMK_TYPES",
    "KMS_SSE_ALGORITHMS",
    "POLICIES",
    "S3_SSE_TYPES",
    "check_block_storage",
    "check_cluster_secrets",
    "check_database_encryption",
    "check_key_rotation",
    "check_storage_cmk",
    "sse_rule_verdict",
]

POLICIES = [
    s3_bucket_kms_encryption,
    storage_cmk_encryption,
    kms_key_rotation,
    block_storage_encryption,
    database_encryption,
    kubernetes_secrets_encryption,
]
