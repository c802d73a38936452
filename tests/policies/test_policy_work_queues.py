"""Work-queue residency: MultiKueue bursts only to clusters the team's class allows; through the pack."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from policy_testkit import (
    K8S,
    K8S_LABELS,
    PACK,
    PREFIX,
    Case,
    assert_case,
    blocking,
    case,
    case_id,
    config,
    rec,
    run_cases,
)

from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import stack_platform, write_stack

POLICY = "work-queue-residency"
MKC = "kubernetes:kueue.x-k8s.io/v1beta2:MultiKueueConfig"
MKCLUSTER = "kubernetes:kueue.x-k8s.io/v1beta2:MultiKueueCluster"
EU = ["eu-west-1", "eu-central-1", "europe-west4", "westeurope"]
PLAN = {
    "allowedRegions": [*EU, "us-east-1"],
    "classifications": {
        "public": {"allowedRegions": [*EU, "us-east-1"], "onPremRequired": False},
        "internal": {"allowedRegions": EU, "onPremRequired": False},
        "confidential": {"allowedRegions": ["eu-west-1"], "onPremRequired": False},
        "restricted": {"allowedRegions": [], "onPremRequired": True},
    },
}
OTHER_K8S = PREFIX + "pulumi:providers:kubernetes::k8s-other"


def worker(name: str, site: str | None, region: str | None, provider: str = K8S) -> dict:
    """A MultiKueueCluster as BurstTarget builds it: named after the worker, labelled with where it is."""
    labels = dict(K8S_LABELS)
    if site is not None:
        labels["hybridml.io/cluster-site"] = site
    if region is not None:
        labels["hybridml.io/cluster-region"] = region
    return rec(MKCLUSTER, f"burst-target-{name}-cluster", {
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "MultiKueueCluster",
        "metadata": {"name": name, "labels": labels},
        "spec": {"clusterSource": {"kubeConfig": {"location": f"multikueue-{name}",
                                                  "locationType": "Secret"}}},
    }, provider=provider)


AWS_EU = worker("hml-aws-eu-west-1", "aws", "eu-west-1")
GCP_EU = worker("hml-gcp-europe-west4", "gcp", "europe-west4")
AZURE_EU = worker("hml-azure-westeurope", "azure", "westeurope")
AWS_US = worker("hml-aws-us-east-1", "aws", "us-east-1")
AWS_AP = worker("hml-aws-ap-south-1", "aws", "ap-south-1")
ONPREM_DC = worker("hml-onprem-dc2", "onprem", "dc2")
BARE = worker("hml-unlabelled", None, None)
ODD_SITE = worker("hml-colo", "colo", "fra1")
UNKNOWN_REGION = worker("hml-region-later", "gcp", "[unknown]")
ELSEWHERE = worker("hml-elsewhere", "aws", "eu-west-1", provider=OTHER_K8S)
OTHER_PROVIDER = rec("pulumi:providers:kubernetes", "k8s-other", {"kubeconfig": "[secret]"})


def burst(team: str, cls: str | None, clusters: Any) -> dict:
    """The team's MultiKueueConfig on the manager, as TeamQueue builds it."""
    labels = {**K8S_LABELS, "hybridml.io/data-classification": cls}
    if cls is None:
        del labels["hybridml.io/data-classification"]
    return rec(MKC, f"team-{team}-onprem-queue-multikueue-config", {
        "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "MultiKueueConfig",
        "metadata": {"name": f"team-{team}-burst", "labels": labels},
        "spec": {"clusters": clusters},
    }, provider=K8S)


def burst_case(name: str, expect: str, cls: str | None, workers: Any, message: str = "") -> Case:
    """The team `name`'s config naming `workers` (records, or plain names of clusters the stack
    lacks); the case's records are the config and those workers (all cases run as one stack)."""
    if isinstance(workers, str):  # "[unknown]"
        return case(POLICY, name, expect, [burst(name, cls, workers)], message=message)
    records = [w for w in workers if isinstance(w, dict)]
    clusters = [w["inputs"]["metadata"]["name"] if isinstance(w, dict) else w for w in workers]
    if ELSEWHERE in records:
        records.insert(0, OTHER_PROVIDER)
    return case(POLICY, name, expect, [burst(name, cls, clusters), *records], message=message)


CASES: list[Case] = [
    burst_case("internal-to-the-eu", "pass", "internal", [AWS_EU, GCP_EU, AZURE_EU]),
    burst_case("restricted-stays-on-prem", "pass", "restricted", [ONPREM_DC]),
    burst_case("public-to-the-us", "pass", "public", [AWS_US]),
    burst_case("restricted-to-a-cloud", "fail", "restricted", [AWS_EU],
               message="'restricted' data must stay on-prem: no cloud worker is allowed"),
    burst_case("confidential-outside-its-regions", "fail", "confidential", [AWS_EU, GCP_EU],
               message="but 'confidential' data may only be in ['eu-west-1']"),
    burst_case("internal-to-the-us", "fail", "internal", [AWS_US],
               message="region 'us-east-1'), but 'internal' data may only be in"),
    burst_case("outside-the-stack-regions", "fail", "public", [AWS_AP],
               message="outside the stack's allowed regions"),
    burst_case("unknown-cluster", "fail", "internal", ["hml-ghost", AWS_EU],
               message="names cluster 'hml-ghost', which is no MultiKueueCluster of the stack"),
    burst_case("cluster-on-another-kubernetes", "fail", "internal", [ELSEWHERE],
               message="names cluster 'hml-elsewhere', which is no MultiKueueCluster"),
    burst_case("worker-without-labels", "fail", "internal", [BARE],
               message="has no hybridml.io/cluster-site or hybridml.io/cluster-region label"),
    burst_case("worker-at-an-odd-site", "fail", "public", [ODD_SITE],
               message="at site 'colo', neither onprem nor a cloud"),
    burst_case("config-without-class", "fail", None, [AWS_EU],
               message="has no hybridml.io/data-classification label"),
    burst_case("class-not-in-plan", "fail", "secret", [AWS_EU],
               message="'secret', a class not in the residency plan"),
    burst_case("clusters-unknown", "undecided", "internal", "[unknown]"),
    burst_case("worker-region-unknown", "undecided", "internal", [UNKNOWN_REGION]),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES, {**config("prod"), POLICY: PLAN})


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)


def _messages(result, c: Case) -> list[str]:
    return sorted(d.message.split("\n", 1)[1] for d in result.diagnostics
                  if d.policy_name == POLICY and d.urn == c.urn)


def test_each_violation_names_the_config_the_cluster_its_region_and_what_is_allowed(result):
    by_name = {c.name: c for c in CASES}
    config_name = "team-restricted-to-a-cloud-onprem-queue-multikueue-config"
    assert _messages(result, by_name["restricted-to-a-cloud"]) == [
        f"{config_name}: MultiKueueConfig 'team-restricted-to-a-cloud-burst' sends 'restricted' "
        "work to cluster 'hml-aws-eu-west-1' (aws, region 'eu-west-1'), but 'restricted' data "
        "must stay on-prem: no cloud worker is allowed"]
    # one violation per disallowed worker; the allowed one (eu-west-1) is not named
    (only,) = _messages(result, by_name["confidential-outside-its-regions"])
    assert "'hml-gcp-europe-west4' (gcp, region 'europe-west4')" in only
    assert "hml-aws-eu-west-1" not in only
    (unknown,) = _messages(result, by_name["unknown-cluster"])
    assert "there: ['hml-aws-ap-south-1', 'hml-aws-eu-west-1'" in unknown
    assert "hml-elsewhere" not in unknown  # on another Kubernetes cluster, not a candidate
    (bare,) = _messages(result, by_name["worker-without-labels"])
    assert "('internal' data may be in ['eu-central-1', 'eu-west-1', 'europe-west4', " in bare


# --- the real prod stack with a bursting team -----------------------------------------------------


@pytest.fixture(scope="module")
def bursting_prod(tmp_path_factory) -> dict[str, Any]:
    """prod with a team whose `burst` queue dispatches to the AWS cluster (one extra preview)."""
    from stacks.preview.run import run_preview

    platform = stack_platform("prod")
    platform["teams"] = [{
        "name": "fraud", "owner": "fraud-ml", "costCenter": "ML-4200", "gpus": 2,
        "dataClassification": "confidential", "sites": ["onprem", "aws/eu-west-1"],
        "awsRoleArn": "arn:aws:iam::444455556666:role/fraud-ml",
        "queue": {"burstTo": ["aws/eu-west-1"]},
    }]
    project = write_stack(Path(tmp_path_factory.mktemp("bursting-prod")), "prod", platform)
    return run_preview(project, "prod").plan


def _multikueue_config(resources: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [r for r in resources if r["type"] == MKC]
    return found


def test_prod_with_a_bursting_team_is_clean(bursting_prod) -> None:
    config_ = _multikueue_config(bursting_prod["resources"])
    assert config_["inputs"]["spec"]["clusters"] == ["hml-prod-aws-eu-west-1"]
    result = run_policy_pack(PACK, bursting_prod["resources"], config("prod"),
                             analyze_all_resources=True)
    assert blocking(result) == []
    assert POLICY in {p.name for p in result.policies}


def test_prod_burst_of_an_on_prem_only_class_is_caught(bursting_prod) -> None:
    # The same objects judged by a plan in which the team's class must stay on-prem, as dev's
    # `restricted` is: the burst to AWS is the one mandatory violation.
    pack_config = copy.deepcopy(config("prod"))
    for key in ("data-residency", POLICY):
        pack_config[key]["classifications"]["confidential"] = {"allowedRegions": [],
                                                               "onPremRequired": True}
    resources = bursting_prod["resources"]
    result = run_policy_pack(PACK, resources, pack_config)
    caught = [(d.policy_name, d.urn) for d in result.diagnostics if d.policy_name == POLICY]
    assert caught == [(POLICY, _multikueue_config(resources)["urn"])]
    (message,) = [d.message for d in result.diagnostics if d.policy_name == POLICY]
    assert ("sends 'confidential' work to cluster 'hml-prod-aws-eu-west-1' (aws, region "
            "'eu-west-1'), but 'confidential' data must stay on-prem") in message
