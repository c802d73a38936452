"""Artifact-store access by workload identity on AWS (EKS Pod Identity) and GCP (GKE Workload
Identity Federation, direct principal) under the SDK mocks: one service account, one store (one
prefix on AWS), no keys, policy-clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pytest
from pydantic import ValidationError

from components.aws import workload_identity as eks
from components.gcp import workload_identity as gke
from components.tags import StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import ROOT, component_plan, resources_of

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
ACCOUNT, REGION, CLUSTER = "123456789012", "eu-west-1", "hml-prod-aws-eu-west-1"
BUCKET_ARN = f"arn:aws:s3:::hml-prod-artifacts-{ACCOUNT}-{REGION}"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
PROJECT, NUMBER, BUCKET = "hml-prod-gke", "987654321098", "hml-prod-gke-artifacts-europe-west4"

T_ROLE, T_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
T_ASSOC = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
T_BINDING = "gcp:storage/bucketIAMMember:BucketIAMMember"
#: Anything that would be a long-lived credential.
KEY_TYPES = {"aws:iam/accessKey:AccessKey", "aws:iam/user:User", "gcp:serviceaccount/key:Key",
             "gcp:serviceaccount/account:Account"}


def _aws_args(**over: Any) -> eks.StoreAccessArgs:
    fields: dict[str, Any] = {
        "namespace": "mlflow", "service_account": "mlflow-server", "tags": TAGS,
        "prefix": "hml-prod", "cluster_name": CLUSTER, "bucket_arn": BUCKET_ARN,
        "kms_key_arn": KEY_ARN, "key_prefix": "mlflow/", "account_id": ACCOUNT}
    return eks.StoreAccessArgs(**{**fields, **over})


def _gcp_args(**over: Any) -> gke.StoreAccessArgs:
    fields: dict[str, Any] = {
        "namespace": "mlflow", "service_account": "mlflow-server", "tags": TAGS,
        "prefix": "hml-prod", "project": PROJECT, "project_number": NUMBER,
        "bucket_name": BUCKET}
    return gke.StoreAccessArgs(**{**fields, **over})


def _aws_program(args: Callable[[], eks.StoreAccessArgs], outputs: dict | None = None):
    def program() -> None:
        provider = aws.Provider(f"aws-{REGION}", region=REGION)
        access = eks.StoreAccess("mlflow-store", args(),
                                 pulumi.ResourceOptions(providers=[provider]))
        if outputs is not None:
            outputs.update(annotations=access.service_account_annotations, labels=access.pod_labels)
    return program


def _gcp_program(args: gke.StoreAccessArgs, outputs: dict | None = None):
    def program() -> None:
        provider = gcp.Provider("gcp-europe-west4", project=PROJECT, region="europe-west4")
        access = gke.StoreAccess("mlflow-store", args, pulumi.ResourceOptions(providers=[provider]))
        if outputs is not None:
            outputs.update(annotations=access.service_account_annotations, labels=access.pod_labels,
                           member=access.member)
    return program


@pytest.fixture(scope="module")
def aws_outputs() -> dict:
    return {}


@pytest.fixture(scope="module")
def aws_plan(aws_outputs) -> dict:
    return component_plan(_aws_program(_aws_args, aws_outputs))


@pytest.fixture(scope="module")
def gcp_outputs() -> dict:
    return {}


@pytest.fixture(scope="module")
def gcp_plan(gcp_outputs) -> dict:
    return component_plan(_gcp_program(_gcp_args(), gcp_outputs))


def _one(plan: dict, type_: str) -> dict:
    [res] = resources_of(plan, type_)
    return res


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- AWS -----------------------------------------------------------------------------------------

def test_role_is_assumable_by_eks_pod_identity_for_this_service_account_only(aws_plan):
    trust = json.loads(_one(aws_plan, T_ROLE)["inputs"]["assumeRolePolicy"])
    [stmt] = trust["Statement"]
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(stmt["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt["Condition"] == {"StringEquals": {
        "aws:SourceAccount": ACCOUNT,
        "aws:RequestTag/eks-cluster-name": CLUSTER,
        "aws:RequestTag/kubernetes-namespace": "mlflow",
        "aws:RequestTag/kubernetes-service-account": "mlflow-server",
    }}


def test_policy_reaches_one_prefix_of_one_bucket_and_its_key(aws_plan):
    policy = json.loads(_one(aws_plan, T_POLICY)["inputs"]["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"ListPrefix", "ObjectsUnderPrefix", "StoreKey"}
    assert all(s["Effect"] == "Allow" for s in by_sid.values())
    listing = by_sid["ListPrefix"]
    assert (_as_list(listing["Action"]), listing["Resource"]) == (["s3:ListBucket"], BUCKET_ARN)
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["mlflow/", "mlflow/*"]}}
    objects = by_sid["ObjectsUnderPrefix"]
    assert objects["Resource"] == f"{BUCKET_ARN}/mlflow/*"
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"} <= set(
        objects["Action"])
    assert by_sid["StoreKey"]["Resource"] == KEY_ARN
    assert set(by_sid["StoreKey"]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"}
    actions = [a for s in policy["Statement"] for a in _as_list(s["Action"])]
    assert not any("*" in a for a in actions)


def test_association_binds_the_service_account_of_the_cluster_to_the_role(aws_plan):
    assoc, role = _one(aws_plan, T_ASSOC), _one(aws_plan, T_ROLE)
    assert (assoc["inputs"]["clusterName"], assoc["inputs"]["namespace"],
            assoc["inputs"]["serviceAccount"]) == (CLUSTER, "mlflow", "mlflow-server")
    assert assoc["propertyDependencies"]["roleArn"] == [role["urn"]]
    # Only after the permissions exist: the pod never starts with a role that cannot read.
    assert _one(aws_plan, T_POLICY)["urn"] in assoc["dependencies"]
    assert assoc["inputs"]["tags"] == TAGS.as_dict()


def test_cluster_name_may_be_an_output():
    # Made inside the program: Outputs belong to the running engine, like the EKS cluster's.
    plan = component_plan(_aws_program(lambda: _aws_args(
        cluster_name=pulumi.Output.from_input(CLUSTER), account_id=None)))
    trust = json.loads(_one(plan, T_ROLE)["inputs"]["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition["aws:RequestTag/eks-cluster-name"] == CLUSTER
    assert "aws:SourceAccount" not in condition


def test_pod_identity_needs_nothing_on_the_pod(aws_plan, aws_outputs):
    assert aws_outputs == {"annotations": {}, "labels": {}}


@pytest.mark.parametrize("prefix", ["", "mlflow", "/mlflow/", "*", "mlflow/*/", "ml flow/"])
def test_key_prefix_is_a_plain_folder(prefix):
    with pytest.raises(ValidationError):
        _aws_args(key_prefix=prefix)


# --- GCP -----------------------------------------------------------------------------------------

def test_bucket_binding_names_exactly_one_kubernetes_service_account(gcp_plan, gcp_outputs):
    binding = _one(gcp_plan, T_BINDING)["inputs"]
    member = (f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global/"
              f"workloadIdentityPools/{PROJECT}.svc.id.goog/subject/ns/mlflow/sa/mlflow-server")
    assert binding == {"bucket": BUCKET, "role": "roles/storage.objectUser", "member": member}
    assert gcp_outputs == {"annotations": {}, "labels": {}, "member": member}


@pytest.mark.parametrize("over", [{"namespace": "ML"}, {"service_account": "a/b"},
                                  {"project_number": "hml-prod"}])
def test_gcp_args_refuse_malformed_identities(over):
    with pytest.raises(ValidationError):
        _gcp_args(**over)


# --- Both ----------------------------------------------------------------------------------------

def test_no_static_credentials_anywhere(aws_plan, gcp_plan):
    types = {r["type"] for plan in (aws_plan, gcp_plan) for r in plan["resources"]}
    assert types & KEY_TYPES == set()


@pytest.mark.parametrize("fixture", ["aws_plan", "gcp_plan"])
def test_policy_pack_finds_nothing(fixture, request):
    plan = request.getfixturevalue(fixture)
    cfg = json.loads((ROOT / "policies/config.prod.json").read_text())
    res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
    assert [(d.policy_name, d.message) for d in res.diagnostics] == []
    assert [(u.policy_name, u.urn) for u in res.undecided] == []
    judged = {p.name for p in res.policies}
    assert {"required-tags", "data-residency"} <= judged
