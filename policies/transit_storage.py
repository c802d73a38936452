"""Encryption in transit to storage: S3 buckets refuse plain HTTP, Azure Storage takes TLS 1.2+."""

from __future__ import annotations

import json
from typing import Any

from helpers import (
    Findings,
    is_unknown,
    lookup,
    only_types,
    validate_each,
)
from pairing import s3_buckets_with
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

S3_BUCKET_POLICY_TYPES = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})


# --- S3: deny aws:SecureTransport=false (stack policy) --------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy_json: str) -> bool:
    """Whether an S3 bucket policy document has Deny * s3:* when aws:SecureTransport is false."""
    try:
        doc = json.loads(policy_json)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    for stmt in _as_list(doc.get("Statement")):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Deny":
            continue
        principal = stmt.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        )
        actions = [a.lower() for a in _as_list(stmt.get("Action")) if isinstance(a, str)]
        if not everyone or not ({"s3:*", "*"} & set(actions)):
            continue
        condition = stmt.get("Condition")
        if not isinstance(condition, dict):
            continue
        for operator in ("Bool", "BoolIfExists"):
            block = condition.get(operator)
            if not isinstance(block, dict):
                continue
            for key, value in block.items():
                # IAM condition keys are case-insensitive; values may be strings, booleans or lists.
                if key.lower() == "aws:securetransport" and any(
                    str(v).lower() == "false" for v in _as_list(value)
                ):
                    return True
    return False


def _validate_s3_transport(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for bucket, policies in s3_buckets_with(args.resources, S3_BUCKET_POLICY_TYPES):
        # (policy document, holder). The deprecated inline `policy` on the bucket counts when known
        # (unknown there is the bucket's computed output at preview, not something configured).
        inline = lookup(bucket.props, "policy")
        documents = [(lookup(p.props, "policy"), p) for p in policies]
        if isinstance(inline, str):
            documents.append((inline, bucket))
        documents = [(doc, holder) for doc, holder in documents if doc is not None]
        if any(isinstance(doc, str) and denies_insecure_transport(doc) for doc, _ in documents):
            continue
        if f.unknown_verdicts(documents):
            continue
        f.violation(
            f"S3 bucket {bucket.name} has no bucket policy statement denying requests with "
            "aws:SecureTransport=false",
            bucket.urn,
        )
    f.settle()


s3_bucket_secure_transport = StackValidationPolicy(
    name="s3-bucket-secure-transport",
    display_name="S3 buckets refuse plain HTTP",
    description=(
        "Every aws:s3 Bucket has a BucketPolicy with a statement Effect Deny, Principal *, "
        "Action s3:* and Condition Bool aws:SecureTransport 'false'."
    ),
    validate=_validate_s3_transport,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-in-transit", "aws", "s3"],
    remediation_steps=(
        "Add an aws.s3.BucketPolicy with a statement {Sid: DenyInsecureTransport, Effect: Deny, "
        "Principal: '*', Action: 's3:*', Resource: [bucket arn, bucket arn + '/*'], Condition: "
        "{Bool: {'aws:SecureTransport': 'false'}}}."
    ),
)


# --- Azure Storage: HTTPS only, TLS 1.2+ ----------------------------------------------------------------

AZURE_STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
STRONG_AZURE_TLS = frozenset({"TLS1_2", "TLS1_3"})


def check_azure_storage_transport(props: object, f: Findings) -> list[str]:
    problems = []
    https = lookup(props, "enableHttpsTrafficOnly")
    # Absent counts as true: azure-native v3 uses storage API versions after 2019-04-01, where the
    # service default is HTTPS-only. Only an explicit false opens plain HTTP.
    if is_unknown(https):
        f.unknown(https)
    elif https is False:
        problems.append("enableHttpsTrafficOnly is false")
    tls = lookup(props, "minimumTlsVersion")
    # Absent does NOT count: the service's default interpretation is TLS 1.0.
    if is_unknown(tls):
        f.unknown(tls)
    elif tls not in STRONG_AZURE_TLS:
        problems.append(f"minimumTlsVersion is {tls!r}, not TLS1_2 or higher")
    return problems


azure_storage_secure_transport = ResourceValidationPolicy(
    name="azure-storage-secure-transport",
    display_name="Azure storage accepts only TLS 1.2+",
    description=(
        "azure-native:storage StorageAccount: enableHttpsTrafficOnly not false (absent means true, "
        "the service default since API 2019-04-01) and minimumTlsVersion TLS1_2 or higher "
        "(absent means TLS 1.0, so it must be set)."
    ),
    validate=validate_each(only_types(AZURE_STORAGE_ACCOUNT, check_azure_storage_transport)),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-in-transit", "azure"],
    remediation_steps="Set enable_https_traffic_only=True and minimum_tls_version='TLS1_2'.",
)

