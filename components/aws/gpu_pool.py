"""An EKS managed GPU node group following the shared GPU pool convention, and the node
building blocks (launch template, autoscaler tags) the cluster's system pool shares."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.inputs import StrInput
from components.kubernetes.gpu_pool import GpuPoolSpec, node_labels, node_taint, pool_problems
from components.tags import StandardTags, aws_tags

#: The AL2023 EKS AMI with the NVIDIA driver and container toolkit preinstalled, so the GPU
#: operator on the cluster runs with its driver and toolkit disabled.
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
#: Root device of the AL2023 EKS AMIs.
ROOT_DEVICE = "/dev/xvda"
_AUTOSCALER = "k8s.io/cluster-autoscaler"
#: Subnet ids as the network hands them over (one Output per subnet) or as one Output.
SubnetIds = list[StrInput] | pulumi.Output[list[str]]
#: Kubernetes taint effect -> EKS node group spelling.
EKS_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
                    "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


def node_launch_template(name: str, disk_size_gb: int, kms_key_arn: pulumi.Input[str],
                         tags: dict[str, str], parent: pulumi.Resource) -> aws.ec2.LaunchTemplate:
    """A launch template for EKS managed nodes: gp3 root volume encrypted with the cluster key,
    IMDSv2 only with hop limit 1.

    Hop limit 1 keeps pods (one network hop away) from the node role's credentials; workloads
    get AWS access through EKS Pod Identity instead, and host-network add-ons still reach IMDS.
    No AMI, instance profile or security groups: EKS fills those in for managed node groups.
    """
    return aws.ec2.LaunchTemplate(
        name,
        description="EKS managed nodes: encrypted gp3 root volume, IMDSv2 only",
        block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
            device_name=ROOT_DEVICE,
            ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                volume_size=disk_size_gb, volume_type="gp3", encrypted="true",
                kms_key_id=kms_key_arn, delete_on_termination="true"),
        )],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
            for kind in ("instance", "volume")
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def node_template_tags(labels: dict[str, str], taints: list[dict[str, str]]) -> dict[str, str]:
    """cluster-autoscaler node-template tags (AWS cloud provider docs, "scaling from 0"): what a
    node of an empty group would carry, so the autoscaler can scale it up for a pod that
    selects those labels or tolerates those taints (taints in Kubernetes spelling)."""
    return {
        **{f"{_AUTOSCALER}/node-template/label/{k}": v for k, v in labels.items()},
        **{f"{_AUTOSCALER}/node-template/taint/{t['key']}": f"{t['value']}:{t['effect']}"
           for t in taints},
    }


def node_group_tags(cluster_name: pulumi.Input[str], labels: dict[str, str],
                    taints: list[dict[str, str]], tags: dict[str, str]) -> pulumi.Output[dict]:
    """Node group tags: standard tags, autoscaler auto-discovery and node-template tags."""
    template = node_template_tags(labels, taints)
    return pulumi.Output.from_input(cluster_name).apply(lambda cluster: {
        **tags, f"{_AUTOSCALER}/enabled": "true", f"{_AUTOSCALER}/{cluster}": "owned", **template,
    })


def tag_auto_scaling_group(name: str, node_group: aws.eks.NodeGroup, template: dict[str, str],
                           parent: pulumi.Resource) -> None:
    """Copy the node-template tags onto the node group's Auto Scaling group.

    EKS does not propagate node group tags to the Auto Scaling group, and that group is where
    cluster-autoscaler reads them.
    """
    asg_name = node_group.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name)
    for i, (key, value) in enumerate(template.items()):
        aws.autoscaling.Tag(
            f"{name}-asg-tag-{i}", autoscaling_group_name=asg_name,
            tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
            opts=pulumi.ResourceOptions(parent=parent))


class GpuNodePoolArgs(BaseModel):
    """Arguments of one EKS GPU node pool."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pool: GpuPoolSpec = Field(description="The shared GPU pool spec; target must be aws.")
    cluster_name: StrInput = Field(description="EKS cluster the nodes join.")
    node_role_arn: StrInput = Field(
        description="Node IAM role (carrying a dependency on its policy attachments).")
    subnet_ids: SubnetIds = Field(description="Private subnets the nodes run in.")
    kms_key_arn: StrInput = Field(description="KMS key encrypting the root volumes.")
    kubernetes_version: str = Field(pattern=r"^1\.\d{2}$",
                                    description="Kubelet version, the cluster's (e.g. 1.33).")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")

    @field_validator("pool")
    @classmethod
    def _aws_pool(cls, value: GpuPoolSpec) -> GpuPoolSpec:
        if problems := pool_problems("aws", (value,)):
            raise ValueError("; ".join(problems))
        return value


class GpuNodePool(pulumi.ComponentResource):
    """An EKS managed node group of GPU instances on the AL2023 NVIDIA AMI.

    Guarantees: nodes carry exactly the shared GPU labels (`node_labels`) and the taint
    `nvidia.com/gpu=true:NoSchedule`; root volumes are gp3, encrypted with the cluster key;
    IMDSv2 only; the cluster autoscaler owns the desired size (never reset by `pulumi up`) and
    can scale the group from zero (node-template tags on the node group and its ASG).
    """

    pool_name: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    node_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:GpuNodePool", name, None, opts)
        pool = args.pool
        tags = aws_tags(args.tags, **{"hybridml-gpu-pool": pool.name})
        labels = node_labels(pool)
        taints = [node_taint()]

        template = node_launch_template(f"{name}-lt", pool.disk_size_gb, args.kms_key_arn, tags,
                                        self)
        node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=args.cluster_name,
            node_group_name=f"gpu-{pool.name}",
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            version=args.kubernetes_version,
            ami_type=GPU_AMI_TYPE,
            instance_types=[pool.machine_type],
            capacity_type="SPOT" if pool.spot else "ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_size, max_size=pool.max_size, desired_size=pool.min_size),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)),
            labels=labels,
            taints=[aws.eks.NodeGroupTaintArgs(key=t["key"], value=t["value"],
                                               effect=EKS_TAINT_EFFECT[t["effect"]])
                    for t in taints],
            # GPU nodes are expensive to drain: replace one at a time.
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            tags=node_group_tags(args.cluster_name, labels, taints, tags),
            # The cluster autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        tag_auto_scaling_group(name, node_group, node_template_tags(labels, taints), self)

        self.pool_name = pool.name
        self.labels = labels
        self.taints = taints
        self.node_group_name = node_group.node_group_name
        self.register_outputs({
            "pool_name": self.pool_name,
            "labels": self.labels,
            "taints": self.taints,
            "node_group_name": self.node_group_name,
        })
