"""Encryption at rest of storage: S3 (SSE-KMS, stack policy), GCS and Azure Storage (CMK), EBS."""

from __future__ import annotations

import re

from helpers import (
    Findings,
    Unknown,
    elements,
    is_mapping,
    is_unknown,
    keys,
    lookup,
    truthy,
    validate_each,
)
from pairing import depends_on_type, s3_buckets_with
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

S3_SSE_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
#: Resources whose ARN/id in kmsMasterKeyId means a customer-managed key.
AWS_CMK_TYPES = frozenset(
    {
        "aws:kms/key:Key",
        "aws:kms/replicaKey:ReplicaKey",
        "aws:kms/externalKey:ExternalKey",
        "aws:kms/replicaExternalKey:ReplicaExternalKey",
        # Customers cannot create aliases under alias/aws/, so an alias made in the stack names a CMK.
        "aws:kms/alias:Alias",
    }
)
KMS_SSE_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
_AWS_MANAGED_ALIAS = re.compile(r"(^|:)alias/aws/")


# --- S3: SSE-KMS with a customer-managed key (stack policy) -----------------------------------------------


def sse_rule_verdict(rule: object, config_res: object | None) -> str | Unknown | None:
    """None when ``rule`` is SSE-KMS with a CMK, else why not; Unknown when it cannot be decided."""
    if is_unknown(rule):
        return rule
    default = lookup(rule, "applyServerSideEncryptionByDefault")
    if is_unknown(default):
        return default
    algorithm = lookup(default, "sseAlgorithm")
    if is_unknown(algorithm):
        return algorithm
    if algorithm not in KMS_SSE_ALGORITHMS:
        return f"sseAlgorithm is {algorithm!r}, not aws:kms or aws:kms:dsse"
    key = lookup(default, "kmsMasterKeyId")
    if is_unknown(key):
        # Unknown at preview: a CMK only if the value comes from a KMS key made in this stack.
        if config_res is not None and depends_on_type(config_res, "rules", AWS_CMK_TYPES):
            return None
        return key
    if not isinstance(key, str) or not key.strip():
        return "kmsMasterKeyId is not set, so S3 uses the AWS-managed key aws/s3"
    if _AWS_MANAGED_ALIAS.search(key):
        return f"kmsMasterKeyId {key!r} is an AWS-managed key, not a customer-managed key"
    return None


def _validate_s3_sse(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for bucket, configs in s3_buckets_with(args.resources, S3_SSE_TYPES):
        # (rule, resource that holds it, config resource or None for the bucket's inline form)
        sources: list[tuple[object, PolicyResource, PolicyResource | None]] = []
        # The inline form on the bucket is deprecated in pulumi-aws v7 but still encrypts. It only
        # counts when known: in the CLI's stack analysis it is the bucket's computed output, unknown
        # at preview, which says nothing about what the program configured.
        inline = lookup(bucket.props, "serverSideEncryptionConfiguration", "rule")
        if inline is not None and not is_unknown(inline):
            sources.append((inline, bucket, None))
        for cfg in configs:
            rules = lookup(cfg.props, "rules")
            if is_unknown(rules):
                sources.append((rules, cfg, cfg))
            sources.extend((rule, cfg, cfg) for rule in elements(rules, ("rules",)))
        if not sources:
            f.violation(
                f"S3 bucket {bucket.name} has no server-side encryption configuration "
                "(aws:s3/bucketServerSideEncryptionConfiguration)",
                bucket.urn,
            )
            continue
        verdicts = [(sse_rule_verdict(rule, cfg), holder) for rule, holder, cfg in sources]
        if any(v is None for v, _ in verdicts):
            continue  # one rule that encrypts with a CMK is enough
        if f.unknown_verdicts(verdicts):
            continue
        f.violation(
            f"S3 bucket {bucket.name} is not encrypted with a customer-managed KMS key: "
            + "; ".join(f"{holder.name}: {v}" for v, holder in verdicts),
            bucket.urn,
        )
    f.settle()


s3_bucket_kms_encryption = StackValidationPolicy(
    name="s3-bucket-kms-encryption",
    display_name="S3 buckets use SSE-KMS with a customer-managed key",
    description=(
        "Every aws:s3 Bucket has a BucketServerSideEncryptionConfiguration whose default rule is "
        "sseAlgorithm aws:kms or aws:kms:dsse with a customer-managed key (not alias/aws/*). "
        "A kmsMasterKeyId unknown at preview counts only if it comes from a KMS key of this stack."
    ),
    validate=_validate_s3_sse,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["encryption-at-rest", "aws", "s3"],
    remediation_steps=(
        "Create an aws.s3.BucketServerSideEncryptionConfiguration for the bucket with "
        "rules=[{apply_server_side_encryption_by_default: {sse_algorithm: 'aws:kms', "
        "kms_master_key_id: <aws.kms.Key>.arn}, bucket_key_enabled: True}] (the ArtifactStore "
        "component does this)."
    ),
)


# --- Object storage with customer-managed keys (GCS, Azure Storage) -------------------------------------


def check_storage_cmk(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type == "gcp:storage/bucket:Bucket":
        key = lookup(props, "encryption", "defaultKmsKeyName")
        if is_unknown(key):
            return []  # set from a CryptoKey output: a CMEK by construction
        return (
            []
            if isinstance(key, str) and key
            else ["encryption.defaultKmsKeyName (CMEK) is not set"]
        )
    if resource_type == "azure-native:storage:StorageAccount":
        enc = lookup(props, "encryption")
        if is_unknown(enc):
            f.unknown(enc)
            return []
        problems = []
        infra = lookup(enc, "requireInfrastructureEncryption")
        if is_unknown(infra):
            f.unknown(infra)
        elif infra is not True:
            problems.append("encryption.requireInfrastructureEncryption is not true")
        source = lookup(enc, "keySource")
        if is_unknown(source):
            f.unknown(source)
        elif not isinstance(source, str) or source.lower() != "microsoft.keyvault":
            problems.append(f"encryption.keySource is {source!r}, not 'Microsoft.Keyvault'")
        vault = lookup(enc, "keyVaultProperties")
        # The key name/URI usually come from the Key Vault key's outputs (unknown at preview);
        # being set is what matters here, so only their presence is checked.
        if is_unknown(vault):
            pass
        elif not is_mapping(vault) or not {"keyName", "keyVaultUri"} <= set(keys(vault)):
            problems.append("encryption.keyVaultProperties needs keyName and keyVaultUri")
        return problems
    return []


storage_cmk_encryption = ResourceValidationPolicy(
    name="storage-cmk-encryption",
    display_name="Object storage uses customer-managed keys",
    description=(
        "gcp:storage Bucket encryption.defaultKmsKeyName set; azure-native:storage StorageAccount "
        "encryption with requireInfrastructureEncryption true, keySource Microsoft.Keyvault and "
        "keyVaultProperties (keyName, keyVaultUri). (S3 is checked by s3-bucket-kms-encryption.)"
    ),
    validate=validate_each(check_storage_cmk),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "gcp", "azure"],
    remediation_steps=(
        "GCS: encryption={default_kms_key_name: <gcp.kms.CryptoKey>.id} and grant the GCS service "
        "agent roles/cloudkms.cryptoKeyEncrypterDecrypter. Azure: encryption={key_source: "
        "'Microsoft.Keyvault', require_infrastructure_encryption: True, key_vault_properties: "
        "{key_name, key_vault_uri}, encryption_identity: {...}}."
    ),
)


# --- Block storage (EBS) -----------------------------------------------------------------------------


def check_block_storage(resource_type: str, props: object, f: Findings) -> list[str]:
    problems: list[str] = []

    def need(value: object, what: str) -> None:
        if is_unknown(value):
            f.unknown(value)
        elif not truthy(value):
            problems.append(f"{what} is not true")

    if resource_type == "aws:ebs/volume:Volume":
        need(lookup(props, "encrypted"), "encrypted")
    elif resource_type == "aws:ec2/launchTemplate:LaunchTemplate":
        mappings = lookup(props, "blockDeviceMappings")
        if is_unknown(mappings):
            f.unknown(mappings)
        for i, mapping in enumerate(elements(mappings, ("blockDeviceMappings",))):
            if is_unknown(mapping):
                f.unknown(mapping)
                continue
            if lookup(mapping, "ebs") is None:
                continue  # instance-store / no-device mappings carry no EBS volume
            # LaunchTemplate types ebs.encrypted as a string ("true"/"false").
            need(lookup(mapping, "ebs", "encrypted"), f"blockDeviceMappings[{i}].ebs.encrypted")
    elif resource_type == "aws:ec2/instance:Instance":
        # Without rootBlockDevice.encrypted the root volume follows the AMI, which may be unencrypted.
        need(lookup(props, "rootBlockDevice", "encrypted"), "rootBlockDevice.encrypted")
        devices = lookup(props, "ebsBlockDevices")
        if is_unknown(devices):
            f.unknown(devices)
        for i, device in enumerate(elements(devices, ("ebsBlockDevices",))):
            need(
                lookup(device, "encrypted") if not is_unknown(device) else device,
                f"ebsBlockDevices[{i}].encrypted",
            )
    return problems


block_storage_encryption = ResourceValidationPolicy(
    name="block-storage-encryption",
    display_name="EBS volumes are encrypted",
    description=(
        "aws:ebs Volume encrypted true; aws:ec2 LaunchTemplate blockDeviceMappings[].ebs.encrypted "
        "true; aws:ec2 Instance rootBlockDevice.encrypted and ebsBlockDevices[].encrypted true."
    ),
    validate=validate_each(check_block_storage),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "aws", "ebs"],
    remediation_steps=(
        "Set encrypted=True (LaunchTemplate: ebs.encrypted='true') and kms_key_id to a "
        "customer-managed aws.kms.Key; set root_block_device.encrypted=True on instances."
    ),
)
