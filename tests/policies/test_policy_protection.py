"""Data protection: rule logic, then every policy through the pack (one pack run, prod config)."""

from __future__ import annotations

import pytest
from policy_testkit import (
    AWS_EU,
    AZURE_EU,
    GCP_EU,
    GCP_LABELS,
    K8S,
    K8S_LABELS,
    TAGS,
    Case,
    assert_case,
    case,
    case_id,
    config,
    findings,
    props,
    rec,
    run_cases,
    s3_bucket,
)
from protection import blob_service_problems, check_gcs_recovery, check_vault, protection_required


def test_protection_required_by_environment_or_flag() -> None:
    assert protection_required({"environment": "prod"})
    assert protection_required(
        {"environment": "prod", "protectStateful": False}
    )  # cannot relax prod
    assert protection_required({"environment": "dev", "protectStateful": True})
    assert not protection_required({"environment": "dev"})


def test_gcs_recovery_rules() -> None:
    f, _ = findings()
    assert (
        check_gcs_recovery(props({"versioning": {"enabled": True}}), f) == []
    )  # soft delete default 7 days
    assert check_gcs_recovery(
        props(
            {"versioning": {"enabled": True}, "softDeletePolicy": {"retentionDurationSeconds": 0}}
        ),
        f,
    ) == ["softDeletePolicy.retentionDurationSeconds is 0, below 7 days"]
    assert check_gcs_recovery(props({}), f) == ["versioning.enabled is not true"]
    f.settle()


def test_blob_service_and_vault_rules() -> None:
    ok = {"isVersioningEnabled": True, "deleteRetentionPolicy": {"enabled": True, "days": 7}}
    assert blob_service_problems(props(ok)) == []
    assert blob_service_problems(
        props({**ok, "deleteRetentionPolicy": {"enabled": True, "days": 1}})
    ) == ["deleteRetentionPolicy.days is 1, below 7"]
    f, _ = findings()
    assert check_vault(props({"properties": {"enablePurgeProtection": True}}), f) == []
    assert check_vault(
        props({"properties": {"enablePurgeProtection": True, "enableSoftDelete": False}}), f
    ) == ["properties.enableSoftDelete is false"]


# --- through the pack ---------------------------------------------------------------------------------------


def account(name: str, **inputs: object) -> dict:
    return rec(
        "azure-native:storage:StorageAccount",
        name,
        {"location": "westeurope", "tags": TAGS, "accountName": "[unknown]", **inputs},
        provider=AZURE_EU,
        protect=True,
    )


def blob_service(name: str, owner: dict, **inputs: object) -> dict:
    return rec(
        "azure-native:storage:BlobServiceProperties",
        name,
        {"accountName": "[unknown]", "blobServicesName": "default", **inputs},
        provider=AZURE_EU,
        dependencies=[owner["urn"]],
        property_dependencies={"accountName": [owner["urn"]]},
    )


GOOD_BLOB = {"isVersioningEnabled": True, "deleteRetentionPolicy": {"enabled": True, "days": 30}}
SA_OK, SA_NO_SVC, SA_WEAK = account("prot-sa-ok"), account("prot-sa-nosvc"), account("prot-sa-weak")
SA_FILES = account("prot-sa-files", kind="FileStorage")
GCS_OK = {
    "location": "EUROPE-WEST4",
    "labels": GCP_LABELS,
    "versioning": {"enabled": True},
    "softDeletePolicy": {"retentionDurationSeconds": 2592000},
}

CASES: list[Case] = [
    case("stateful-resources-protected", "protected-bucket", "pass", s3_bucket("prot-bucket")),
    case(
        "stateful-resources-protected",
        "unprotected-bucket",
        "fail",
        s3_bucket("prot-open", protect=False),
        message="not protected",
    ),
    case(
        "stateful-resources-protected",
        "unprotected-pvc",
        "fail",
        [
            rec(
                "kubernetes:core/v1:PersistentVolumeClaim",
                "prot-pvc",
                {"metadata": {"labels": K8S_LABELS}},
                provider=K8S,
            )
        ],
    ),
    case(
        "stateful-resources-protected",
        "stateless-type-ignored",
        "pass",
        [
            rec(
                "aws:s3/bucketPolicy:BucketPolicy",
                "prot-policy-only",
                {"bucket": "x", "policy": "{}"},
                provider=AWS_EU,
            )
        ],
    ),
    case("s3-bucket-versioning", "enabled", "pass", s3_bucket("ver-ok")),
    case(
        "s3-bucket-versioning",
        "suspended",
        "fail",
        s3_bucket("ver-suspended", versioning="Suspended"),
        message="'Suspended'",
    ),
    case(
        "s3-bucket-versioning",
        "missing",
        "fail",
        s3_bucket("ver-none", versioning=None),
        message="no BucketVersioning",
    ),
    case(
        "s3-bucket-versioning",
        "status-unknown",
        "undecided",
        s3_bucket("ver-unknown", versioning="[unknown]"),
    ),
    case(
        "gcs-versioning-soft-delete",
        "versioned-30-days",
        "pass",
        [rec("gcp:storage/bucket:Bucket", "gver-ok", GCS_OK, provider=GCP_EU, protect=True)],
    ),
    case(
        "gcs-versioning-soft-delete",
        "no-versioning-no-soft-delete",
        "fail",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "gver-off",
                {
                    **GCS_OK,
                    "versioning": {"enabled": False},
                    "softDeletePolicy": {"retentionDurationSeconds": 0},
                },
                provider=GCP_EU,
                protect=True,
            )
        ],
        message="versioning.enabled",
    ),
    case(
        "azure-blob-soft-delete",
        "paired-by-property-dependency",
        "pass",
        [SA_OK, blob_service("prot-sa-ok-blob", SA_OK, **GOOD_BLOB)],
    ),
    case(
        "azure-blob-soft-delete",
        "no-blob-service",
        "fail",
        [SA_NO_SVC],
        message="no BlobServiceProperties",
    ),
    case(
        "azure-blob-soft-delete",
        "retention-off",
        "fail",
        [
            SA_WEAK,
            blob_service(
                "prot-sa-weak-blob",
                SA_WEAK,
                isVersioningEnabled=True,
                deleteRetentionPolicy={"enabled": False},
            ),
        ],
        message="deleteRetentionPolicy.enabled",
    ),
    case("azure-blob-soft-delete", "file-storage-has-no-blobs", "pass", [SA_FILES]),
    case(
        "key-vault-purge-protection",
        "purge-protected",
        "pass",
        [
            rec(
                "azure-native:keyvault:Vault",
                "kv-ok",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "properties": {"enablePurgeProtection": True, "enableSoftDelete": True},
                },
                provider=AZURE_EU,
                protect=True,
            )
        ],
    ),
    case(
        "key-vault-purge-protection",
        "purgeable",
        "fail",
        [
            rec(
                "azure-native:keyvault:Vault",
                "kv-purgeable",
                {"location": "westeurope", "tags": TAGS, "properties": {"enableSoftDelete": True}},
                provider=AZURE_EU,
                protect=True,
            )
        ],
        message="enablePurgeProtection",
    ),
    case("no-force-destroy", "s3-default", "pass", s3_bucket("fd-ok")),
    case(
        "no-force-destroy",
        "s3-force-destroy",
        "fail",
        s3_bucket("fd-s3", bucket_inputs={"forceDestroy": True}),
    ),
    case(
        "no-force-destroy",
        "gcs-force-destroy",
        "fail",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "fd-gcs",
                {**GCS_OK, "forceDestroy": True},
                provider=GCP_EU,
                protect=True,
            )
        ],
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)  # config.prod.json: environment prod


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)


def test_protection_is_not_applicable_outside_prod() -> None:
    open_bucket = s3_bucket("prot-dev-open", protect=False)
    result = run_cases(
        [case("stateful-resources-protected", "dev", "pass", open_bucket)], config("dev")
    )
    assert not [d for d in result.diagnostics if d.policy_name == "stateful-resources-protected"]
    assert any(
        n.policy_name == "stateful-resources-protected" and n.urn == open_bucket[0]["urn"]
        for n in result.not_applicable
    )
