"""Encryption at rest: rule logic, then every policy through the pack (one pack run for the module)."""

from __future__ import annotations

import pytest
from encryption import (
    check_block_storage,
    check_cluster_secrets,
    check_database_encryption,
    check_key_rotation,
    check_storage_cmk,
    sse_rule_verdict,
)
from helpers import is_unknown
from policy_testkit import (
    AWS_EU,
    AZURE_EU,
    GCP_EU,
    GCP_LABELS,
    TAGS,
    Case,
    assert_case,
    case,
    case_id,
    findings,
    props,
    rec,
    run_cases,
    s3_bucket,
    sse_rule,
)
from pulumi_policy.proxy import UnknownValueError

# --- rule logic -------------------------------------------------------------------------------------------


def test_sse_rule_verdicts() -> None:
    def verdict(rules: list) -> object:
        return sse_rule_verdict(props({"rules": rules})["rules"][0], None)

    assert verdict(sse_rule("aws:kms", "arn:aws:kms:eu-west-1:111122223333:key/1234")) is None
    assert (
        verdict(sse_rule("aws:kms:dsse", "arn:aws:kms:eu-west-1:111122223333:alias/my-key")) is None
    )
    assert "AES256" in verdict(sse_rule("AES256"))
    assert "aws/s3" in verdict(sse_rule("aws:kms"))
    assert "AWS-managed" in verdict(sse_rule("aws:kms", "alias/aws/s3"))
    assert "AWS-managed" in verdict(
        sse_rule("aws:kms", "arn:aws:kms:eu-west-1:111122223333:alias/aws/s3")
    )
    # Unknown key id and no stack resource to vouch for it: undecided, not a pass.
    assert is_unknown(verdict(sse_rule("aws:kms", "[unknown]")))


@pytest.mark.parametrize(
    "type_, inputs, problems",
    [
        ("aws:kms/key:Key", {"enableKeyRotation": True}, []),
        ("aws:kms/key:Key", {}, ["enableKeyRotation is not true"]),
        ("aws:kms/key:Key", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}, []),
        ("aws:kms/key:Key", {"keySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"}, []),
        ("gcp:kms/cryptoKey:CryptoKey", {"rotationPeriod": "7776000s"}, []),
        ("gcp:kms/cryptoKey:CryptoKey", {"purpose": "ASYMMETRIC_SIGN"}, []),
        ("gcp:kms/cryptoKey:CryptoKey", {}, ["rotationPeriod is not set"]),
        (
            "gcp:kms/cryptoKey:CryptoKey",
            {"rotationPeriod": "40000000s"},
            ["rotationPeriod '40000000s' is longer than 365 days"],
        ),
        (
            "azure-native:keyvault:Key",
            {
                "properties": {
                    "rotationPolicy": {
                        "lifetimeActions": [
                            {"action": {"type": "notify"}},
                            {"action": {"type": "Rotate"}},
                        ]
                    }
                }
            },
            [],
        ),
        (
            "azure-native:keyvault:Key",
            {"properties": {"kty": "RSA"}},
            ["properties.rotationPolicy has no lifetime action of type 'rotate'"],
        ),
    ],
)
def test_key_rotation(type_: str, inputs: dict, problems: list[str]) -> None:
    f, _ = findings()
    assert check_key_rotation(type_, props(inputs), f) == problems
    f.settle()


def test_key_rotation_unknown_is_undecided() -> None:
    f, _ = findings()
    assert check_key_rotation("aws:kms/key:Key", props({"enableKeyRotation": "[unknown]"}), f) == []
    with pytest.raises(UnknownValueError) as err:
        f.settle()
    assert "enableKeyRotation" in err.value.message


def test_block_storage_rules() -> None:
    f, _ = findings()
    assert check_block_storage("aws:ebs/volume:Volume", props({"encrypted": True}), f) == []
    assert check_block_storage("aws:ebs/volume:Volume", props({}), f) == ["encrypted is not true"]
    lt = {
        "blockDeviceMappings": [
            {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}},
            {"deviceName": "/dev/sdb", "noDevice": ""},
            {"deviceName": "/dev/sdc", "ebs": {"encrypted": "false"}},
        ]
    }
    assert check_block_storage("aws:ec2/launchTemplate:LaunchTemplate", props(lt), f) == [
        "blockDeviceMappings[2].ebs.encrypted is not true"
    ]
    inst = {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "x"}]}
    assert check_block_storage("aws:ec2/instance:Instance", props(inst), f) == [
        "ebsBlockDevices[0].encrypted is not true"
    ]
    f.settle()


def test_database_and_cluster_rules() -> None:
    f, _ = findings()
    assert (
        check_database_encryption("aws:rds/cluster:Cluster", props({"storageEncrypted": True}), f)
        == []
    )
    assert (
        check_database_encryption(
            "gcp:sql/databaseInstance:DatabaseInstance",
            props({"encryptionKeyName": "[unknown]"}),
            f,
        )
        == []
    )
    assert check_database_encryption(
        "azure-native:dbforpostgresql:Server",
        props({"dataEncryption": {"type": "AzureKeyVault"}}),
        f,
    ) == ["dataEncryption.primaryKeyURI is not set"]
    assert (
        check_cluster_secrets(
            "aws:eks/cluster:Cluster",
            props(
                {
                    "encryptionConfig": {
                        "provider": {"keyArn": "[unknown]"},
                        "resources": ["secrets"],
                    }
                }
            ),
            f,
        )
        == []
    )
    assert check_cluster_secrets("gcp:container/cluster:Cluster", props({}), f) == [
        "databaseEncryption.state is None, not 'ENCRYPTED'",
        "databaseEncryption.keyName is not set",
    ]
    f.settle()


def test_azure_storage_cmk_only_needs_the_key_reference_to_be_set() -> None:
    f, _ = findings()
    enc = {
        "encryption": {
            "keySource": "Microsoft.Keyvault",
            "requireInfrastructureEncryption": True,
            "keyVaultProperties": {"keyName": "[unknown]", "keyVaultUri": "[unknown]"},
        }
    }
    assert check_storage_cmk("azure-native:storage:StorageAccount", props(enc), f) == []
    f.settle()


# --- through the pack ---------------------------------------------------------------------------------------

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-aaaa-bbbb-cccc-000000000001"
RSA_KEY = {
    "enableKeyRotation": False,
    "customerMasterKeySpec": "RSA_4096",
    "keyUsage": "SIGN_VERIFY",
    "tags": TAGS,
}
AZ = {"provider": AZURE_EU}
AZURE_ENCRYPTION = {
    "keySource": "Microsoft.Keyvault",
    "requireInfrastructureEncryption": True,
    "keyVaultProperties": {"keyName": "[unknown]", "keyVaultUri": "[unknown]"},
}

CASES: list[Case] = [
    # s3-bucket-kms-encryption (stack policy)
    case("s3-bucket-kms-encryption", "cmk-from-stack-key", "pass", s3_bucket("enc-ok")),
    case(
        "s3-bucket-kms-encryption",
        "known-key-arn-linked-by-name",
        "pass",
        s3_bucket("enc-arn", sse=sse_rule("aws:kms", KEY_ARN), link="name"),
    ),
    case(
        "s3-bucket-kms-encryption",
        "linked-by-dependencies",
        "pass",
        s3_bucket("enc-deps", sse=sse_rule("aws:kms:dsse", KEY_ARN), link="dependencies"),
    ),
    case(
        "s3-bucket-kms-encryption",
        "inline-deprecated-config",
        "pass",
        s3_bucket(
            "enc-inline",
            sse=None,
            bucket_inputs={
                "serverSideEncryptionConfiguration": {
                    "rule": {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": KEY_ARN,
                        }
                    }
                }
            },
        ),
    ),
    case(
        "s3-bucket-kms-encryption",
        "computed-inline-output-is-not-a-config",
        "fail",
        s3_bucket(
            "enc-inline-unknown",
            sse=None,
            bucket_inputs={"serverSideEncryptionConfiguration": "[unknown]"},
        ),
        message="no server-side encryption configuration",
    ),
    case(
        "s3-bucket-kms-encryption",
        "no-encryption-config",
        "fail",
        s3_bucket("enc-none", sse=None),
        message="no server-side encryption configuration",
    ),
    case(
        "s3-bucket-kms-encryption",
        "sse-s3",
        "fail",
        s3_bucket("enc-aes", sse=sse_rule("AES256")),
        message="AES256",
    ),
    case(
        "s3-bucket-kms-encryption",
        "aws-managed-key",
        "fail",
        s3_bucket("enc-awsmanaged", sse=sse_rule("aws:kms", "alias/aws/s3")),
        message="AWS-managed",
    ),
    case(
        "s3-bucket-kms-encryption",
        "default-aws-s3-key",
        "fail",
        s3_bucket("enc-nokey", sse=sse_rule("aws:kms")),
    ),
    case(
        "s3-bucket-kms-encryption",
        "unknown-key-without-stack-key",
        "undecided",
        s3_bucket("enc-unknown", sse=sse_rule("aws:kms", "[unknown]")),
    ),
    # kms-key-rotation
    case(
        "kms-key-rotation",
        "aws-rotating",
        "pass",
        [
            rec(
                "aws:kms/key:Key",
                "kr-aws",
                {"enableKeyRotation": True, "tags": TAGS},
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "kms-key-rotation",
        "aws-asymmetric-cannot-rotate",
        "pass",
        [rec("aws:kms/key:Key", "kr-rsa", RSA_KEY, provider=AWS_EU)],
    ),
    case(
        "kms-key-rotation",
        "aws-not-rotating",
        "fail",
        [rec("aws:kms/key:Key", "kr-aws-off", {"tags": TAGS}, provider=AWS_EU)],
        message="enableKeyRotation",
    ),
    case(
        "kms-key-rotation",
        "aws-rotation-unknown",
        "undecided",
        [
            rec(
                "aws:kms/key:Key",
                "kr-aws-unk",
                {"enableKeyRotation": "[unknown]", "tags": TAGS},
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "kms-key-rotation",
        "gcp-90-days",
        "pass",
        [
            rec(
                "gcp:kms/cryptoKey:CryptoKey",
                "kr-gcp",
                {"keyRing": "[unknown]", "rotationPeriod": "7776000s", "labels": GCP_LABELS},
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "kms-key-rotation",
        "gcp-no-rotation",
        "fail",
        [
            rec(
                "gcp:kms/cryptoKey:CryptoKey",
                "kr-gcp-off",
                {"keyRing": "[unknown]", "labels": GCP_LABELS},
                provider=GCP_EU,
            )
        ],
        message="rotationPeriod",
    ),
    case(
        "kms-key-rotation",
        "azure-rotate-action",
        "pass",
        [
            rec(
                "azure-native:keyvault:Key",
                "kr-az",
                {
                    "tags": TAGS,
                    "properties": {
                        "kty": "RSA-HSM",
                        "rotationPolicy": {
                            "lifetimeActions": [
                                {
                                    "trigger": {"timeAfterCreate": "P1Y"},
                                    "action": {"type": "rotate"},
                                }
                            ]
                        },
                    },
                },
                **AZ,
            )
        ],
    ),
    case(
        "kms-key-rotation",
        "azure-no-rotation-policy",
        "fail",
        [
            rec(
                "azure-native:keyvault:Key",
                "kr-az-off",
                {"tags": TAGS, "properties": {"kty": "RSA-HSM"}},
                **AZ,
            )
        ],
    ),
    # block-storage-encryption
    case(
        "block-storage-encryption",
        "ebs-encrypted",
        "pass",
        [
            rec(
                "aws:ebs/volume:Volume",
                "ebs-ok",
                {
                    "availabilityZone": "eu-west-1a",
                    "size": 10,
                    "encrypted": True,
                    "kmsKeyId": KEY_ARN,
                    "tags": TAGS,
                },
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "block-storage-encryption",
        "ebs-plain",
        "fail",
        [
            rec(
                "aws:ebs/volume:Volume",
                "ebs-plain",
                {"availabilityZone": "eu-west-1a", "size": 10, "tags": TAGS},
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "block-storage-encryption",
        "launch-template-encrypted",
        "pass",
        [
            rec(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt-ok",
                {
                    "tags": TAGS,
                    "blockDeviceMappings": [
                        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}
                    ],
                },
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "block-storage-encryption",
        "launch-template-plain",
        "fail",
        [
            rec(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt-plain",
                {
                    "tags": TAGS,
                    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50}}],
                },
                provider=AWS_EU,
            )
        ],
        message="ebs.encrypted",
    ),
    case(
        "block-storage-encryption",
        "instance-root-unencrypted",
        "fail",
        [
            rec(
                "aws:ec2/instance:Instance",
                "vm-plain",
                {"ami": "ami-1", "instanceType": "t3.micro", "tags": TAGS},
                provider=AWS_EU,
            )
        ],
        message="rootBlockDevice.encrypted",
    ),
    # database-encryption
    case(
        "database-encryption",
        "rds-encrypted",
        "pass",
        [
            rec(
                "aws:rds/instance:Instance",
                "rds-ok",
                {
                    "engine": "postgres",
                    "instanceClass": "db.t4g.micro",
                    "storageEncrypted": True,
                    "tags": TAGS,
                },
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "database-encryption",
        "aurora-plain",
        "fail",
        [
            rec(
                "aws:rds/cluster:Cluster",
                "aurora-plain",
                {"engine": "aurora-postgresql", "tags": TAGS},
                provider=AWS_EU,
            )
        ],
        message="storageEncrypted",
    ),
    case(
        "database-encryption",
        "cloudsql-cmek",
        "pass",
        [
            rec(
                "gcp:sql/databaseInstance:DatabaseInstance",
                "sql-ok",
                {
                    "databaseVersion": "POSTGRES_16",
                    "region": "europe-west4",
                    "encryptionKeyName": "[unknown]",
                    "settings": {"tier": "db-custom-2-7680", "userLabels": GCP_LABELS},
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "database-encryption",
        "cloudsql-google-key",
        "fail",
        [
            rec(
                "gcp:sql/databaseInstance:DatabaseInstance",
                "sql-plain",
                {
                    "databaseVersion": "POSTGRES_16",
                    "region": "europe-west4",
                    "settings": {"tier": "db-custom-2-7680", "userLabels": GCP_LABELS},
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "database-encryption",
        "azure-pg-cmk",
        "pass",
        [
            rec(
                "azure-native:dbforpostgresql:Server",
                "pg-ok",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "dataEncryption": {
                        "type": "AzureKeyVault",
                        "primaryKeyURI": "[unknown]",
                        "primaryUserAssignedIdentityId": "[unknown]",
                    },
                },
                **AZ,
            )
        ],
    ),
    case(
        "database-encryption",
        "azure-pg-service-key",
        "fail",
        [
            rec(
                "azure-native:dbforpostgresql:Server",
                "pg-plain",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "dataEncryption": {"type": "SystemManaged"},
                },
                **AZ,
            )
        ],
        message="AzureKeyVault",
    ),
    # kubernetes-secrets-encryption
    case(
        "kubernetes-secrets-encryption",
        "eks-kms",
        "pass",
        [
            rec(
                "aws:eks/cluster:Cluster",
                "eks-ok",
                {
                    "roleArn": "[unknown]",
                    "tags": TAGS,
                    "vpcConfig": {"endpointPublicAccess": False},
                    "encryptionConfig": {
                        "provider": {"keyArn": "[unknown]"},
                        "resources": ["secrets"],
                    },
                },
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "kubernetes-secrets-encryption",
        "eks-plain",
        "fail",
        [
            rec(
                "aws:eks/cluster:Cluster",
                "eks-plain",
                {
                    "roleArn": "[unknown]",
                    "tags": TAGS,
                    "vpcConfig": {"endpointPublicAccess": False},
                },
                provider=AWS_EU,
            )
        ],
        message="encryptionConfig",
    ),
    case(
        "kubernetes-secrets-encryption",
        "gke-kms",
        "pass",
        [
            rec(
                "gcp:container/cluster:Cluster",
                "gke-ok",
                {
                    "location": "europe-west4",
                    "resourceLabels": GCP_LABELS,
                    "databaseEncryption": {"state": "ENCRYPTED", "keyName": "[unknown]"},
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "kubernetes-secrets-encryption",
        "gke-decrypted",
        "fail",
        [
            rec(
                "gcp:container/cluster:Cluster",
                "gke-plain",
                {
                    "location": "europe-west4",
                    "resourceLabels": GCP_LABELS,
                    "databaseEncryption": {"state": "DECRYPTED"},
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "kubernetes-secrets-encryption",
        "aks-kms",
        "pass",
        [
            rec(
                "azure-native:containerservice:ManagedCluster",
                "aks-ok",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "securityProfile": {"azureKeyVaultKms": {"enabled": True, "keyId": "[unknown]"}},
                },
                **AZ,
            )
        ],
    ),
    case(
        "kubernetes-secrets-encryption",
        "aks-no-kms",
        "fail",
        [
            rec(
                "azure-native:containerservice:ManagedCluster",
                "aks-plain",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "securityProfile": {"workloadIdentity": {"enabled": True}},
                },
                **AZ,
            )
        ],
        message="azureKeyVaultKms",
    ),
    # storage-cmk-encryption
    case(
        "storage-cmk-encryption",
        "gcs-cmek",
        "pass",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "gcs-cmek",
                {
                    "location": "EUROPE-WEST4",
                    "labels": GCP_LABELS,
                    "encryption": {"defaultKmsKeyName": "projects/p/x"},
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "storage-cmk-encryption",
        "gcs-google-key",
        "fail",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "gcs-gkey",
                {"location": "EUROPE-WEST4", "labels": GCP_LABELS},
                provider=GCP_EU,
            )
        ],
        message="defaultKmsKeyName",
    ),
    case(
        "storage-cmk-encryption",
        "azure-cmk",
        "pass",
        [
            rec(
                "azure-native:storage:StorageAccount",
                "sa-cmk",
                {"location": "westeurope", "tags": TAGS, "encryption": AZURE_ENCRYPTION},
                **AZ,
            )
        ],
    ),
    case(
        "storage-cmk-encryption",
        "azure-microsoft-keys",
        "fail",
        [
            rec(
                "azure-native:storage:StorageAccount",
                "sa-mskey",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "encryption": {"keySource": "Microsoft.Storage"},
                },
                **AZ,
            )
        ],
        message="requireInfrastructureEncryption",
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
