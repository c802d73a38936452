"""The EKS cluster and GPU node pool components under the SDK mocks: GPU labels/taint/AMI,
encryption, endpoint exposure, workload identity, kubeconfig secrecy and the policy pack."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from pydantic import ValidationError

from components.aws.cluster import (
    CONTROL_PLANE_LOG_TYPES,
    KubernetesCluster,
    KubernetesClusterArgs,
    _kubeconfig,
)
from components.aws.gpu_pool import GpuNodePoolArgs
from components.kubernetes.cluster_spec import ApiAccess, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
REGION, ACCOUNT, NAME = "eu-west-1", "444455556666", "hml-prod-aws-eu-west-1"
ADMIN = ("10.0.0.0/14", "192.168.50.0/24")
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
CLUSTER = "aws:eks/cluster:Cluster"
L4 = GpuPoolSpec(target="aws", name="l4", gpu_type="nvidia-l4", gpu_count=1,
                 machine_type="g6.xlarge", spot=True, min_size=0, max_size=4, disk_size_gb=300)
A100 = GpuPoolSpec(target="aws", name="a100", gpu_type="nvidia-a100-80gb", gpu_count=8,
                   machine_type="p4de.24xlarge", min_size=1, max_size=2, mig_profile="1g.10gb")


def _args(**over) -> KubernetesClusterArgs:
    fields = {
        "prefix": "hml-prod", "cluster_name": NAME, "region": REGION, "account_id": ACCOUNT,
        "kubernetes_version": "1.33", "tags": TAGS, "protect": True, "vpc_id": "vpc-0abc",
        "subnet_ids": ["subnet-a", "subnet-b", "subnet-c"], "vpc_cidr": "10.16.0.0/16",
        "api_access": ApiAccess(mode="private", admin_cidrs=ADMIN),
        "system_pool": SystemPoolSpec(machine_type="m6i.xlarge", min_size=2, max_size=5),
        "gpu_pools": (L4, A100), "log_retention_days": 90,
    }
    return KubernetesClusterArgs(**{**fields, **over})


def _plan(**over) -> tuple[dict, dict]:
    """The plan of one cluster, and the component objects the program built."""
    built: dict = {}

    def program() -> None:
        opts = pulumi.ResourceOptions(providers=[aws.Provider(f"aws-{REGION}", region=REGION)])
        built["cluster"] = cluster = KubernetesCluster("eks", _args(**over), opts)
        pulumi.export("kubeconfig", cluster.kubeconfig)

    return component_plan(program), built


@pytest.fixture(scope="module")
def private() -> tuple[dict, dict]:
    return _plan()


@pytest.fixture(scope="module")
def plan(private) -> dict:
    return private[0]


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


def _statements(policy: str) -> list[dict]:
    return json.loads(policy)["Statement"]


# --- GPU node pools -------------------------------------------------------------------------------


def test_gpu_node_group_carries_the_agreed_labels_taint_ami_and_capacity(plan):
    group = _by_name(plan)["eks-gpu-l4-nodes"]
    i = group["inputs"]
    assert i["labels"] == {"nvidia.com/gpu.present": "true", "hybridml.io/gpu-type": "nvidia-l4",
                           "hybridml.io/gpu-pool": "l4"}
    assert i["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert i["amiType"] == "AL2023_x86_64_NVIDIA"
    assert i["instanceTypes"] == ["g6.xlarge"]
    assert i["capacityType"] == "SPOT"
    assert i["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert i["version"] == "1.33" and i["clusterName"] == NAME
    # The autoscaler owns the desired size; `pulumi up` must not reset it.
    assert group["options"]["ignoreChanges"] == ["scalingConfig.desiredSize"]


def test_gpu_pool_sharing_labels_and_on_demand_capacity(plan):
    i = _by_name(plan)["eks-gpu-a100-nodes"]["inputs"]
    assert i["capacityType"] == "ON_DEMAND" and i["instanceTypes"] == ["p4de.24xlarge"]
    assert i["labels"]["nvidia.com/mig.config"] == "all-1g.10gb"
    assert i["scalingConfig"] == {"minSize": 1, "maxSize": 2, "desiredSize": 1}


def test_gpu_pool_can_scale_from_zero(plan):
    names = _by_name(plan)
    tags = names["eks-gpu-l4-nodes"]["inputs"]["tags"]
    template = {
        "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "true",
        "k8s.io/cluster-autoscaler/node-template/label/hybridml.io/gpu-type": "nvidia-l4",
        "k8s.io/cluster-autoscaler/node-template/label/hybridml.io/gpu-pool": "l4",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
    }
    assert template.items() <= tags.items()
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert tags[f"k8s.io/cluster-autoscaler/{NAME}"] == "owned"
    # Node group tags do not reach the Auto Scaling group, where the autoscaler reads them.
    asg_tags = [r["inputs"]["tag"] for r in resources_of(plan, "aws:autoscaling/tag:Tag")
                if r["parent"] == names["eks-gpu-l4"]["urn"]]
    assert {t["key"]: t["value"] for t in asg_tags} == template


def test_gpu_pool_outputs(private):
    pool = private[1]["cluster"].gpu_pools["l4"]
    assert set(private[1]["cluster"].gpu_pools) == {"l4", "a100"}
    assert pool.pool_name == "l4"
    assert pool.labels["hybridml.io/gpu-type"] == "nvidia-l4"
    assert pool.taints == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]


@pytest.mark.parametrize(("pool", "expected"), [
    ({"gpu_type": "nvidia-a100-80gb", "machine_type": "g6.xlarge"}, "p4de.24xlarge"),
    ({"gpu_count": 2, "machine_type": "g6.xlarge"}, "carries exactly 1"),
    ({"min_size": 3, "max_size": 2}, "min size 3 is larger than max size 2"),
    ({"machine_type": "g9.mega"}, "g6.xlarge"),
])
def test_bad_gpu_config_is_rejected_naming_what_is_allowed(pool, expected):
    fields = {"target": "aws", "name": "bad", "gpu_type": "nvidia-l4", "gpu_count": 1,
              "machine_type": "g6.xlarge", **pool}
    with pytest.raises(ValidationError, match=expected):
        GpuPoolSpec(**fields)


def test_gpu_pools_of_another_target_are_rejected():
    gke = GpuPoolSpec(target="gcp", name="l4", gpu_type="nvidia-l4", gpu_count=1,
                      machine_type="g2-standard-8")
    with pytest.raises(ValidationError, match="targets gcp; allowed here: target aws"):
        _args(gpu_pools=(gke,))
    with pytest.raises(ValidationError, match="targets gcp; allowed here: target aws"):
        GpuNodePoolArgs(pool=gke, cluster_name=NAME, node_role_arn="arn", subnet_ids=["s"],
                        kms_key_arn="arn", kubernetes_version="1.33", tags=TAGS)
    with pytest.raises(ValidationError, match="used twice"):
        _args(gpu_pools=(L4, L4))


# --- Nodes ----------------------------------------------------------------------------------------


def test_system_node_group_is_untainted_al2023_on_demand(plan):
    i = _by_name(plan)["eks-system"]["inputs"]
    assert i["amiType"] == "AL2023_x86_64_STANDARD" and i["capacityType"] == "ON_DEMAND"
    assert i["instanceTypes"] == ["m6i.xlarge"] and "taints" not in i
    assert i["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 2}


def test_nodes_have_encrypted_root_volumes_and_imdsv2_only(plan):
    names = _by_name(plan)
    key_urn = names["eks-key"]["urn"]
    templates = resources_of(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    assert {t["name"] for t in templates} == {"eks-system-lt", "eks-gpu-l4-lt", "eks-gpu-a100-lt"}
    for t in templates:
        [mapping] = t["inputs"]["blockDeviceMappings"]
        ebs = mapping["ebs"]
        assert (ebs["encrypted"], ebs["volumeType"]) == ("true", "gp3")
        assert key_urn in t["propertyDependencies"]["blockDeviceMappings"]
        assert t["inputs"]["metadataOptions"] == {
            "httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    sizes = {t["name"]: t["inputs"]["blockDeviceMappings"][0]["ebs"]["volumeSize"]
             for t in templates}
    assert sizes == {"eks-system-lt": 100, "eks-gpu-l4-lt": 300, "eks-gpu-a100-lt": 200}
    for group in resources_of(plan, NODE_GROUP):
        assert "diskSize" not in group["inputs"]  # the launch template decides
        assert set(group["propertyDependencies"]["launchTemplate"]) <= {t["urn"] for t in templates}


def test_node_role_has_the_current_managed_policies(plan):
    attached = {r["inputs"]["policyArn"].rsplit("/", 1)[-1]
                for r in resources_of(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r["name"].startswith("eks-node-role")}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                        "AmazonEKS_CNI_Policy"}


# --- Control plane --------------------------------------------------------------------------------


def test_secrets_are_encrypted_with_the_protected_key_and_logs_kept(plan):
    names = _by_name(plan)
    cluster, key, logs = names["eks-cluster"], names["eks-key"], names["eks-logs"]
    i = cluster["inputs"]
    assert i["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["propertyDependencies"]["encryptionConfig"] == [key["urn"]]
    assert i["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert set(CONTROL_PLANE_LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager",
                                             "scheduler"}
    assert logs["inputs"]["name"] == f"/aws/eks/{NAME}/cluster"
    assert logs["inputs"]["retentionInDays"] == 90
    assert logs["propertyDependencies"]["kmsKeyId"] == [key["urn"]]
    assert logs["urn"] in cluster["dependencies"]  # EKS must not create its own group first
    assert key["protect"] and key["inputs"]["enableKeyRotation"] is True
    assert i["version"] == "1.33" and i["upgradePolicy"] == {"supportType": "STANDARD"}
    assert i["deletionProtection"] is True
    assert i["accessConfig"] == {"authenticationMode": "API",
                                 "bootstrapClusterCreatorAdminPermissions": True}


def test_key_policy_lets_logs_and_auto_scaling_use_the_key(plan):
    statements = {s["Sid"]: s for s in _statements(_by_name(plan)["eks-key"]["inputs"]["policy"])}
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/{NAME}/cluster"
    assert statements["CloudWatchLogsEncryptsControlPlaneLogs"]["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}
    slr = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
           "AWSServiceRoleForAutoScaling")
    use, grant = (statements["AutoScalingUsesKeyForNodeVolumes"],
                  statements["AutoScalingAttachesNodeVolumes"])
    assert use["Principal"] == grant["Principal"] == {"AWS": slr}
    assert "kms:GenerateDataKey*" in use["Action"] and "kms:Decrypt" in use["Action"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_unprotected_cluster_leaves_key_and_cluster_deletable():
    names = _by_name(_plan(protect=False, gpu_pools=())[0])
    assert not names["eks-key"]["protect"] and not names["eks-logs"]["protect"]
    assert names["eks-cluster"]["inputs"]["deletionProtection"] is False


def test_private_mode_has_no_public_endpoint_and_admins_reach_443(plan):
    names = _by_name(plan)
    vpc = names["eks-cluster"]["inputs"]["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    rules = resources_of(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted(r["inputs"]["cidrIpv4"] for r in rules) == sorted(ADMIN)
    for r in rules:
        assert (r["inputs"]["fromPort"], r["inputs"]["toPort"], r["inputs"]["ipProtocol"]) == \
            (443, 443, "tcp")
        assert r["propertyDependencies"]["securityGroupId"] == [names["eks-cluster"]["urn"]]


def test_restricted_mode_opens_the_public_endpoint_to_listed_ranges_only():
    access = ApiAccess(mode="restricted", admin_cidrs=ADMIN, public_cidrs=("203.0.113.0/24",))
    plan = _plan(api_access=access, gpu_pools=())[0]
    vpc = _by_name(plan)["eks-cluster"]["inputs"]["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert _mandatory(plan) == []


@pytest.mark.parametrize(("access", "expected"), [
    ({"mode": "restricted", "admin_cidrs": ADMIN}, "needs public_cidrs"),
    ({"mode": "restricted", "public_cidrs": ("0.0.0.0/0",)}, "never open to the whole internet"),
    ({"mode": "private", "public_cidrs": ("203.0.113.0/24",)}, "no public endpoint"),
    ({"mode": "private", "admin_cidrs": ("10.0.0.300/8",)}, "not an IPv4 network"),
    ({"mode": "private", "admin_cidrs": ("8.8.8.0/24",)}, "must be private ranges"),
])
def test_unsafe_or_unclear_api_access_is_rejected(access, expected):
    with pytest.raises(ValidationError, match=expected):
        _args(api_access=ApiAccess(**access))


@pytest.mark.parametrize("over", [
    {"log_retention_days": 45},
    {"kubernetes_version": "v1.33"},
    {"cluster_name": "Hml_Prod"},
    {"region": "mars-1"},
    {"vpc_cidr": "10.16.0.1/16"},
    {"system_pool": {"machine_type": "m6i.xlarge", "min_size": 4, "max_size": 2}},
    {"system_pool": {"machine_type": "g6.xlarge"}},
])
def test_bad_cluster_args_are_rejected(over):
    with pytest.raises(ValidationError):
        if "system_pool" in over:
            over = {"system_pool": SystemPoolSpec(**over["system_pool"])}
        _args(**over)


# --- Workload identity and storage ----------------------------------------------------------------


def test_network_policies_are_enforced_by_the_vpc_cni(plan):
    # Without the CNI's policy agent EKS accepts NetworkPolicies and enforces none of them.
    [cni] = [r for r in resources_of(plan, "aws:eks/addon:Addon")
             if r["inputs"]["addonName"] == "vpc-cni"]
    assert json.loads(cni["inputs"]["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_pod_identity_agent_and_oidc_provider_exist(plan):
    names = _by_name(plan)
    addons = {r["inputs"]["addonName"]: r for r in resources_of(plan, "aws:eks/addon:Addon")}
    assert set(addons) == {"eks-pod-identity-agent", "aws-ebs-csi-driver", "vpc-cni"}
    [oidc] = resources_of(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["propertyDependencies"]["url"] == [names["eks-cluster"]["urn"]]
    for addon in addons.values():  # add-on pods need nodes to become ACTIVE
        assert names["eks-system"]["urn"] in addon["dependencies"]


def test_ebs_csi_driver_gets_its_role_through_pod_identity(plan):
    names = _by_name(plan)
    assoc = names["eks-ebs-csi-identity"]
    role = names["eks-ebs-csi-role"]
    assert (assoc["inputs"]["namespace"], assoc["inputs"]["serviceAccount"]) == \
        ("kube-system", "ebs-csi-controller-sa")
    assert assoc["propertyDependencies"]["roleArn"] == [role["urn"]]
    [trust] = _statements(role["inputs"]["assumeRolePolicy"])
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-name"] == NAME
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == \
        "ebs-csi-controller-sa"
    attached = [r["inputs"]["policyArn"] for r in
                resources_of(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r["parent"] == names["eks"]["urn"] and r["name"].startswith("eks-ebs-csi")]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
    kms = names["eks-ebs-csi-role-kms"]
    assert kms["propertyDependencies"]["policy"] == [names["eks-key"]["urn"]]
    [addon] = [r for r in resources_of(plan, "aws:eks/addon:Addon")
               if r["inputs"]["addonName"] == "aws-ebs-csi-driver"]
    assert {assoc["urn"], kms["urn"]} <= set(addon["dependencies"])


def test_storage_class_is_encrypted_gp3_with_the_cluster_key(private):
    spec = private[1]["cluster"].storage_class
    assert spec.provisioner == "ebs.csi.aws.com"
    assert {k: v for k, v in spec.parameters.items() if k != "kmsKeyId"} == \
        {"type": "gp3", "encrypted": "true"}
    assert isinstance(spec.parameters["kmsKeyId"], pulumi.Output)


# --- Access ---------------------------------------------------------------------------------------


def test_kubeconfig_is_a_secret_and_the_provider_targets_the_cluster(plan):
    assert plan["outputs"]["kubeconfig"] == "[secret]"
    [provider] = resources_of(plan, "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    assert provider["inputs"]["clusterIdentifier"] == NAME
    assert provider["inputs"]["enableServerSideApply"] in (True, "true")


def test_kubeconfig_authenticates_with_aws_eks_get_token():
    config = json.loads(_kubeconfig(NAME, REGION, "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
                                    "Q0EtREFUQQ=="))
    [cluster] = config["clusters"]
    assert cluster["cluster"] == {"server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
                                  "certificate-authority-data": "Q0EtREFUQQ=="}
    [user] = config["users"]
    exec_ = user["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert [exec_["command"], *exec_["args"]] == [
        "aws", "eks", "get-token", "--cluster-name", NAME, "--region", REGION, "--output", "json"]
    assert config["current-context"] == NAME


# --- Tags and policies ----------------------------------------------------------------------------

TAGGABLE = ("eks/cluster:Cluster", "eks/nodeGroup:NodeGroup", "eks/addon:Addon",
            "eks/podIdentityAssociation:PodIdentityAssociation", "kms/key:Key",
            "cloudwatch/logGroup:LogGroup", "iam/role:Role", "ec2/launchTemplate:LaunchTemplate",
            "iam/openIdConnectProvider:OpenIdConnectProvider",
            "vpc/securityGroupIngressRule:SecurityGroupIngressRule")


@pytest.mark.parametrize("token", TAGGABLE)
def test_every_taggable_resource_carries_the_standard_tags(plan, token):
    resources = resources_of(plan, f"aws:{token}")
    assert resources
    for r in resources:
        assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"].get("tags", {})), r["name"]


def test_every_cloud_resource_sits_under_the_cluster_component(plan):
    by_urn = {r["urn"]: r for r in plan["resources"]}
    component = _by_name(plan)["eks"]["urn"]
    for r in plan["resources"]:
        if not r["type"].startswith(("aws:", "pulumi:providers:kubernetes")):
            continue
        parent = r["parent"]
        while parent not in (component, None):
            parent = by_urn[parent]["parent"]
        assert parent == component, r["name"]


def _mandatory(plan: dict) -> list:
    cfg = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
    return [d for d in res.diagnostics if d.enforcement_level == "mandatory"]


def test_policy_pack_passes_and_would_catch_a_public_endpoint(plan):
    assert _mandatory(plan) == []
    exposed = copy.deepcopy(plan)
    cluster = next(r for r in exposed["resources"] if r["type"] == CLUSTER)
    cluster["inputs"]["vpcConfig"]["endpointPublicAccess"] = True
    assert {d.policy_name for d in _mandatory(exposed)} == {"kubernetes-api-not-public"}


def test_cluster_autoscaler_scales_this_clusters_node_groups(plan):
    """EKS node groups do not scale themselves: the autoscaler runs with a Pod Identity role
    that may only resize the groups EKS tags as this cluster's."""
    names = _by_name(plan)
    assoc = names["eks-autoscaler-identity"]
    assert (assoc["inputs"]["namespace"], assoc["inputs"]["serviceAccount"]) == \
        ("kube-system", "cluster-autoscaler")
    read, write = _statements(names["eks-autoscaler-role-scaling"]["inputs"]["policy"])
    assert write["Action"] == ["autoscaling:SetDesiredCapacity",
                               "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert write["Condition"] == {"StringEquals": {
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{NAME}": "owned"}}
    assert not any(a.startswith(("autoscaling:Set", "autoscaling:Terminate")) for a in read["Action"])
    release = names["eks-cluster-autoscaler"]
    values = release["inputs"]["values"]
    assert values["autoDiscovery"] == {"clusterName": NAME}
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    assert values["image"]["tag"] == "v1.33.0"
    assert release["provider"] == names["eks-k8s"]["urn"]
    assert {assoc["urn"], names["eks-system"]["urn"]} <= set(release["dependencies"])
