"""Required tags: where tags come from per target, value rules, then the policy through the pack."""

from __future__ import annotations

import pytest
from policy_testkit import (
    AWS_EU,
    AWS_PROVIDER_INPUTS,
    AZURE_EU,
    GCP_EU,
    GCP_LABELS,
    GCP_PROVIDER_INPUTS,
    K8S,
    K8S_LABELS,
    PREFIX,
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
from resource_tags import effective_tags, tag_path
from tagging import check_tags

AWS_P = provider("pulumi:providers:aws", AWS_PROVIDER_INPUTS)
AWS_BARE = provider("pulumi:providers:aws", {"region": "eu-west-1"})
GCP_P = provider("pulumi:providers:gcp", GCP_PROVIDER_INPUTS)


def test_tag_locations() -> None:
    assert tag_path("aws:s3/bucket:Bucket", props({})) == ("tags",)
    assert tag_path("aws:s3/bucketPolicy:BucketPolicy", props({"policy": "{}"})) is None
    assert tag_path("aws:some/newThing:NewThing", props({"tags": {}})) == ("tags",)
    assert tag_path("gcp:container/cluster:Cluster", props({})) == ("resourceLabels",)
    assert tag_path("gcp:sql/databaseInstance:DatabaseInstance", props({})) == (
        "settings",
        "userLabels",
    )
    assert tag_path("gcp:kms/keyRing:KeyRing", props({"location": "x"})) is None
    assert tag_path("azure-native:storage:BlobContainer", props({})) is None
    assert tag_path("kubernetes:apps/v1:Deployment", props({})) == ("metadata", "labels")
    assert tag_path("kubernetes:apps/v1:DeploymentPatch", props({})) is None
    assert tag_path("kubernetes:core/v1:ConfigMapList", props({})) is None
    # component resources of the kubernetes package: the CLI analyses them, they have no metadata
    assert tag_path("kubernetes:helm.sh/v4:Chart", props({"chart": "x"})) is None
    assert tag_path("kubernetes:yaml/v2:ConfigGroup", props({})) is None


def test_provider_defaults_sit_under_resource_tags() -> None:
    got = effective_tags("aws:s3/bucket:Bucket", props({"tags": {"owner": "data-team"}}), AWS_P)
    assert (
        got is not None and got.get("owner") == "data-team" and got.get("cost-center") == "ML-4100"
    )
    gcp = effective_tags("gcp:storage/bucket:Bucket", props({}), GCP_P)
    assert gcp is not None and gcp.get("cost-center") == "ml-4100"
    k8s = effective_tags(
        "kubernetes:core/v1:Namespace",
        props(
            {
                "metadata": {
                    "labels": {
                        "hybridml.io/owner": "x",
                        "owner": "ignored-without-prefix",
                        "app": "y",
                    }
                }
            }
        ),
        None,
    )
    assert k8s is not None and k8s.values == {"owner": "x"}


@pytest.mark.parametrize(
    "type_, inputs, prov, problems",
    [
        ("aws:s3/bucket:Bucket", {"tags": TAGS}, AWS_BARE, []),
        ("aws:s3/bucket:Bucket", {}, AWS_P, []),
        (
            "aws:kms/key:Key",
            {"tags": {**TAGS, "owner": ""}},
            AWS_BARE,
            ["missing or empty required tags: owner"],
        ),
        (
            "aws:kms/key:Key",
            {},
            AWS_BARE,
            [
                (
                    "missing or empty required tags: owner, cost-center, environment, "
                    "data-classification, managed-by"
                )
            ],
        ),
        (
            "aws:s3/bucket:Bucket",
            {"tags": {**TAGS, "environment": "qa"}},
            AWS_BARE,
            ["tag environment='qa' is not one of"],
        ),
        (
            "aws:s3/bucket:Bucket",
            {"tags": {**TAGS, "cost-center": "ml4100"}},
            AWS_BARE,
            ["tag cost-center='ml4100' does not match"],
        ),
        ("gcp:storage/bucket:Bucket", {"labels": GCP_LABELS}, None, []),
        (
            "gcp:storage/bucket:Bucket",
            {"labels": {**GCP_LABELS, "cost-center": "ml_4100"}},
            None,
            ["label cost-center='ml_4100' does not match"],
        ),
        (
            "azure-native:resources:ResourceGroup",
            {"tags": {**TAGS, "data-classification": "secret"}},
            None,
            ["tag data-classification='secret' is not one of"],
        ),
        (
            "kubernetes:core/v1:Namespace",
            {"metadata": {"labels": {"app": "x"}}},
            None,
            ["missing or empty required labels: hybridml.io/owner"],
        ),
        ("aws:s3/bucketPolicy:BucketPolicy", {"policy": "{}"}, AWS_BARE, []),
    ],
)
def test_tag_rules(type_: str, inputs: dict, prov: object, problems: list[str]) -> None:
    f, _ = findings()
    got = check_tags(type_, props(inputs), prov, None, f)
    assert len(got) == len(problems) and all(p in g for p, g in zip(problems, got)), got
    f.settle()


def test_configured_values_replace_the_defaults() -> None:
    f, _ = findings()
    cfg = {"requiredTags": ["owner"], "environments": ["qa"], "costCenterPattern": "^CC[0-9]+$"}
    inputs = props({"tags": {"owner": "x", "environment": "qa", "cost-center": "CC12"}})
    assert check_tags("aws:s3/bucket:Bucket", inputs, AWS_BARE, cfg, f) == []


# --- through the pack ---------------------------------------------------------------------------------------

AWS_NO_DEFAULTS = rec("pulumi:providers:aws", "aws-no-defaults", {"region": "eu-west-1"})
BARE = AWS_NO_DEFAULTS["urn"]
TAG = "required-tags"


def deployment(name: str, labels: dict) -> dict:
    return rec(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"template": {"spec": {"containers": []}}},
        },
        provider=K8S,
    )


CASES: list[Case] = [
    case(
        TAG,
        "aws-own-tags",
        "pass",
        [rec("aws:s3/bucket:Bucket", "tag-own", {"tags": TAGS}, provider=AWS_EU)],
    ),
    case(
        TAG,
        "aws-provider-default-tags",
        "pass",
        [rec("aws:s3/bucket:Bucket", "tag-defaults", {}, provider=AWS_EU)],
    ),
    case(
        TAG,
        "aws-missing-owner",
        "fail",
        [
            rec(
                "aws:kms/key:Key",
                "tag-no-owner",
                {"tags": {k: v for k, v in TAGS.items() if k != "owner"}},
                provider=BARE,
            ),
            AWS_NO_DEFAULTS,
        ],
        message="owner",
    ),
    case(
        TAG,
        "aws-taggable-type-without-tags",
        "fail",
        [rec("aws:sqs/queue:Queue", "tag-none", {}, provider=BARE), AWS_NO_DEFAULTS],
        message="managed-by",
    ),
    case(
        TAG,
        "aws-not-taggable",
        "pass",
        [
            rec(
                "aws:kms/alias:Alias",
                "tag-alias",
                {"name": "alias/x", "targetKeyId": "[unknown]"},
                provider=BARE,
            ),
            AWS_NO_DEFAULTS,
        ],
    ),
    case(
        TAG,
        "aws-tags-unknown",
        "undecided",
        [
            rec("aws:s3/bucket:Bucket", "tag-unknown", {"tags": "[unknown]"}, provider=BARE),
            AWS_NO_DEFAULTS,
        ],
    ),
    case(
        TAG,
        "gcp-lowercase-cost-center",
        "pass",
        [
            rec(
                "gcp:storage/bucket:Bucket",
                "tag-gcs",
                {"location": "EUROPE-WEST4", "labels": GCP_LABELS},
                provider=GCP_EU,
            )
        ],
    ),
    case(
        TAG,
        "gcp-bad-cost-center",
        "fail",
        [
            rec(
                "gcp:kms/cryptoKey:CryptoKey",
                "tag-gkey",
                {"keyRing": "[unknown]", "labels": {**GCP_LABELS, "cost-center": "finance"}},
                provider=GCP_EU,
            )
        ],
        message="cost-center",
    ),
    case(
        TAG,
        "azure-ok",
        "pass",
        [
            rec(
                "azure-native:resources:ResourceGroup",
                "tag-rg",
                {"location": "westeurope", "tags": TAGS},
                provider=AZURE_EU,
            )
        ],
    ),
    case(
        TAG,
        "azure-missing-owner-no-provider-defaults",
        "fail",
        [
            rec(
                "azure-native:resources:ResourceGroup",
                "tag-rg-no-owner",
                {"location": "westeurope", "tags": {k: v for k, v in TAGS.items() if k != "owner"}},
                provider=AZURE_EU,
            )
        ],
        message="owner",
    ),
    case(
        TAG,
        "azure-bad-environment",
        "fail",
        [
            rec(
                "azure-native:keyvault:Vault",
                "tag-vault-qa",
                {"location": "westeurope", "tags": {**TAGS, "environment": "qa"}},
                provider=AZURE_EU,
            )
        ],
        message="environment='qa'",
    ),
    case(TAG, "k8s-prefixed-labels", "pass", [deployment("tag-deploy", K8S_LABELS)]),
    case(
        TAG,
        "k8s-unprefixed-labels",
        "fail",
        [deployment("tag-deploy-bare", TAGS)],
        message="hybridml.io/owner",
    ),
]
assert BARE.startswith(PREFIX)


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
