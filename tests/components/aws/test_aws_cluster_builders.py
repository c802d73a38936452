"""The pure builders behind the EKS cluster component (no Pulumi engine needed)."""

from __future__ import annotations

import json

import pytest

from components.aws import cluster, cluster_addons, cluster_iam
from components.kubernetes.cluster_spec import ApiAccess

ACCOUNT, REGION = "444455556666", "eu-west-1"


def test_private_mode_has_no_public_endpoint_and_no_public_cidrs():
    access = ApiAccess(mode="private", admin_cidrs=("10.0.0.0/14",))
    assert cluster.endpoint_access(access) == {"endpoint_public_access": False,
                                               "public_access_cidrs": None}


def test_restricted_mode_opens_the_public_endpoint_to_the_public_cidrs_only():
    access = ApiAccess(mode="restricted", admin_cidrs=("10.0.0.0/14",),
                       public_cidrs=("203.0.113.0/24",))
    assert cluster.endpoint_access(access) == {"endpoint_public_access": True,
                                               "public_access_cidrs": ["203.0.113.0/24"]}


def test_control_plane_log_group_is_where_eks_writes():
    assert cluster.control_plane_log_group_name("hml-prod") == "/aws/eks/hml-prod/cluster"


def test_ebs_storage_class_is_encrypted_gp3_under_the_given_key():
    spec = cluster.ebs_storage_class("arn:aws:kms:eu-west-1:1:key/k")
    assert spec.provisioner == "ebs.csi.aws.com"
    assert dict(spec.parameters) == {"type": "gp3", "encrypted": "true",
                                     "kmsKeyId": "arn:aws:kms:eu-west-1:1:key/k"}


def test_vpc_cni_turns_the_network_policy_agent_on():
    assert json.loads(cluster_addons.vpc_cni_configuration()) == {"enableNetworkPolicy": "true"}


def test_autoscaler_values_discover_this_cluster_and_match_the_control_plane():
    values = cluster_addons.autoscaler_values(REGION, "hml-prod-aws", "1.33")
    assert values["cloudProvider"] == "aws"
    assert values["awsRegion"] == REGION
    assert values["autoDiscovery"] == {"clusterName": "hml-prod-aws"}
    assert values["image"] == {"tag": "v1.33.0"}
    assert values["rbac"]["serviceAccount"]["name"] == cluster_iam.AUTOSCALER_SERVICE_ACCOUNT
    assert values["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_kubeconfig_authenticates_with_aws_eks_get_token():
    config = json.loads(cluster._kubeconfig("c1", REGION, "https://e", "Q0E="))
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", "c1",
                                            "--region", REGION, "--output", "json"]
    assert config["clusters"][0]["cluster"] == {"server": "https://e",
                                                "certificate-authority-data": "Q0E="}


def test_cluster_key_policy_lets_logs_use_it_for_the_control_plane_group_only():
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/c/cluster"
    statements = {s["Sid"]: s for s in json.loads(
        cluster_iam.key_policy(ACCOUNT, REGION, arn))["Statement"]}
    assert set(statements) == {"AccountAdministers", "CloudWatchLogsEncryptsControlPlaneLogs",
                               "AutoScalingUsesKeyForNodeVolumes",
                               "AutoScalingAttachesNodeVolumes"}
    logs = statements["CloudWatchLogsEncryptsControlPlaneLogs"]
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == arn


@pytest.mark.parametrize("mode", ["private", "restricted"])
def test_endpoint_access_never_names_cidrs_without_a_public_endpoint(mode):
    access = ApiAccess(mode=mode, admin_cidrs=("10.0.0.0/14",),
                       public_cidrs=("203.0.113.0/24",) if mode == "restricted" else ())
    settings = cluster.endpoint_access(access)
    assert (settings["public_access_cidrs"] is None) == (not settings["endpoint_public_access"])
