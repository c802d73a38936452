"""Encryption at rest: data stores use customer-managed keys, and those keys rotate."""

from __future__ import annotations

import re

from helpers import Findings, Unknown, elements, is_mapping, is_unknown, keys, lookup, truthy
from pairing import S3_BUCKET_TYPES, companions, depends_on_type
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
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
    paired = companions(args.resources, S3_BUCKET_TYPES, S3_SSE_TYPES, "bucket", "bucket")
    buckets = {r.urn: r for r in args.resources if r.resource_type in S3_BUCKET_TYPES}
    for urn, configs in paired.items():
        bucket = buckets[urn]
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
                urn,
            )
            continue
        verdicts = [(sse_rule_verdict(rule, cfg), holder) for rule, holder, cfg in sources]
        if any(v is None for v, _ in verdicts):
            continue  # one rule that encrypts with a CMK is enough
        unknown = [(v, holder) for v, holder in verdicts if is_unknown(v)]
        if unknown:
            for v, holder in unknown:
                f.unknown(v, holder.name)
            continue
        f.violation(
            f"S3 bucket {bucket.name} is not encrypted with a customer-managed KMS key: "
            + "; ".join(f"{holder.name}: {v}" for v, holder in verdicts),
            urn,
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


# --- KMS key rotation (AWS, GCP, Azure) ---------------------------------------------------------------

_MAX_ROTATION_SECONDS = 365 * 24 * 3600
_ASYMMETRIC_AWS = re.compile(r"^(RSA_|ECC_|HMAC_|SM2|ML_DSA)")


def _duration_seconds(value: str) -> float | None:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)s", value.strip())
    return float(match.group(1)) if match else None


def check_key_rotation(resource_type: str, props: object, f: Findings) -> list[str]:
    """Why this key does not rotate (empty when it does or the rule does not apply)."""
    if resource_type == "aws:kms/key:Key":
        spec = lookup(props, "customerMasterKeySpec")
        if spec is None:
            spec = lookup(props, "keySpec")
        usage = lookup(props, "keyUsage")
        for value in (spec, usage):
            if is_unknown(value):
                f.unknown(value)
                return []
        # Only symmetric ENCRYPT_DECRYPT keys support automatic rotation.
        if (isinstance(spec, str) and _ASYMMETRIC_AWS.match(spec)) or usage not in (
            None,
            "ENCRYPT_DECRYPT",
        ):
            return []
        rotation = lookup(props, "enableKeyRotation")
        if is_unknown(rotation):
            f.unknown(rotation)
            return []
        return [] if rotation is True else ["enableKeyRotation is not true"]
    if resource_type == "gcp:kms/cryptoKey:CryptoKey":
        purpose = lookup(props, "purpose")
        if is_unknown(purpose):
            f.unknown(purpose)
            return []
        if purpose not in (None, "ENCRYPT_DECRYPT"):
            return []  # asymmetric and MAC keys cannot rotate automatically
        period = lookup(props, "rotationPeriod")
        if is_unknown(period):
            f.unknown(period)
            return []
        if not isinstance(period, str) or not period:
            return ["rotationPeriod is not set"]
        seconds = _duration_seconds(period)
        if seconds is None or seconds > _MAX_ROTATION_SECONDS:
            return [f"rotationPeriod {period!r} is longer than 365 days"]
        return []
    if resource_type == "azure-native:keyvault:Key":
        actions = lookup(props, "properties", "rotationPolicy", "lifetimeActions")
        if is_unknown(actions):
            f.unknown(actions)
            return []
        for action in elements(actions, ("properties", "rotationPolicy", "lifetimeActions")):
            kind = lookup(action, "action", "type")
            if is_unknown(kind):
                f.unknown(kind)
                return []
            if isinstance(kind, str) and kind.lower() == "rotate":
                return []
        return ["properties.rotationPolicy has no lifetime action of type 'rotate'"]
    return []


def _validate_key_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for why in check_key_rotation(args.resource_type, args.props, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    display_name="Encryption keys rotate automatically",
    description=(
        "Symmetric customer-managed keys rotate: aws:kms Key enableKeyRotation true; "
        "gcp:kms CryptoKey (ENCRYPT_DECRYPT) rotationPeriod at most 365 days; "
        "azure-native:keyvault Key rotationPolicy with a 'rotate' lifetime action."
    ),
    validate=_validate_key_rotation,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "key-management"],
    remediation_steps=(
        "AWS: enable_key_rotation=True (optionally rotation_period_in_days). GCP: "
        "rotation_period='7776000s' (90 days). Azure: properties.rotation_policy.lifetime_actions "
        "with action type 'rotate' (e.g. timeAfterCreate P1Y)."
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


def _validate_block_storage(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for why in check_block_storage(args.resource_type, args.props, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


block_storage_encryption = ResourceValidationPolicy(
    name="block-storage-encryption",
    display_name="EBS volumes are encrypted",
    description=(
        "aws:ebs Volume encrypted true; aws:ec2 LaunchTemplate blockDeviceMappings[].ebs.encrypted "
        "true; aws:ec2 Instance rootBlockDevice.encrypted and ebsBlockDevices[].encrypted true."
    ),
    validate=_validate_block_storage,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "aws", "ebs"],
    remediation_steps=(
        "Set encrypted=True (LaunchTemplate: ebs.encrypted='true') and kms_key_id to a "
        "customer-managed aws.kms.Key; set root_block_device.encrypted=True on instances."
    ),
)


# --- Databases ----------------------------------------------------------------------------------------


def check_database_encryption(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        value = lookup(props, "storageEncrypted")
        if is_unknown(value):
            f.unknown(value)
            return []
        return [] if value is True else ["storageEncrypted is not true"]
    if resource_type == "gcp:sql/databaseInstance:DatabaseInstance":
        value = lookup(props, "encryptionKeyName")
        if is_unknown(value):
            # Unknown means it is set from another resource (a CryptoKey): it is a CMEK name.
            return []
        return [] if isinstance(value, str) and value else ["encryptionKeyName (CMEK) is not set"]
    if resource_type == "azure-native:dbforpostgresql:Server":
        value = lookup(props, "dataEncryption", "type")
        if is_unknown(value):
            f.unknown(value)
            return []
        if value != "AzureKeyVault":
            return [f"dataEncryption.type is {value!r}, not 'AzureKeyVault'"]
        uri = lookup(props, "dataEncryption", "primaryKeyURI")
        present = "primaryKeyURI" in keys(lookup(props, "dataEncryption"))
        return (
            []
            if present and (is_unknown(uri) or uri)
            else ["dataEncryption.primaryKeyURI is not set"]
        )
    return []


def _validate_database(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for why in check_database_encryption(args.resource_type, args.props, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


database_encryption = ResourceValidationPolicy(
    name="database-encryption",
    display_name="Databases are encrypted at rest",
    description=(
        "aws:rds Instance/Cluster storageEncrypted true; gcp:sql DatabaseInstance encryptionKeyName "
        "(CMEK) set; azure-native:dbforpostgresql Server dataEncryption type AzureKeyVault with a key."
    ),
    validate=_validate_database,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "database"],
    remediation_steps=(
        "RDS: storage_encrypted=True, kms_key_id=<aws.kms.Key>.arn. Cloud SQL: "
        "encryption_key_name=<gcp.kms.CryptoKey>.id. Azure PostgreSQL: data_encryption={type: "
        "'AzureKeyVault', primary_key_uri: <key uri>, primary_user_assigned_identity_id: <identity>}."
    ),
)


# --- Kubernetes secrets encryption (EKS, GKE, AKS) -------------------------------------------------------------


def check_cluster_secrets(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type == "aws:eks/cluster:Cluster":
        config = lookup(props, "encryptionConfig")
        if is_unknown(config):
            f.unknown(config)
            return []
        if config is None:
            return ["encryptionConfig is not set (secrets are not envelope-encrypted with KMS)"]
        problems = []
        key_arn = lookup(config, "provider", "keyArn")
        if not is_unknown(key_arn) and not key_arn:
            problems.append("encryptionConfig.provider.keyArn is not set")
        resources = lookup(config, "resources")
        if is_unknown(resources):
            f.unknown(resources)
        else:
            names = [r for r in elements(resources, ("encryptionConfig", "resources"))]
            if any(is_unknown(n) for n in names):
                f.unknown(next(n for n in names if is_unknown(n)))
            elif "secrets" not in names:
                problems.append("encryptionConfig.resources does not include 'secrets'")
        return problems
    if resource_type == "gcp:container/cluster:Cluster":
        state = lookup(props, "databaseEncryption", "state")
        key = lookup(props, "databaseEncryption", "keyName")
        if is_unknown(state):
            f.unknown(state)
            return []
        problems = []
        if state != "ENCRYPTED":
            problems.append(f"databaseEncryption.state is {state!r}, not 'ENCRYPTED'")
        if not is_unknown(key) and not key:
            problems.append("databaseEncryption.keyName is not set")
        return problems
    if resource_type == "azure-native:containerservice:ManagedCluster":
        kms = lookup(props, "securityProfile", "azureKeyVaultKms")
        if is_unknown(kms):
            f.unknown(kms)
            return []
        enabled = lookup(kms, "enabled") if kms is not None else None
        if is_unknown(enabled):
            f.unknown(enabled)
            return []
        if enabled is not True:
            return ["securityProfile.azureKeyVaultKms is not enabled (etcd secrets are not "
                    "encrypted with a Key Vault key)"]
        key_id = lookup(kms, "keyId")
        return [] if is_unknown(key_id) or key_id else ["securityProfile.azureKeyVaultKms.keyId is not set"]
    return []


def _validate_cluster_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for why in check_cluster_secrets(args.resource_type, args.props, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


kubernetes_secrets_encryption = ResourceValidationPolicy(
    name="kubernetes-secrets-encryption",
    display_name="Managed Kubernetes encrypts secrets with a customer key",
    description=(
        "aws:eks Cluster encryptionConfig with provider.keyArn and resources including 'secrets'; "
        "gcp:container Cluster databaseEncryption state ENCRYPTED with a keyName; "
        "azure-native:containerservice ManagedCluster securityProfile.azureKeyVaultKms enabled with a keyId."
    ),
    validate=_validate_cluster_secrets,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "kubernetes"],
    remediation_steps=(
        "EKS: encryption_config={provider: {key_arn: <aws.kms.Key>.arn}, resources: ['secrets']}. "
        "GKE: database_encryption={state: 'ENCRYPTED', key_name: <gcp.kms.CryptoKey>.id}. "
        "AKS: security_profile={azure_key_vault_kms: {enabled: True, key_id: <key>.key_uri_with_version}}."
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


def _validate_storage_cmk(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    for why in check_storage_cmk(args.resource_type, args.props, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


storage_cmk_encryption = ResourceValidationPolicy(
    name="storage-cmk-encryption",
    display_name="Object storage uses customer-managed keys",
    description=(
        "gcp:storage Bucket encryption.defaultKmsKeyName set; azure-native:storage StorageAccount "
        "encryption with requireInfrastructureEncryption true, keySource Microsoft.Keyvault and "
        "keyVaultProperties (keyName, keyVaultUri). (S3 is checked by s3-bucket-kms-encryption.)"
    ),
    validate=_validate_storage_cmk,
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

POLICIES = [
    s3_bucket_kms_encryption,
    storage_cmk_encryption,
    kms_key_rotation,
    block_storage_encryption,
    database_encryption,
    kubernetes_secrets_encryption,
]
