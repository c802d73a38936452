"""Each artifact-store component under the SDK mocks: what it creates and guarantees."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pulumi_random as random
import pytest

from components.aws.artifact_store import ArtifactStore as AwsStore
from components.aws.artifact_store import ArtifactStoreArgs as AwsArgs
from components.azure.artifact_store import ArtifactStore as AzureStore
from components.azure.artifact_store import ArtifactStoreArgs as AzureArgs
from components.gcp.artifact_store import ArtifactStore as GcpStore
from components.gcp.artifact_store import ArtifactStoreArgs as GcpArgs
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.offline import run_program
from stacks.preview.plan_file import build_plan

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")


def _capture(program) -> dict[str, dict]:
    plan = build_plan(run_program(program, "p", "test", {}, {}))
    return {r["name"]: r for r in plan["resources"]}


def _of_type(resources: dict[str, dict], token: str) -> list[dict]:
    return [r for r in resources.values() if r["type"] == token]


@pytest.fixture(scope="module")
def aws_store():
    def program():
        p = aws.Provider("aws", region="eu-west-1")
        AwsStore("art", AwsArgs(prefix="hml-prod", store="artifacts", account_id="444455556666",
                                region="eu-west-1", tags=TAGS, noncurrent_version_days=90,
                                access_log_retention_days=365, protect=True),
                 pulumi.ResourceOptions(providers=[p]))
    return _capture(program)


def test_aws_bucket_encrypted_with_rotating_cmk(aws_store):
    key = aws_store["art-key"]
    assert key["inputs"]["enableKeyRotation"] is True and key["protect"]
    for sse in _of_type(aws_store, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
        rule = sse["inputs"]["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert key["urn"] in sse["propertyDependencies"]["rules"]
    assert len(_of_type(aws_store, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")) == 2


def test_aws_buckets_private_versioned_logged_tls_only(aws_store):
    buckets = _of_type(aws_store, "aws:s3/bucket:Bucket")
    names = {b["inputs"]["bucket"] for b in buckets}
    assert names == {"hml-prod-artifacts-444455556666-eu-west-1",
                     "hml-prod-artifacts-logs-444455556666-eu-west-1"}
    assert all(b["protect"] and b["inputs"]["forceDestroy"] is False for b in buckets)
    for pab in _of_type(aws_store, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(pab["inputs"][k] is True for k in (
            "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    versioned = {v["inputs"]["bucket"] for v in _of_type(aws_store, "aws:s3/bucketVersioning:BucketVersioning")
                 if v["inputs"]["versioningConfiguration"]["status"] == "Enabled"}
    assert versioned == names
    [logging] = _of_type(aws_store, "aws:s3/bucketLogging:BucketLogging")
    assert logging["inputs"]["targetBucket"] == "hml-prod-artifacts-logs-444455556666-eu-west-1"
    for pol in _of_type(aws_store, "aws:s3/bucketPolicy:BucketPolicy"):
        doc = json.loads(pol["inputs"]["policy"])
        deny = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
        assert {"aws:SecureTransport": "false"} in [s["Condition"].get("Bool") for s in deny]
    for lc in _of_type(aws_store, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        assert lc["inputs"]["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] == 90


def test_aws_every_taggable_resource_tagged(aws_store):
    for token in ("aws:s3/bucket:Bucket", "aws:kms/key:Key"):
        for r in _of_type(aws_store, token):
            assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["tags"]), r["name"]


def test_unprotected_when_not_asked():
    def program():
        p = aws.Provider("aws", region="eu-west-1")
        AwsStore("art", AwsArgs(prefix="hml-dev", store="a1", account_id="111122223333",
                                region="eu-west-1", tags=TAGS, noncurrent_version_days=1,
                                access_log_retention_days=30, protect=False),
                 pulumi.ResourceOptions(providers=[p]))
    assert not any(r["protect"] for r in _capture(program).values())


@pytest.fixture(scope="module")
def gcp_store():
    def program():
        p = gcp.Provider("gcp", project="hml-prod-ml", region="europe-west4")
        GcpStore("art", GcpArgs(prefix="hml-prod", store="artifacts", project="hml-prod-ml",
                                project_number="812345678901", region="europe-west4", tags=TAGS,
                                noncurrent_version_days=90, soft_delete_days=30,
                                access_log_retention_days=365, protect=True),
                 pulumi.ResourceOptions(providers=[p]))
    return _capture(program)


def test_gcs_buckets_cmek_private_versioned_soft_deleting(gcp_store):
    buckets = _of_type(gcp_store, "gcp:storage/bucket:Bucket")
    assert len(buckets) == 2
    key_id = ("projects/hml-prod-ml/locations/europe-west4/keyRings/hml-prod-artifacts"
              "/cryptoKeys/hml-prod-artifacts-cmek")
    for b in buckets:
        i = b["inputs"]
        assert i["encryption"]["defaultKmsKeyName"] == key_id
        assert i["publicAccessPrevention"] == "enforced" and i["uniformBucketLevelAccess"] is True
        assert i["versioning"]["enabled"] is True
        assert i["softDeletePolicy"]["retentionDurationSeconds"] == 30 * 86400
        assert i["location"] == "EUROPE-WEST4" and b["protect"]
        assert set(REQUIRED_TAG_KEYS) <= set(i["labels"])
    [main] = [b for b in buckets if b["name"] == "art-bucket"]
    assert main["inputs"]["logging"]["logBucket"] == "hml-prod-ml-artifacts-logs-europe-west4"
    # the GCS agent must be granted the key before the bucket is created with it
    grant = gcp_store["art-key-gcs-agent"]
    assert grant["urn"] in main["dependencies"]
    assert grant["inputs"]["member"] == (
        "serviceAccount:service-812345678901@gs-project-accounts.iam.gserviceaccount.com")
    assert gcp_store["art-key"]["inputs"]["rotationPeriod"] == "7776000s"


@pytest.fixture(scope="module")
def azure_store():
    def program():
        p = azure.Provider("az", location="westeurope")
        r = random.Provider("random")
        AzureStore("art", AzureArgs(prefix="hml-prod", store="artifacts",
                                    subscription_id="3f1c2a9e-7b4d-4c1e-9a2f-5d6e7f8a9b0c",
                                    tenant_id="8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
                                    location="westeurope", tags=TAGS, noncurrent_version_days=90,
                                    soft_delete_days=30, access_log_retention_days=365,
                                    key_size=3072, protect=True),
                   pulumi.ResourceOptions(providers=[p, r]))
    return _capture(program)


def test_azure_account_cmk_double_encrypted_https_private(azure_store):
    acct = azure_store["art-account"]
    i = acct["inputs"]
    assert i["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert i["encryption"]["requireInfrastructureEncryption"] is True
    assert i["enableHttpsTrafficOnly"] is True and i["minimumTlsVersion"] == "TLS1_2"
    assert i["allowBlobPublicAccess"] is False and i["allowSharedKeyAccess"] is False
    assert i["sku"]["name"] == "Standard_ZRS" and i["location"] == "westeurope"
    assert acct["protect"]
    # the identity must hold the key role before the account is encrypted with it
    assert azure_store["art-cmk-grant"]["urn"] in acct["dependencies"]


def test_azure_vault_key_and_soft_delete(azure_store):
    vault = azure_store["art-vault"]["inputs"]["properties"]
    assert vault["enablePurgeProtection"] is True and vault["enableRbacAuthorization"] is True
    key = azure_store["art-key"]["inputs"]["properties"]
    assert key["keySize"] == 3072
    assert key["rotationPolicy"]["lifetimeActions"][0]["action"]["type"] == "rotate"
    blob = azure_store["art-blob-service"]["inputs"]
    assert blob["isVersioningEnabled"] is True
    assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert azure_store["art-suffix"]["type"] == "random:index/randomString:RandomString"
    for r in azure_store.values():
        if "tags" in r["inputs"]:
            assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["tags"]), r["name"]
