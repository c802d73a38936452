"""Public exposure of data: no public buckets or storage accounts, no public database endpoints."""

from __future__ import annotations

from helpers import (
    Findings,
    Unknown,
    is_unknown,
    keys,
    lookup,
    truthy,
    validate_each,
)
from pairing import of_types, s3_buckets_with
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

# --- S3 public access block (stack policy) ---------------------------------------------------------------

S3_PAB_TYPES = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
S3_ACCOUNT_PAB_TYPES = frozenset({"aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"})
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def pab_verdict(props: object) -> list[str] | Unknown:
    """The public-access-block flags that are not true, or an Unknown."""
    off = []
    for flag in PAB_FLAGS:
        value = lookup(props, flag)
        if is_unknown(value):
            return value
        if value is not True:
            off.append(flag)
    return off


def _validate_s3_pab(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    # An account-wide block with all four flags covers every bucket of the account.
    account_blocks = [pab_verdict(r.props) for r in of_types(args.resources, S3_ACCOUNT_PAB_TYPES)]
    if any(v == [] for v in account_blocks):
        return
    for bucket, blocks in s3_buckets_with(args.resources, S3_PAB_TYPES):
        if not blocks:
            message = f"S3 bucket {bucket.name} has no aws:s3/bucketPublicAccessBlock"
            f.violation(message, bucket.urn)
            continue
        verdicts = [(pab_verdict(b.props), b) for b in blocks]
        if any(v == [] for v, _ in verdicts):
            continue
        if not f.unknown_verdicts(verdicts):
            off = sorted({flag for v, _ in verdicts for flag in v})
            f.violation(
                f"S3 bucket {bucket.name}: public access block flags not true: {', '.join(off)}",
                bucket.urn,
            )
    f.settle()


s3_bucket_public_access_block = StackValidationPolicy(
    name="s3-bucket-public-access-block",
    display_name="S3 buckets block all public access",
    description=(
        "Every aws:s3 Bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
        "ignorePublicAcls and restrictPublicBuckets all true (or the stack has an "
        "AccountPublicAccessBlock with all four true)."
    ),
    validate=_validate_s3_pab,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["public-exposure", "aws", "s3"],
    remediation_steps=(
        "Add aws.s3.BucketPublicAccessBlock(bucket=..., block_public_acls=True, block_public_policy=True, "
        "ignore_public_acls=True, restrict_public_buckets=True)."
    ),
)


# --- GCS / Azure storage public access -----------------------------------------------------------------


def check_storage_public(resource_type: str, props: object, f: Findings) -> list[str]:
    problems = []
    if resource_type == "gcp:storage/bucket:Bucket":
        pap = lookup(props, "publicAccessPrevention")
        if is_unknown(pap):
            f.unknown(pap)
        elif pap != "enforced":
            # Absent means "inherited": public unless an org policy says otherwise.
            problems.append(f"publicAccessPrevention is {pap!r}, not 'enforced'")
        ubla = lookup(props, "uniformBucketLevelAccess")
        if is_unknown(ubla):
            f.unknown(ubla)
        elif ubla is not True:
            problems.append("uniformBucketLevelAccess is not true (object ACLs stay possible)")
    elif resource_type == "azure-native:storage:StorageAccount":
        value = lookup(props, "allowBlobPublicAccess")
        # Absent counts as false: the service's default interpretation is false.
        if is_unknown(value):
            f.unknown(value)
        elif value is True:
            problems.append("allowBlobPublicAccess is true")
    elif resource_type == "azure-native:storage:BlobContainer":
        value = lookup(props, "publicAccess")
        if is_unknown(value):
            f.unknown(value)
        elif value not in (None, "None"):
            problems.append(f"publicAccess is {value!r}, not 'None'")
    return problems


storage_no_public_access = ResourceValidationPolicy(
    name="storage-no-public-access",
    display_name="Object storage is never public",
    description=(
        "gcp:storage Bucket publicAccessPrevention 'enforced' and uniformBucketLevelAccess true; "
        "azure-native:storage StorageAccount allowBlobPublicAccess not true (absent means false); "
        "BlobContainer publicAccess 'None'."
    ),
    validate=validate_each(check_storage_public),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["public-exposure", "gcp", "azure"],
    remediation_steps=(
        "GCS: public_access_prevention='enforced', uniform_bucket_level_access=True. Azure: "
        "allow_blob_public_access=False on the account and public_access='None' on containers."
    ),
)


# --- Databases without public endpoints ---------------------------------------------------------------


def check_database_public(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type in ("aws:rds/instance:Instance", "aws:rds/clusterInstance:ClusterInstance"):
        value = lookup(props, "publiclyAccessible")
        if is_unknown(value):
            f.unknown(value)
            return []
        return (
            ["publiclyAccessible is true"] if truthy(value) else []
        )  # absent: provider default false
    if resource_type == "gcp:sql/databaseInstance:DatabaseInstance":
        value = lookup(props, "settings", "ipConfiguration", "ipv4Enabled")
        if is_unknown(value):
            f.unknown(value)
            return []
        # Absent means the API default: a public IPv4 address.
        return (
            []
            if value is False
            else ["settings.ipConfiguration.ipv4Enabled is not false (public IP)"]
        )
    if resource_type == "azure-native:dbforpostgresql:Server":
        access = lookup(props, "network", "publicNetworkAccess")
        subnet = lookup(props, "network", "delegatedSubnetResourceId")
        if access == "Disabled":
            return []
        if "delegatedSubnetResourceId" in keys(lookup(props, "network")) and (
            is_unknown(subnet) or subnet
        ):
            return []  # VNet-integrated servers have no public endpoint
        if is_unknown(access):
            f.unknown(access)
            return []
        return [f"network.publicNetworkAccess is {access!r}, not 'Disabled'"]
    return []


database_no_public_access = ResourceValidationPolicy(
    name="database-no-public-access",
    display_name="Databases have no public endpoint",
    description=(
        "aws:rds Instance/ClusterInstance publiclyAccessible not true; gcp:sql DatabaseInstance "
        "settings.ipConfiguration.ipv4Enabled false; azure-native:dbforpostgresql Server "
        "network.publicNetworkAccess Disabled (or VNet-integrated via delegatedSubnetResourceId)."
    ),
    validate=validate_each(check_database_public),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["public-exposure", "database"],
    remediation_steps=(
        "RDS: publicly_accessible=False in private subnets. Cloud SQL: settings.ip_configuration="
        "{ipv4_enabled: False, private_network: <vpc>}. Azure PostgreSQL: network={public_network_access: "
        "'Disabled', delegated_subnet_resource_id: ...} or a private endpoint."
    ),
)
