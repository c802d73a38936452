"""Encryption at rest of databases and of managed Kubernetes secrets (etcd) with customer keys."""

from __future__ import annotations

from helpers import (
    Findings,
    elements,
    is_unknown,
    keys,
    lookup,
    validate_each,
)
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
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


database_encryption = ResourceValidationPolicy(
    name="database-encryption",
    display_name="Databases are encrypted at rest",
    description=(
        "aws:rds Instance/Cluster storageEncrypted true; gcp:sql DatabaseInstance encryptionKeyName "
        "(CMEK) set; azure-native:dbforpostgresql Server dataEncryption type AzureKeyVault with a key."
    ),
    validate=validate_each(check_database_encryption),
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
            return [
                (
                    "securityProfile.azureKeyVaultKms is not enabled (etcd secrets are not "
                    "encrypted with a Key Vault key)"
                )
            ]
        key_id = lookup(kms, "keyId")
        return [] if is_unknown(key_id) or key_id else ["securityProfile.azureKeyVaultKms.keyId is not set"]
    return []


kubernetes_secrets_encryption = ResourceValidationPolicy(
    name="kubernetes-secrets-encryption",
    display_name="Managed Kubernetes encrypts secrets with a customer key",
    description=(
        "aws:eks Cluster encryptionConfig with provider.keyArn and resources including 'secrets'; "
        "gcp:container Cluster databaseEncryption state ENCRYPTED with a keyName; "
        "azure-native:containerservice ManagedCluster securityProfile.azureKeyVaultKms enabled with a keyId."
    ),
    validate=validate_each(check_cluster_secrets),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-at-rest", "kubernetes"],
    remediation_steps=(
        "EKS: encryption_config={provider: {key_arn: <aws.kms.Key>.arn}, resources: ['secrets']}. "
        "GKE: database_encryption={state: 'ENCRYPTED', key_name: <gcp.kms.CryptoKey>.id}. "
        "AKS: security_profile={azure_key_vault_kms: {enabled: True, key_id: <key>.key_uri_with_version}}."
    ),
)
