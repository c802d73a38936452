"""Physical names, derived from config so that they are known at preview time.

Names that must be globally unique (S3, GCS) carry the account or project and
the region, which keeps them unique without a random suffix and keeps ARNs and
policies computable before anything exists.
"""

from __future__ import annotations

import re

#: An RFC 1123 label (Kubernetes names of namespaces, Services, ...): at most 63 characters,
#: lowercase alphanumerics and '-', starting and ending alphanumeric. Callers with a shorter
#: limit add `max_length`.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DNS_LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


def _dns_safe(*parts: str, limit: int) -> str:
    name = "-".join(p.lower() for p in parts if p)
    name = re.sub(r"[^a-z0-9-]", "-", name)
    name = re.sub(r"-{2,}", "-", name).strip("-")
    if len(name) > limit:
        raise ValueError(f"name {name!r} is longer than {limit} characters")
    if not _DNS_LABEL_RE.match(name):
        raise ValueError(f"name {name!r} is not a valid DNS-style name")
    return name


def s3_bucket_name(prefix: str, store: str, account_id: str, region: str, suffix: str = "") -> str:
    """`<prefix>-<store>[-<suffix>]-<account>-<region>`, at most 63 characters."""
    return _dns_safe(prefix, store, suffix, account_id, region, limit=63)


def gcs_bucket_name(project: str, store: str, region: str, suffix: str = "") -> str:
    """`<project>-<store>[-<suffix>]-<region>`, at most 63 characters."""
    return _dns_safe(project, store, suffix, region, limit=63)


def kms_alias(prefix: str, store: str) -> str:
    return f"alias/{_dns_safe(prefix, store, limit=200)}"


def azure_compact(prefix: str, store: str, limit: int) -> str:
    """Lowercase alphanumerics only (storage accounts, vaults' stems), cut to `limit`."""
    return re.sub(r"[^a-z0-9]", "", f"{prefix}{store}".lower())[:limit]
