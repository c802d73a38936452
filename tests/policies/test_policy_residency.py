"""Data residency: region resolution and classification rules, then the policy through the pack."""

from __future__ import annotations

import pytest
from helpers import is_unknown
from policy_testkit import (
    AWS_EU,
    AWS_PROVIDER_INPUTS,
    AWS_US,
    AZURE_EU,
    GCP_EU,
    GCP_LABELS,
    GCP_PROVIDER_INPUTS,
    K8S,
    K8S_LABELS,
    TAGS,
    Case,
    assert_case,
    case,
    case_id,
    findings,
    props,
    provider,
    rec,
    run_cases,
)
from pulumi_policy.proxy import UnknownValueError
from residency import check_residency, resource_region

AWS_P = provider("pulumi:providers:aws", AWS_PROVIDER_INPUTS)
GCP_P = provider("pulumi:providers:gcp", GCP_PROVIDER_INPUTS)
AZ_P = provider("pulumi:providers:azure-native", {"location": "westeurope"})

EU = ["eu-west-1", "eu-central-1", "europe-west4", "westeurope"]
PLAN = {
    "allowedRegions": [*EU, "us-east-1"],
    "classifications": {
        "public": {"allowedRegions": [*EU, "us-east-1"], "onPremRequired": False},
        "internal": {"allowedRegions": [*EU, "us-east-1"], "onPremRequired": False},
        "confidential": {"allowedRegions": EU, "onPremRequired": False},
        "restricted": {"allowedRegions": [], "onPremRequired": True},
    },
}


def tags(cls: str) -> dict:
    return {**TAGS, "data-classification": cls}


def test_resource_region_resolution() -> None:
    assert resource_region("aws:s3/bucket:Bucket", props({}), AWS_P) == "eu-west-1"
    assert (
        resource_region("aws:s3/bucket:Bucket", props({"region": "eu-central-1"}), AWS_P)
        == "eu-central-1"
    )
    assert (
        resource_region("gcp:storage/bucket:Bucket", props({"location": "EUROPE-WEST4"}), GCP_P)
        == "europe-west4"
    )
    assert (
        resource_region("gcp:compute/instance:Instance", props({"zone": "europe-west4-b"}), None)
        == "europe-west4"
    )
    assert resource_region("gcp:kms/cryptoKey:CryptoKey", props({}), GCP_P) == "europe-west4"
    assert resource_region("azure-native:storage:BlobContainer", props({}), AZ_P) == "westeurope"
    assert resource_region("azure-native:storage:BlobContainer", props({}), None) is None
    assert is_unknown(
        resource_region("gcp:storage/bucket:Bucket", props({"location": "[unknown]"}), GCP_P)
    )


@pytest.mark.parametrize(
    "type_, inputs, prov, problems",
    [
        ("aws:s3/bucket:Bucket", {"tags": tags("internal")}, AWS_P, []),
        (
            "aws:s3/bucket:Bucket",
            {"region": "ap-south-1", "tags": tags("internal")},
            AWS_P,
            ["region 'ap-south-1' is not in the allowed regions"],
        ),
        (
            "aws:s3/bucket:Bucket",
            {"region": "us-east-1", "tags": tags("confidential")},
            AWS_P,
            ["'confidential' data may only be in"],
        ),
        (
            "gcp:storage/bucket:Bucket",
            {"location": "EU", "labels": GCP_LABELS},
            GCP_P,
            ["region 'eu' is not in the allowed regions"],
        ),
        (
            "gcp:storage/bucket:Bucket",
            {"location": "EUR4", "labels": GCP_LABELS},
            GCP_P,
            ["region 'eur4' is not in the allowed regions"],
        ),
        (
            "azure-native:keyvault:Vault",
            {"location": "westeurope", "tags": tags("restricted")},
            AZ_P,
            ["'restricted' data must stay on-prem"],
        ),
        (
            "azure-native:keyvault:Vault",
            {"location": "westeurope", "tags": tags("secret")},
            AZ_P,
            ["data-classification 'secret' is not in the residency plan"],
        ),
        (
            "aws:iam/role:Role",
            {"assumeRolePolicy": "{}"},
            provider("pulumi:providers:aws", {"region": "us-west-2"}),
            [],
        ),
        (
            "aws:sqs/queue:Queue",
            {},
            None,
            ["its region is set neither on the resource nor on its provider"],
        ),
        (
            "kubernetes:apps/v1:Deployment",
            {"metadata": {"labels": {"hybridml.io/data-classification": "restricted"}}},
            None,
            [],
        ),
        ("random:index/randomString:RandomString", {"length": 6}, None, []),
    ],
)
def test_residency_rules(type_: str, inputs: dict, prov: object, problems: list[str]) -> None:
    f, _ = findings()
    got = check_residency(type_, props(inputs), prov, PLAN, f)
    assert len(got) == len(problems) and all(p in g for p, g in zip(problems, got)), got
    f.settle()


def test_classification_from_provider_default_tags() -> None:
    f, _ = findings()
    restricted_defaults = provider(
        "pulumi:providers:aws",
        {"region": "eu-west-1", "defaultTags": '{"tags": {"data-classification": "restricted"}}'},
    )
    got = check_residency("aws:s3/bucket:Bucket", props({}), restricted_defaults, PLAN, f)
    assert got and "on-prem" in got[0]
    # the resource's own tag wins over the provider default
    assert (
        check_residency(
            "aws:s3/bucket:Bucket", props({"tags": tags("internal")}), restricted_defaults, PLAN, f
        )
        == []
    )


def test_unknown_location_is_undecided() -> None:
    f, _ = findings()
    assert (
        check_residency(
            "gcp:storage/bucket:Bucket", props({"location": "[unknown]"}), GCP_P, PLAN, f
        )
        == []
    )
    with pytest.raises(UnknownValueError):
        f.settle()


# --- through the pack ---------------------------------------------------------------------------------------


def bucket(name: str, cls: str, provider: str = AWS_EU, **inputs: object) -> dict:
    return rec(
        "aws:s3/bucket:Bucket",
        name,
        {"bucket": name, "tags": tags(cls), **inputs},
        provider=provider,
    )


def gcs(name: str, location: str, cls: str = "internal") -> dict:
    return rec(
        "gcp:storage/bucket:Bucket",
        name,
        {"location": location, "labels": {**GCP_LABELS, "data-classification": cls}},
        provider=GCP_EU,
    )


RES = "data-residency"
CASES: list[Case] = [
    case(RES, "aws-eu-provider", "pass", [bucket("res-eu", "internal")]),
    case(RES, "aws-us-internal-allowed", "pass", [bucket("res-us-internal", "internal", AWS_US)]),
    case(
        RES,
        "aws-us-confidential",
        "fail",
        [bucket("res-us-conf", "confidential", AWS_US)],
        message="'confidential' data may only be in",
    ),
    case(
        RES,
        "aws-region-input-outside",
        "fail",
        [bucket("res-ap", "public", region="ap-south-1")],
        message="'ap-south-1'",
    ),
    case(RES, "gcs-eu-region", "pass", [gcs("res-gcs-eu", "EUROPE-WEST4")]),
    case(RES, "gcs-eu-multi-region", "fail", [gcs("res-gcs-multi", "EU")], message="'eu'"),
    case(
        RES,
        "azure-child-inherits-provider",
        "pass",
        [
            rec(
                "azure-native:storage:BlobContainer",
                "res-container",
                {"accountName": "[unknown]"},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        RES,
        "azure-outside",
        "fail",
        [
            rec(
                "azure-native:resources:ResourceGroup",
                "res-rg-us",
                {"location": "eastus", "tags": tags("internal")},
                provider=AZURE_EU,
            )
        ],
        message="'eastus'",
    ),
    case(
        RES,
        "restricted-in-cloud",
        "fail",
        [
            rec(
                "azure-native:keyvault:Vault",
                "res-vault-restricted",
                {"location": "westeurope", "tags": tags("restricted")},
                provider=AZURE_EU,
            )
        ],
        message="on-prem",
    ),
    case(
        RES,
        "iam-is-global",
        "pass",
        [
            rec(
                "aws:iam/role:Role",
                "res-role",
                {"assumeRolePolicy": "{}", "tags": TAGS},
                provider=AWS_US,
            )
        ],
    ),
    case(
        RES,
        "azure-private-dns-is-global",
        "pass",
        [
            rec(
                "azure-native:privatedns:PrivateZone",
                "res-private-zone",
                {"location": "global", "privateZoneName": "mlflow.private.postgres.database.azure.com",
                 "tags": TAGS},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        RES,
        "azure-vault-in-global-is-not",
        "fail",
        [
            rec(
                "azure-native:keyvault:Vault",
                "res-vault-global",
                {"location": "global", "tags": TAGS},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        RES,
        "kubernetes-not-judged",
        "pass",
        [
            rec(
                "kubernetes:core/v1:ConfigMap",
                "res-cm",
                {
                    "metadata": {
                        "labels": {**K8S_LABELS, "hybridml.io/data-classification": "restricted"}
                    }
                },
                provider=K8S,
            )
        ],
    ),
    case(
        RES,
        "location-unknown",
        "undecided",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "res-gcs-unknown",
                {"location": "[unknown]", "labels": GCP_LABELS},
                provider=GCP_EU,
            )
        ],
    ),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(
        CASES,
        {
            "data-residency": PLAN,
            "work-queue-residency": PLAN,
            "stateful-resources-protected": {"environment": "dev"},
        },
    )


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
