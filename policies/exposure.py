"""Public exposure: no public buckets, no admin/data ports open to the internet, no public APIs.

The rules live in ``exposure_data`` (buckets, storage accounts, databases) and
``exposure_network`` (sensitive ports, managed Kubernetes API endpoints); this module is the
pack's list of them, in the pack's order, and where the tests import the checks from.
"""

from __future__ import annotations

from exposure_data import (
    PAB_FLAGS,
    S3_ACCOUNT_PAB_TYPES,
    S3_PAB_TYPES,
    check_database_public,
    check_storage_public,
    database_no_public_access,
    pab_verdict,
    s3_bucket_public_access_block,
    storage_no_public_access,
)
from exposure_network import (
    ANY_IPV4,
    ANY_IPV6,
    DEFAULT_SENSITIVE_PORTS,
    check_cluster_endpoint,
    check_open_ports,
    kubernetes_api_not_public,
    no_public_sensitive_ports,
)

__all__ = [
    "ANY_IPV4",
    "ANY_IPV6",
    "DEFAULT_SENSITIVE_PORTS",
    "PAB_FLAGS",
    "POLICIES",
    "S3_ACCOUNT_PAB_TYPES",
    "S3_PAB_TYPES",
    "check_cluster_endpoint",
    "check_database_public",
    "check_open_ports",
    "check_storage_public",
    "pab_verdict",
]

POLICIES = [
    s3_bucket_public_access_block,
    storage_no_public_access,
    no_public_sensitive_ports,
    database_no_public_access,
    kubernetes_api_not_public,
]
