"""The real stacks through the pack: dev and prod are clean; a deliberately bad prod is caught precisely."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from policy_testkit import PACK, blocking, config

from stacks.preview.analyzer_client import run_policy_pack


@pytest.fixture(scope="module")
def plans(dev_plan, prod_plan) -> dict[str, dict[str, Any]]:
    return {"dev": dev_plan, "prod": prod_plan}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_passes_with_no_mandatory_violation(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    # analyze_all_resources: like the CLI, components, providers and the stack are analysed too.
    result = run_policy_pack(
        PACK, plans[stack]["resources"], config(stack), analyze_all_resources=True
    )
    assert blocking(result) == []
    assert [d for d in result.diagnostics if d.enforcement_level == "advisory"] == []
    assert len(result.policies) == 36


def _find(resources: list[dict[str, Any]], type_: str, name_part: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == type_ and name_part in r["name"])


def test_bad_stack_is_caught_by_the_right_policies(plans: dict[str, dict[str, Any]]) -> None:
    resources = copy.deepcopy(plans["prod"]["resources"])
    # 1. an unencrypted bucket: the datasets bucket loses its SSE-KMS configuration
    bucket = _find(resources, "aws:s3/bucket:Bucket", "datasets-aws-eu-west-1-bucket")
    sse = _find(
        resources,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "datasets-aws-eu-west-1-bucket",
    )
    resources.remove(sse)
    # 2. restricted data outside the EU: the restricted GCS bucket moves to a US multi-region
    gcs = _find(resources, "gcp:storage/bucket:Bucket", "datasets-gcp-europe-west4-bucket")
    assert gcs["inputs"]["labels"]["data-classification"] == "restricted"
    gcs["inputs"]["location"] = "US"
    # 3. a missing owner tag on an Azure resource group (azure-native has no provider default tags)
    rg = _find(resources, "azure-native:resources:ResourceGroup", "artifacts")
    del rg["inputs"]["tags"]["owner"]

    result = run_policy_pack(PACK, resources, config("prod"))
    mandatory = {
        (d.policy_name, d.urn) for d in result.diagnostics if d.enforcement_level == "mandatory"
    }
    assert mandatory == {
        ("s3-bucket-kms-encryption", bucket["urn"]),
        ("data-residency", gcs["urn"]),
        ("required-tags", rg["urn"]),
    }
    assert [u for u in result.undecided if u.enforcement_level == "mandatory"] == []
    messages = {d.policy_name: d.message for d in result.diagnostics}
    assert "no server-side encryption configuration" in messages["s3-bucket-kms-encryption"]
    assert "region 'us' is not in the allowed regions" in messages["data-residency"]
    assert "owner" in messages["required-tags"]


def test_restricted_data_in_a_dev_cloud_breaks_residency(plans: dict[str, dict[str, Any]]) -> None:
    # dev keeps restricted data on-prem only; a restricted S3 bucket is a violation even in eu-west-1.
    resources = copy.deepcopy(plans["dev"]["resources"])
    bucket = _find(resources, "aws:s3/bucket:Bucket", "-bucket")
    bucket["inputs"]["tags"]["data-classification"] = "restricted"
    result = run_policy_pack(PACK, resources, config("dev"))
    residency = [d for d in result.diagnostics if d.policy_name == "data-residency"]
    assert [(d.urn, d.enforcement_level) for d in residency] == [(bucket["urn"], "mandatory")]
    assert "must stay on-prem" in residency[0].message
