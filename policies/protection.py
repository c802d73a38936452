"""Data protection: stateful resources are protected from deletion and keep deleted data recoverable.

Config (``stateful-resources-protected``):

* ``environment`` (required): the stack's environment name, e.g. ``"prod"``.
* ``protectStateful`` (optional): the stack's ``protectStateful`` setting. ``true``
  demands protection outside prod too; ``false`` cannot switch it off in prod.
"""

from __future__ import annotations

from helpers import (
    Findings,
    Unknown,
    config_value,
    is_unknown,
    lookup,
    only_types,
    truthy,
    validate_each,
)
from pairing import owners_with_companions, s3_buckets_with
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

#: Resources that hold data (or the keys to it) and must not be deleted by a stray `pulumi up`.
STATEFUL_TYPES = frozenset(
    {
        "aws:dynamodb/table:Table",
        "aws:ebs/volume:Volume",
        "aws:efs/fileSystem:FileSystem",
        "aws:kms/key:Key",
        "aws:rds/cluster:Cluster",
        "aws:rds/instance:Instance",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "azure-native:dbforpostgresql:Server",
        "azure-native:keyvault:Key",
        "azure-native:keyvault:Vault",
        "azure-native:storage:BlobContainer",
        "azure-native:storage:StorageAccount",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:kms/keyRing:KeyRing",
        "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:storage/bucket:Bucket",
        "kubernetes:core/v1:PersistentVolumeClaim",
    }
)


def protection_required(cfg: dict | None) -> bool:
    return (
        config_value(cfg, "environment", "") == "prod"
        or config_value(cfg, "protectStateful", False) is True
    )


def _validate_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in STATEFUL_TYPES:
        return
    if not protection_required(dict(args.get_config())):
        args.not_applicable("protection is required in prod (or with protectStateful: true)")
    if not args.opts.protect:
        report(
            f"{args.name} ({args.resource_type}) holds state but is not protected (protect=True)",
            None,
        )


stateful_resources_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    display_name="Stateful resources are protected in prod",
    description=(
        "In prod (or with protectStateful), buckets, KMS keys and key rings, databases, EBS volumes, "
        "storage accounts, key vaults and keys, blob containers and PersistentVolumeClaims have the "
        "protect resource option set."
    ),
    validate=_validate_protected,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["data-protection"],
    config_schema=PolicyConfigSchema(
        properties={
            "environment": {
                "type": "string",
                "description": "The stack's environment (dev, staging, prod).",
            },
            "protectStateful": {
                "type": "boolean",
                "description": "Demand protection outside prod too (cannot relax prod).",
            },
        },
        required=["environment"],
    ),
    remediation_steps=(
        "Create the resource with opts=ResourceOptions(parent=self, protect=True) (components take the "
        "stack's protect setting); to delete it on purpose, unprotect it first with `pulumi state unprotect`."
    ),
)


# --- S3 versioning (stack policy) -------------------------------------------------------------------------

S3_VERSIONING_TYPES = frozenset(
    {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    }
)


def _validate_s3_versioning(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for bucket, configs in s3_buckets_with(args.resources, S3_VERSIONING_TYPES):
        # (status, holder). The deprecated inline versioning.enabled counts when known (unknown there
        # is the bucket's computed output at preview, not something the program configured).
        statuses = [(lookup(c.props, "versioningConfiguration", "status"), c) for c in configs]
        inline = lookup(bucket.props, "versioning", "enabled")
        if isinstance(inline, bool):
            statuses.append(("Enabled" if inline else "Disabled", bucket))
        if any(s == "Enabled" for s, _ in statuses):
            continue
        if not f.unknown_verdicts(statuses):
            found = ", ".join(f"{h.name}: {s!r}" for s, h in statuses) or "no BucketVersioning"
            message = f"S3 bucket {bucket.name} does not have versioning Enabled ({found})"
            f.violation(message, bucket.urn)
    f.settle()


s3_bucket_versioning = StackValidationPolicy(
    name="s3-bucket-versioning",
    display_name="S3 buckets keep object versions",
    description="Every aws:s3 Bucket has a BucketVersioning with versioningConfiguration.status 'Enabled'.",
    validate=_validate_s3_versioning,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["data-protection", "aws", "s3"],
    remediation_steps=(
        "Add aws.s3.BucketVersioning(bucket=..., versioning_configuration={status: 'Enabled'}) and a "
        "lifecycle rule expiring noncurrent versions."
    ),
)


# --- GCS versioning and soft delete ----------------------------------------------------------------------

MIN_SOFT_DELETE_SECONDS = 7 * 24 * 3600


def check_gcs_recovery(props: object, f: Findings) -> list[str]:
    problems = []
    versioning = lookup(props, "versioning", "enabled")
    if is_unknown(versioning):
        f.unknown(versioning)
    elif versioning is not True:
        problems.append("versioning.enabled is not true")
    seconds = lookup(props, "softDeletePolicy", "retentionDurationSeconds")
    if is_unknown(seconds):
        f.unknown(seconds)
    elif seconds is not None and float(seconds) < MIN_SOFT_DELETE_SECONDS:
        # Absent means the service default of 604800 s (7 days); 0 switches soft delete off.
        problems.append(
            f"softDeletePolicy.retentionDurationSeconds is {int(float(seconds))}, below 7 days"
        )
    return problems


gcs_versioning_soft_delete = ResourceValidationPolicy(
    name="gcs-versioning-soft-delete",
    display_name="GCS buckets keep versions and soft-deleted objects",
    description=(
        "gcp:storage Bucket versioning.enabled true and softDeletePolicy.retentionDurationSeconds at "
        "least 604800 (7 days; absent means that default)."
    ),
    validate=validate_each(only_types("gcp:storage/bucket:Bucket", check_gcs_recovery)),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    tags=["data-protection", "gcp"],
    remediation_steps="Set versioning={enabled: True} and soft_delete_policy={retention_duration_seconds: 2592000}.",
)


# --- Azure blob versioning and soft delete (stack policy) ---------------------------------------------

AZURE_ACCOUNT_TYPES = frozenset({"azure-native:storage:StorageAccount"})
AZURE_BLOB_SERVICE_TYPES = frozenset({"azure-native:storage:BlobServiceProperties"})
MIN_AZURE_RETENTION_DAYS = 7


def blob_service_problems(props: object) -> list[str] | Unknown:
    problems = []
    versioning = lookup(props, "isVersioningEnabled")
    enabled = lookup(props, "deleteRetentionPolicy", "enabled")
    days = lookup(props, "deleteRetentionPolicy", "days")
    for value in (versioning, enabled, days):
        if is_unknown(value):
            return value
    if versioning is not True:
        problems.append("isVersioningEnabled is not true")
    if enabled is not True:
        problems.append("deleteRetentionPolicy.enabled is not true")
    elif days is None or float(days) < MIN_AZURE_RETENTION_DAYS:
        problems.append(f"deleteRetentionPolicy.days is {days!r}, below {MIN_AZURE_RETENTION_DAYS}")
    return problems


def _validate_azure_blob_recovery(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    paired = owners_with_companions(
        args.resources, AZURE_ACCOUNT_TYPES, AZURE_BLOB_SERVICE_TYPES, "accountName", "accountName"
    )
    for account, services in paired:
        kind = lookup(account.props, "kind")
        if kind == "FileStorage":
            continue  # premium file shares have no blob service
        if not services:
            f.violation(
                f"storage account {account.name} has no BlobServiceProperties (blob versioning and "
                "soft delete are off by default)",
                account.urn,
            )
            continue
        verdicts = [(blob_service_problems(s.props), s) for s in services]
        if any(v == [] for v, _ in verdicts):
            continue
        if not f.unknown_verdicts(verdicts):
            f.violation(
                f"storage account {account.name}: "
                + "; ".join(f"{s.name}: {', '.join(v)}" for v, s in verdicts),
                account.urn,
            )
    f.settle()


azure_blob_soft_delete = StackValidationPolicy(
    name="azure-blob-soft-delete",
    display_name="Azure blobs keep versions and soft-deleted data",
    description=(
        "Every azure-native:storage StorageAccount (except FileStorage) has BlobServiceProperties with "
        "isVersioningEnabled true and deleteRetentionPolicy enabled for at least 7 days."
    ),
    validate=_validate_azure_blob_recovery,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    tags=["data-protection", "azure"],
    remediation_steps=(
        "Add azure_native.storage.BlobServiceProperties(account_name=..., blob_services_name='default', "
        "is_versioning_enabled=True, delete_retention_policy={enabled: True, days: 30}, "
        "container_delete_retention_policy={enabled: True, days: 30})."
    ),
)


# --- Key Vault purge protection ----------------------------------------------------------------------


def check_vault(props: object, f: Findings) -> list[str]:
    problems = []
    purge = lookup(props, "properties", "enablePurgeProtection")
    soft = lookup(props, "properties", "enableSoftDelete")
    if is_unknown(purge):
        f.unknown(purge)
    elif purge is not True:
        problems.append("properties.enablePurgeProtection is not true")
    if is_unknown(soft):
        f.unknown(soft)
    elif soft is False:  # absent means the service default, on
        problems.append("properties.enableSoftDelete is false")
    return problems


key_vault_purge_protection = ResourceValidationPolicy(
    name="key-vault-purge-protection",
    display_name="Key vaults cannot be purged",
    description="azure-native:keyvault Vault properties.enablePurgeProtection true and enableSoftDelete not false.",
    validate=validate_each(only_types("azure-native:keyvault:Vault", check_vault)),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["data-protection", "azure", "key-management"],
    remediation_steps="Set properties.enable_purge_protection=True and enable_soft_delete=True "
    "(soft_delete_retention_in_days=90).",
)


# --- force_destroy ---------------------------------------------------------------------------------------

FORCE_DESTROY_TYPES = frozenset(
    {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "gcp:storage/bucket:Bucket"}
)


def _validate_force_destroy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in FORCE_DESTROY_TYPES:
        return
    f = Findings(report)
    value = lookup(args.props, "forceDestroy")
    if is_unknown(value):
        f.unknown(value)
    elif truthy(value):
        f.violation(
            f"{args.name}: forceDestroy is true (deleting the bucket would delete every object)"
        )
    f.settle()


no_force_destroy = ResourceValidationPolicy(
    name="no-force-destroy",
    display_name="Buckets are not force-destroyable",
    description="aws:s3 Bucket and gcp:storage Bucket forceDestroy is not true.",
    validate=_validate_force_destroy,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    tags=["data-protection"],
    remediation_steps="Set force_destroy=False (the default); empty a bucket deliberately before deleting it.",
)

POLICIES = [
    stateful_resources_protected,
    s3_bucket_versioning,
    gcs_versioning_soft_delete,
    azure_blob_soft_delete,
    key_vault_purge_protection,
    no_force_destroy,
]
