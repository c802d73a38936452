"""The pack as a whole: what it declares, what it imports, its config files, and the coverage of the tests."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest
from policy_testkit import PACK, config

from stacks.preview.analyzer_client import PolicyConfigError, run_policy_pack

RULE_MODULES = [
    "encryption",
    "transit",
    "residency",
    "work_queues",
    "tagging",
    "exposure",
    "protection",
    "kubernetes_workloads",
    "network",
    "workflow_charts",
]
TEST_MODULES = [
    "test_policy_encryption",
    "test_policy_transit",
    "test_policy_residency",
    "test_policy_work_queues",
    "test_policy_tagging",
    "test_policy_exposure",
    "test_policy_protection",
    "test_policy_kubernetes",
    "test_policy_network",
    "test_policy_workflow_charts",
]


@pytest.fixture(scope="module")
def info():
    """What the pack declares over the protocol (no resources: GetAnalyzerInfo + Configure + empty analysis)."""
    return run_policy_pack(PACK, [], config("prod"))


def test_every_policy_declares_name_level_severity_and_remediation(info) -> None:
    policies = info.policies
    assert info.pack_name == "hybrid-ml-security" and info.pack_version == "0.1.0"
    assert len(policies) == len({p.name for p in policies}) == 36
    for p in policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.name), p.name
        assert p.description and p.display_name and p.remediation_steps, p.name
        assert p.severity in ("low", "medium", "high", "critical"), p.name
        assert p.declared_level in ("mandatory", "advisory"), p.name
    stack_policies = {p.name for p in policies if p.policy_type == "stack"}
    assert stack_policies == {
        "s3-bucket-kms-encryption",
        "s3-bucket-secure-transport",
        "s3-bucket-public-access-block",
        "s3-bucket-versioning",
        "azure-blob-soft-delete",
        "network-flow-logs",
        "work-queue-residency",
    }


def test_rule_modules_list_exactly_the_pack_policies(info) -> None:
    names = [p.name for m in RULE_MODULES for p in importlib.import_module(m).POLICIES]
    assert sorted(names) == sorted(p.name for p in info.policies)


def test_every_policy_has_a_compliant_and_a_violating_case_through_the_pack(info) -> None:
    cases = [c for m in TEST_MODULES for c in importlib.import_module(m).CASES]
    for p in info.policies:
        expects = {c.expect for c in cases if c.policy == p.name}
        assert {"pass", "fail"} <= expects, f"{p.name}: cases {expects}"


def test_the_pack_imports_only_the_policy_sdk_the_stdlib_and_itself() -> None:
    own = {p.stem for p in PACK.glob("*.py")}
    allowed = own | {"pulumi_policy", "__future__"} | set(sys.stdlib_module_names)
    for path in PACK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_manifest_and_requirements() -> None:
    manifest = (PACK / "PulumiPolicy.yaml").read_text()
    assert re.search(r"^runtime: python$", manifest, re.MULTILINE) and re.search(
        r"^version: 0\.1\.0$", manifest, re.MULTILINE
    )
    pins = [
        line
        for line in (PACK / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert sorted(pins) == ["pulumi-policy==1.21.0", "pulumi==3.272.0"]


_TOKEN = re.compile(r'"((?:aws|gcp|azure-native|kubernetes):[A-Za-z0-9./-]*:[A-Za-z0-9]+)"')
_SDK = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
    "kubernetes": "pulumi_kubernetes",
}
_CRD_GROUPS = ("kafka.strimzi.io/", "gateway.networking.k8s.io/", "kueue.x-k8s.io/")  # CustomResources: no SDK class


def _sdk_folders(package: str, module: str) -> list[Path]:
    """Where the SDK class of a type token lives (aws/gcp: the module; k8s: group/version)."""
    sdk = Path(importlib.import_module(_SDK[package]).__file__).parent
    if package in ("aws", "gcp"):
        name = module.split("/")[0]
        return [sdk / name, sdk / f"{name}_"]  # e.g. aws "lambda" lives in lambda_/
    if package == "kubernetes":
        group, _, version = module.partition("/")  # "apps/v1", "helm.sh/v4", "yaml" (v1 components)
        return [sdk / group.split(".")[0] / version]
    return [sdk / module]


def test_every_type_token_in_the_pack_exists_in_the_installed_provider_sdks() -> None:
    tokens = {
        t
        for path in PACK.glob("*.py")
        for t in _TOKEN.findall(path.read_text())
        if t.startswith(("azure-native:", "kubernetes:")) or "/" in t.split(":")[1]
    }  # not "aws:kms:dsse"
    assert len(tokens) > 100
    missing = []
    for token in sorted(tokens):
        package, module, _ = token.split(":")
        if module.startswith(_CRD_GROUPS):
            continue
        files = [f for folder in _sdk_folders(package, module) for f in folder.glob("*.py")]
        if not any(f'"{token}"' in f.read_text() for f in files):
            missing.append(token)
    assert missing == []


#: The wire (camelCase) input names the rules read, per type: each must be a real SDK property.
READ_PROPERTIES = {
    "aws:ec2/vpnConnection:VpnConnection": [
        "tunnel1IkeVersions",
        "tunnel1Phase1EncryptionAlgorithms",
        "tunnel1Phase2EncryptionAlgorithms",
        "tunnel1Phase1IntegrityAlgorithms",
        "tunnel1Phase2IntegrityAlgorithms",
        "tunnel1Phase1DhGroupNumbers",
        "tunnel1Phase2DhGroupNumbers",
        "tunnel2IkeVersions",
    ],
    "aws:eks/cluster:Cluster": [
        "vpcConfig",
        "endpointPublicAccess",
        "publicAccessCidrs",
        "encryptionConfig",
        "provider",
        "keyArn",
        "resources",
    ],
    "aws:kms/key:Key": ["customerMasterKeySpec", "keySpec", "keyUsage", "enableKeyRotation"],
    "aws:ec2/securityGroup:SecurityGroup": [
        "ingress",
        "cidrBlocks",
        "ipv6CidrBlocks",
        "fromPort",
        "toPort",
        "protocol",
    ],
    "aws:ec2/securityGroupRule:SecurityGroupRule": [
        "type",
        "cidrBlocks",
        "ipv6CidrBlocks",
        "fromPort",
        "toPort",
        "protocol",
    ],
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": [
        "cidrIpv4",
        "cidrIpv6",
        "ipProtocol",
        "fromPort",
        "toPort",
    ],
    "aws:ec2/instance:Instance": ["rootBlockDevice", "ebsBlockDevices", "encrypted"],
    "aws:ec2/launchTemplate:LaunchTemplate": ["blockDeviceMappings", "ebs", "encrypted"],
    "aws:ebs/volume:Volume": ["encrypted"],
    "aws:rds/instance:Instance": ["publiclyAccessible", "storageEncrypted"],
    "aws:rds/cluster:Cluster": ["storageEncrypted"],
    "aws:rds/clusterInstance:ClusterInstance": ["publiclyAccessible"],
    "aws:s3/bucket:Bucket": [
        "bucket",
        "forceDestroy",
        "serverSideEncryptionConfiguration",
        "rule",
        "applyServerSideEncryptionByDefault",
        "versioning",
        "enabled",
        "policy",
        "region",
        "tags",
    ],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "rules",
        "applyServerSideEncryptionByDefault",
        "sseAlgorithm",
        "kmsMasterKeyId",
    ],
    "aws:s3/bucketVersioning:BucketVersioning": ["versioningConfiguration", "status"],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ],
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": [
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ],
    "gcp:container/cluster:Cluster": [
        "privateClusterConfig",
        "enablePrivateEndpoint",
        "masterAuthorizedNetworksConfig",
        "cidrBlocks",
        "cidrBlock",
        "databaseEncryption",
        "state",
        "keyName",
        "resourceLabels",
        "location",
    ],
    "gcp:sql/databaseInstance:DatabaseInstance": [
        "settings",
        "ipConfiguration",
        "ipv4Enabled",
        "encryptionKeyName",
        "userLabels",
        "region",
    ],
    "gcp:storage/bucket:Bucket": [
        "softDeletePolicy",
        "retentionDurationSeconds",
        "publicAccessPrevention",
        "uniformBucketLevelAccess",
        "versioning",
        "enabled",
        "encryption",
        "defaultKmsKeyName",
        "forceDestroy",
        "labels",
        "location",
    ],
    "gcp:kms/cryptoKey:CryptoKey": ["rotationPeriod", "purpose", "labels"],
    "gcp:compute/firewall:Firewall": [
        "allows",
        "ports",
        "protocol",
        "sourceRanges",
        "sourceTags",
        "sourceServiceAccounts",
        "direction",
        "disabled",
    ],
    "gcp:compute/vPNTunnel:VPNTunnel": ["ikeVersion", "region", "labels"],
    "azure-native:keyvault:Key": [
        "properties",
        "rotationPolicy",
        "lifetimeActions",
        "action",
        "type",
    ],
    "azure-native:keyvault:Vault": [
        "properties",
        "enablePurgeProtection",
        "enableSoftDelete",
        "location",
    ],
    "azure-native:containerservice:ManagedCluster": [
        "apiServerAccessProfile",
        "enablePrivateCluster",
        "authorizedIPRanges",
    ],
    "azure-native:network:NetworkSecurityGroup": [
        "securityRules",
        "direction",
        "access",
        "sourceAddressPrefix",
        "sourceAddressPrefixes",
        "destinationPortRange",
        "destinationPortRanges",
    ],
    "azure-native:network:SecurityRule": [
        "direction",
        "access",
        "sourceAddressPrefix",
        "sourceAddressPrefixes",
        "destinationPortRange",
        "destinationPortRanges",
    ],
    "azure-native:network:VirtualNetworkGatewayConnection": [
        "connectionProtocol",
        "connectionType",
        "ipsecPolicies",
        "ikeEncryption",
        "ikeIntegrity",
        "dhGroup",
        "ipsecEncryption",
        "ipsecIntegrity",
        "pfsGroup",
    ],
    "azure-native:storage:StorageAccount": [
        "encryption",
        "requireInfrastructureEncryption",
        "keySource",
        "keyVaultProperties",
        "keyName",
        "keyVaultUri",
        "enableHttpsTrafficOnly",
        "minimumTlsVersion",
        "allowBlobPublicAccess",
        "kind",
        "accountName",
    ],
    "azure-native:storage:BlobServiceProperties": [
        "isVersioningEnabled",
        "deleteRetentionPolicy",
        "enabled",
        "days",
        "accountName",
    ],
    "azure-native:storage:BlobContainer": ["publicAccess"],
    "azure-native:dbforpostgresql:Server": [
        "dataEncryption",
        "type",
        "primaryKeyURI",
        "network",
        "publicNetworkAccess",
        "delegatedSubnetResourceId",
    ],
}


@pytest.mark.parametrize("token", sorted(READ_PROPERTIES))
def test_the_input_names_the_rules_read_are_real_sdk_properties(token: str) -> None:
    package, module, _ = token.split(":")
    text = "".join(
        f.read_text() for folder in _sdk_folders(package, module) for f in folder.glob("*.py")
    )
    # multi-word names are @pulumi.getter(name="camelCase"); single words are the Python name itself
    missing = [
        n
        for n in READ_PROPERTIES[token]
        if f'name="{n}"' not in text and f"def {n}(self)" not in text
    ]
    assert missing == []


def test_config_files_validate_and_match_the_documented_shape() -> None:
    for stack in ("dev", "prod"):
        cfg = config(stack)
        assert set(cfg) == {"data-residency", "work-queue-residency", "required-tags",
                            "stateful-resources-protected"}
        assert cfg["stateful-resources-protected"]["environment"] == stack
        for rules in cfg["data-residency"]["classifications"].values():
            assert set(rules) == {"allowedRegions", "onPremRequired"}
        # bursts are judged by the very plan the resources are
        assert cfg["work-queue-residency"] == cfg["data-residency"]
        run_policy_pack(PACK, [], cfg)  # raises PolicyConfigError if the schemas reject it


def test_residency_and_environment_cannot_be_left_unconfigured() -> None:
    with pytest.raises(PolicyConfigError, match="allowedRegions"):
        run_policy_pack(PACK, [], {})
    # no safe default for where bursts may go either: a config without the burst plan is refused
    without_burst_plan = {k: v for k, v in config("prod").items() if k != "work-queue-residency"}
    with pytest.raises(PolicyConfigError, match="work-queue-residency"):
        run_policy_pack(PACK, [], without_burst_plan)
    with pytest.raises(PolicyConfigError):
        run_policy_pack(
            PACK,
            [],
            {
                **config("prod"),
                "data-residency": {"allowedRegions": "eu-west-1", "classifications": {}},
            },
        )
