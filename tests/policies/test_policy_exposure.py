"""Public exposure: port and endpoint rules, then every policy through the pack (one pack run)."""

from __future__ import annotations

import pytest
from exposure import (
    DEFAULT_SENSITIVE_PORTS,
    check_cluster_endpoint,
    check_database_public,
    check_open_ports,
)
from policy_testkit import (
    AWS_EU,
    AZURE_EU,
    GCP_EU,
    GCP_LABELS,
    PAB_ALL,
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
)

SG = "aws:ec2/securityGroup:SecurityGroup"


def ingress(
    proto: str = "tcp",
    lo: int = 443,
    hi: int = 443,
    cidrs: list[str] | None = None,
    **extra: object,
) -> dict:
    return {
        "protocol": proto,
        "fromPort": lo,
        "toPort": hi,
        "cidrBlocks": cidrs or ["0.0.0.0/0"],
        **extra,
    }


@pytest.mark.parametrize(
    "type_, inputs, exposed",
    [
        (SG, {"ingress": [ingress()]}, []),
        (SG, {"ingress": [ingress(lo=22, hi=22)]}, ["ingress[0] opens port(s) [22]"]),
        (SG, {"ingress": [ingress(lo=22, hi=22, cidrs=["10.0.0.0/8"])]}, []),
        (
            SG,
            {"ingress": [ingress(lo=5000, hi=6500, cidrs=[], ipv6CidrBlocks=["::/0"])]},
            ["[5432, 5439, 5601, 6379, 6443]"],
        ),
        (
            SG,
            {"ingress": [ingress(proto="-1", lo=0, hi=0)]},
            [str(sorted(DEFAULT_SENSITIVE_PORTS))],
        ),
        (SG, {"ingress": [ingress(proto="icmp", lo=8, hi=0)]}, []),
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv4": "0.0.0.0/0"},
            ["[3389]"],
        ),
        (
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {
                "type": "egress",
                "protocol": "-1",
                "fromPort": 0,
                "toPort": 0,
                "cidrBlocks": ["0.0.0.0/0"],
            },
            [],
        ),
        (
            "gcp:compute/firewall:Firewall",
            {"allows": [{"protocol": "tcp", "ports": ["22", "8000-9100"]}]},
            ["[22, 9092, 9093, 9094]"],
        ),  # no sourceRanges and no source tags: GCP means 0.0.0.0/0
        (
            "gcp:compute/firewall:Firewall",
            {"sourceTags": ["bastion"], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
            [],
        ),
        (
            "gcp:compute/firewall:Firewall",
            {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp"}], "disabled": True},
            [],
        ),
        (
            "azure-native:network:NetworkSecurityGroup",
            {
                "securityRules": [
                    {
                        "name": "ssh",
                        "direction": "Inbound",
                        "access": "Allow",
                        "protocol": "Tcp",
                        "sourceAddressPrefix": "Internet",
                        "destinationPortRange": "22",
                    },
                    {
                        "name": "https",
                        "direction": "Inbound",
                        "access": "Allow",
                        "protocol": "Tcp",
                        "sourceAddressPrefix": "*",
                        "destinationPortRanges": ["443", "8443"],
                    },
                    {
                        "name": "deny",
                        "direction": "Inbound",
                        "access": "Deny",
                        "protocol": "*",
                        "sourceAddressPrefix": "*",
                        "destinationPortRange": "*",
                    },
                ]
            },
            ["securityRules[0] opens port(s) [22]"],
        ),
        (
            "azure-native:network:SecurityRule",
            {
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "*",
                "sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"],
                "destinationPortRange": "5000-5500",
            },
            ["[5432, 5439]"],
        ),
    ],
)
def test_open_port_rules(type_: str, inputs: dict, exposed: list[str]) -> None:
    f, _ = findings()
    got = check_open_ports(type_, props(inputs), DEFAULT_SENSITIVE_PORTS, f)
    assert len(got) == len(exposed) and all(e in g for e, g in zip(exposed, got)), got
    f.settle()


def test_unknown_cidr_only_makes_its_rule_undecided() -> None:
    f, _ = findings()
    inputs = {
        "ingress": [
            ingress(lo=22, hi=22, cidrs=["[unknown]"]),
            ingress(lo=3306, hi=3306),
            ingress(description="[unknown]"),
        ]
    }
    got = check_open_ports(SG, props(inputs), DEFAULT_SENSITIVE_PORTS, f)
    assert got == ["ingress[1] opens port(s) [3306] to the internet"]
    assert len(f.undecided) == 1 and f.undecided[0].path == ("ingress", "0", "cidrBlocks", "0")


@pytest.mark.parametrize(
    "type_, inputs, problem",
    [
        ("aws:rds/instance:Instance", {}, None),
        ("aws:rds/instance:Instance", {"publiclyAccessible": True}, "publiclyAccessible"),
        (
            "gcp:sql/databaseInstance:DatabaseInstance",
            {"settings": {"ipConfiguration": {"ipv4Enabled": False}}},
            None,
        ),
        ("gcp:sql/databaseInstance:DatabaseInstance", {"settings": {"tier": "x"}}, "ipv4Enabled"),
        (
            "azure-native:dbforpostgresql:Server",
            {"network": {"publicNetworkAccess": "Disabled"}},
            None,
        ),
        (
            "azure-native:dbforpostgresql:Server",
            {"network": {"delegatedSubnetResourceId": "[unknown]"}},
            None,
        ),
        ("azure-native:dbforpostgresql:Server", {}, "publicNetworkAccess"),
    ],
)
def test_database_public_rules(type_: str, inputs: dict, problem: str | None) -> None:
    f, _ = findings()
    got = check_database_public(type_, props(inputs), f)
    assert (got == []) if problem is None else (problem in got[0])


@pytest.mark.parametrize(
    "type_, inputs, public",
    [
        ("aws:eks/cluster:Cluster", {"vpcConfig": {"endpointPublicAccess": False}}, False),
        (
            "aws:eks/cluster:Cluster",
            {"vpcConfig": {"publicAccessCidrs": ["203.0.113.0/24"]}},
            False,
        ),
        ("aws:eks/cluster:Cluster", {"vpcConfig": {}}, True),
        ("aws:eks/cluster:Cluster", {"vpcConfig": {"publicAccessCidrs": ["0.0.0.0/0"]}}, True),
        (
            "gcp:container/cluster:Cluster",
            {"privateClusterConfig": {"enablePrivateEndpoint": True}},
            False,
        ),
        (
            "gcp:container/cluster:Cluster",
            {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.0.0.0/8"}]}},
            False,
        ),
        (
            "gcp:container/cluster:Cluster",
            {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}},
            True,
        ),
        ("gcp:container/cluster:Cluster", {}, True),
        (
            "azure-native:containerservice:ManagedCluster",
            {"apiServerAccessProfile": {"enablePrivateCluster": True}},
            False,
        ),
        (
            "azure-native:containerservice:ManagedCluster",
            {"apiServerAccessProfile": {"authorizedIPRanges": ["0.0.0.0/0"]}},
            True,
        ),
        ("azure-native:containerservice:ManagedCluster", {}, True),
    ],
)
def test_cluster_endpoint_rules(type_: str, inputs: dict, public: bool) -> None:
    f, _ = findings()
    assert bool(check_cluster_endpoint(type_, props(inputs), f)) is public
    f.settle()


# --- through the pack ---------------------------------------------------------------------------------------


def gcs(name: str, **inputs: object) -> dict:
    return rec(
        "gcp:storage/bucket:Bucket",
        name,
        {"location": "EUROPE-WEST4", "labels": GCP_LABELS, **inputs},
        provider=GCP_EU,
    )


def sg(name: str, rules: list[dict]) -> dict:
    return rec(SG, name, {"vpcId": "[unknown]", "tags": TAGS, "ingress": rules}, provider=AWS_EU)


CASES: list[Case] = [
    case("s3-bucket-public-access-block", "all-four-flags", "pass", s3_bucket("pab-ok")),
    case(
        "s3-bucket-public-access-block",
        "no-block",
        "fail",
        s3_bucket("pab-none", pab=None),
        message="no aws:s3/bucketPublicAccessBlock",
    ),
    case(
        "s3-bucket-public-access-block",
        "policy-not-blocked",
        "fail",
        s3_bucket("pab-partial", pab={**PAB_ALL, "blockPublicPolicy": False}),
        message="blockPublicPolicy",
    ),
    case(
        "s3-bucket-public-access-block",
        "flag-unknown",
        "undecided",
        s3_bucket("pab-unknown", pab={**PAB_ALL, "restrictPublicBuckets": "[unknown]"}),
    ),
    case(
        "storage-no-public-access",
        "gcs-enforced",
        "pass",
        [gcs("pub-gcs-ok", publicAccessPrevention="enforced", uniformBucketLevelAccess=True)],
    ),
    case(
        "storage-no-public-access",
        "gcs-inherited",
        "fail",
        [gcs("pub-gcs-open", uniformBucketLevelAccess=True)],
        message="publicAccessPrevention",
    ),
    case(
        "storage-no-public-access",
        "azure-no-blob-public",
        "pass",
        [
            rec(
                "azure-native:storage:StorageAccount",
                "pub-sa-ok",
                {"location": "westeurope", "tags": TAGS, "allowBlobPublicAccess": False},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        "storage-no-public-access",
        "azure-blob-public",
        "fail",
        [
            rec(
                "azure-native:storage:StorageAccount",
                "pub-sa-open",
                {"location": "westeurope", "tags": TAGS, "allowBlobPublicAccess": True},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        "storage-no-public-access",
        "azure-container-public",
        "fail",
        [
            rec(
                "azure-native:storage:BlobContainer",
                "pub-container",
                {"accountName": "[unknown]", "publicAccess": "Container"},
                provider=AZURE_EU,
            )
        ],
    ),
    case("no-public-sensitive-ports", "https-only", "pass", [sg("sg-https", [ingress()])]),
    case(
        "no-public-sensitive-ports",
        "ssh-world",
        "fail",
        [sg("sg-ssh", [ingress(lo=22, hi=22)])],
        message="[22]",
    ),
    case(
        "no-public-sensitive-ports",
        "gcp-kafka-world",
        "fail",
        [
            rec(
                "gcp:compute/firewall:Firewall",
                "fw-kafka",
                {
                    "network": "[unknown]",
                    "sourceRanges": ["0.0.0.0/0"],
                    "allows": [{"protocol": "tcp", "ports": ["9092"]}],
                },
                provider=GCP_EU,
            )
        ],
        message="[9092]",
    ),
    case(
        "no-public-sensitive-ports",
        "azure-vpn-only",
        "pass",
        [
            rec(
                "azure-native:network:SecurityRule",
                "nsr-vpn",
                {
                    "direction": "Inbound",
                    "access": "Allow",
                    "protocol": "Tcp",
                    "sourceAddressPrefix": "10.20.0.0/16",
                    "destinationPortRange": "6443",
                    "priority": 100,
                },
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        "no-public-sensitive-ports",
        "cidr-unknown",
        "undecided",
        [sg("sg-unknown", [ingress(lo=22, hi=22, cidrs=["[unknown]"])])],
    ),
    case(
        "database-no-public-access",
        "rds-private",
        "pass",
        [
            rec(
                "aws:rds/instance:Instance",
                "db-private",
                {"storageEncrypted": True, "publiclyAccessible": False, "tags": TAGS},
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "database-no-public-access",
        "rds-public",
        "fail",
        [
            rec(
                "aws:rds/instance:Instance",
                "db-public",
                {"storageEncrypted": True, "publiclyAccessible": True, "tags": TAGS},
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "database-no-public-access",
        "cloudsql-default-public-ip",
        "fail",
        [
            rec(
                "gcp:sql/databaseInstance:DatabaseInstance",
                "db-sql-public",
                {
                    "region": "europe-west4",
                    "settings": {"tier": "db-custom-2-7680", "userLabels": GCP_LABELS},
                },
                provider=GCP_EU,
            )
        ],
        message="ipv4Enabled",
    ),
    case(
        "database-no-public-access",
        "azure-pg-disabled",
        "pass",
        [
            rec(
                "azure-native:dbforpostgresql:Server",
                "db-pg-private",
                {
                    "location": "westeurope",
                    "tags": TAGS,
                    "network": {"publicNetworkAccess": "Disabled"},
                },
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        "kubernetes-api-not-public",
        "eks-private",
        "pass",
        [
            rec(
                "aws:eks/cluster:Cluster",
                "api-eks-private",
                {
                    "tags": TAGS,
                    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
                },
                provider=AWS_EU,
            )
        ],
    ),
    case(
        "kubernetes-api-not-public",
        "eks-world",
        "fail",
        [
            rec(
                "aws:eks/cluster:Cluster",
                "api-eks-world",
                {"tags": TAGS, "vpcConfig": {"subnetIds": ["[unknown]"]}},
                provider=AWS_EU,
            )
        ],
        message="0.0.0.0/0",
    ),
    case(
        "kubernetes-api-not-public",
        "gke-authorized-networks",
        "pass",
        [
            rec(
                "gcp:container/cluster:Cluster",
                "api-gke",
                {
                    "location": "europe-west4",
                    "resourceLabels": GCP_LABELS,
                    "masterAuthorizedNetworksConfig": {
                        "cidrBlocks": [{"cidrBlock": "10.20.0.0/16", "displayName": "onprem"}]
                    },
                },
                provider=GCP_EU,
            )
        ],
    ),
    case(
        "kubernetes-api-not-public",
        "aks-public",
        "fail",
        [
            rec(
                "azure-native:containerservice:ManagedCluster",
                "api-aks",
                {"location": "westeurope", "tags": TAGS},
                provider=AZURE_EU,
            )
        ],
        message="API server is public",
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
