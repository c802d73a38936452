"""A private, KMS-encrypted EKS cluster with a system node group and the GPU node pools."""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import naming
from components.aws import cluster_iam as iam
from components.aws.cluster_addons import autoscaler_values, cluster_autoscaler, managed_addons
from components.aws.gpu_pool import (
    GpuNodePool,
    GpuNodePoolArgs,
    SubnetIds,
    node_group_tags,
    node_launch_template,
)
from components.aws.kms import customer_managed_key, encrypted_log_group, log_group_arn
from components.aws.network import LOG_RETENTION_DAYS
from components.gpu_catalog import MACHINE_TYPES
from components.inputs import StrInput
from components.kubernetes.cluster_spec import ApiAccess, StorageClassSpec, SystemPoolSpec
from components.kubernetes.gpu_pool import GpuPoolSpec, pool_problems
from components.regions import AWS_REGIONS
from components.tags import StandardTags, aws_tags

#: Every control-plane log type EKS offers.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"

class KubernetesClusterArgs(BaseModel):
    """Arguments of one EKS cluster."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    # 48 characters keeps the derived IAM role names within IAM's 64.
    cluster_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$",
                              description="EKS cluster name, e.g. `hml-prod-aws-eu-west-1`.")
    region: str = Field(description="AWS region of the cluster (must match the provider).")
    account_id: str = Field(pattern=r"^\d{12}$", description="AWS account that owns the cluster.")
    kubernetes_version: str = Field(pattern=r"^1\.\d{2}$",
                                    description="Pinned Kubernetes minor version, e.g. `1.33`.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(description="Protect the key and log group; EKS deletion protection.")
    vpc_id: StrInput = Field(
        description="VPC of the cluster (`Network.vpc_id`); EKS derives it from `subnet_ids`, so "
                    "this documents the pairing for callers.")
    subnet_ids: SubnetIds = Field(
        description="Private subnets for the control-plane ENIs and the nodes "
                    "(`Network.private_subnet_ids`).")
    vpc_cidr: str = Field(description="CIDR of the VPC (validated; for callers' checks).")
    api_access: ApiAccess = Field(description="Who reaches the Kubernetes API and how.")
    system_pool: SystemPoolSpec = Field(description="The untainted pool for add-ons and services.")
    gpu_pools: tuple[GpuPoolSpec, ...] = Field(default=(), description="GPU pools (target aws).")
    log_retention_days: int = Field(description="Days control-plane logs are kept (CloudWatch).")

    @field_validator("system_pool")
    @classmethod
    def _system_pool(cls, value: SystemPoolSpec) -> SystemPoolSpec:
        if value.machine_type in MACHINE_TYPES["aws"]:
            raise ValueError(f"system pool instance type {value.machine_type!r} carries GPUs; "
                             "GPUs belong in gpu_pools")
        return value

    @model_validator(mode="after")
    def _fits_aws(self) -> KubernetesClusterArgs:
        # Refused here, naming what is allowed, rather than by the AWS API at `pulumi up`.
        problems = [] if self.region in AWS_REGIONS else [f"unknown AWS region {self.region!r}"]
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.append(f"CloudWatch Logs keeps logs {sorted(LOG_RETENTION_DAYS)} days only")
        try:
            ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError as err:
            problems.append(f"vpc_cidr: {self.vpc_cidr!r} is not a CIDR ({err})")
        problems += pool_problems("aws", self.gpu_pools)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _kubeconfig(name: str, region: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig authenticating through `aws eks get-token` (no static credentials)."""
    user = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", name, "--region", region,
                 "--output", "json"],
    }}
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": endpoint,
                                                 "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "users": [{"name": name, "user": user}],
    })


class KubernetesCluster(pulumi.ComponentResource):
    """An EKS cluster in private subnets with secure defaults.

    Guarantees: one rotating customer-managed KMS key (protected with `protect`) envelope-
    encrypts Kubernetes Secrets, the control-plane log group and every node and EBS CSI volume;
    all five control-plane log types go to `/aws/eks/<cluster>/cluster`, kept
    `log_retention_days`; the private endpoint is always on and reachable from `admin_cidrs` on
    443 only; the public endpoint exists only in restricted mode and only for `public_cidrs`;
    authentication through EKS access entries only; the Kubernetes version and STANDARD support
    are pinned; EKS deletion protection with `protect`. Workload identity: the EKS Pod Identity
    agent and an IAM OIDC provider (IRSA). Nodes: AL2023, IMDSv2 only (hop limit 1), encrypted
    gp3 root volumes; an untainted system group and one `GpuNodePool` per GPU pool.

    Needs the account's AWSServiceRoleForAutoScaling service-linked role to exist (KMS refuses a
    key policy naming a missing principal); EKS creates it with the first managed node group.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    storage_class: StorageClassSpec
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    gpu_pools: dict[str, GpuNodePool]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:KubernetesCluster", name, None, opts)
        tags = aws_tags(args.tags)

        key, log_group = cluster_key_and_logs(name, args, tags, self)
        cluster_role, role_ready = control_plane_role(name, args.cluster_name, key, tags, self)
        cluster = eks_cluster(name, args, cluster_role, key, [log_group, *role_ready], tags, self)
        api_admin_rules(name, cluster, args.api_access.admin_cidrs, tags, self)

        node_role, node_role_arn = node_role_with_policies(name, args.cluster_name, tags, self)
        system = system_node_group(name, args, cluster, node_role_arn, key, tags, self)
        oidc, issuer = oidc_provider(name, cluster, tags, self)
        agent = managed_addons(name, args.account_id, args.cluster_name, cluster, key, system, tags,
                               self)
        self.gpu_pools = gpu_node_pools(name, args, cluster, node_role_arn, key, self)

        self.kubeconfig = cluster_kubeconfig(cluster, args.region)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, cluster_identifier=args.cluster_name,
            enable_server_side_apply=True, opts=pulumi.ResourceOptions(parent=self))
        cluster_autoscaler(
            name, args.account_id,
            autoscaler_values(args.region, args.cluster_name, args.kubernetes_version),
            args.cluster_name, cluster, agent, system, tags, self.provider, self)

        self.cluster_name = cluster.name
        self.storage_class = ebs_storage_class(key.arn)
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer_url = issuer
        self.node_role_arn = node_role.arn
        self.kms_key_arn = key.arn
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "oidc_provider_arn": self.oidc_provider_arn,
            "oidc_issuer_url": self.oidc_issuer_url,
            "node_role_arn": self.node_role_arn,
            "kms_key_arn": self.kms_key_arn,
        })


def control_plane_log_group_name(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to (it must be exactly this name)."""
    return f"/aws/eks/{cluster_name}/cluster"


def cluster_key_and_logs(
    name: str, args: KubernetesClusterArgs, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
    """The cluster's KMS key (Secrets, logs, volumes) and the encrypted control-plane log group."""
    cname = args.cluster_name
    group_name = control_plane_log_group_name(cname)
    key = customer_managed_key(
        f"{name}-key", description=f"Encrypts secrets, logs and volumes of EKS {cname}",
        policy=iam.key_policy(args.account_id, args.region,
                              log_group_arn(args.region, args.account_id, group_name)),
        alias=naming.kms_alias(cname, "eks"), tags=tags, parent=parent, protect=args.protect)
    # Created before the cluster so EKS writes into it instead of creating an unencrypted,
    # never-expiring group of its own.
    log_group = encrypted_log_group(
        f"{name}-logs", group_name=group_name, key=key, retention_days=args.log_retention_days,
        tags=tags, parent=parent, protect=args.protect)
    return key, log_group


def control_plane_role(
    name: str, cluster_name: str, key: aws.kms.Key, tags: dict[str, str],
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """The control plane's role with its managed policies and use of the key for Secrets;
    returns the role and what the cluster must wait for."""
    role, attachments = iam.role_with_policies(
        f"{name}-cluster-role", f"{cluster_name}-cluster", f"EKS control plane of {cluster_name}",
        iam.service_trust("eks.amazonaws.com"), iam.CLUSTER_POLICIES, tags, parent)
    secrets_grant = aws.iam.RolePolicy(
        f"{name}-cluster-role-kms", role=role.id,
        policy=key.arn.apply(iam.secrets_encryption_policy),
        opts=pulumi.ResourceOptions(parent=parent))
    return role, [secrets_grant, *attachments]


def endpoint_access(access: ApiAccess) -> dict:
    """The public-endpoint settings of the cluster's VPC config: public only in restricted
    mode, and then only for `public_cidrs` (the private endpoint is always on)."""
    public = access.mode == "restricted"
    return {"endpoint_public_access": public,
            "public_access_cidrs": list(access.public_cidrs) if public else None}


def eks_cluster(
    name: str, args: KubernetesClusterArgs, role: aws.iam.Role, key: aws.kms.Key,
    depends_on: list[pulumi.Resource], tags: dict[str, str], parent: pulumi.Resource,
) -> aws.eks.Cluster:
    """The EKS control plane: private endpoint, Secrets encryption, all log types, access
    entries only, pinned version and support type."""
    return aws.eks.Cluster(
        f"{name}-cluster", name=args.cluster_name, version=args.kubernetes_version,
        role_arn=role.arn,
        vpc_config=aws.eks.ClusterVpcConfigArgs(
            subnet_ids=args.subnet_ids, endpoint_private_access=True,
            **endpoint_access(args.api_access)),
        encryption_config=aws.eks.ClusterEncryptionConfigArgs(
            provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
            resources=["secrets"]),
        enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
        access_config=aws.eks.ClusterAccessConfigArgs(
            authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True),
        upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
        deletion_protection=args.protect,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )


def api_admin_rules(
    name: str, cluster: aws.eks.Cluster, admin_cidrs: tuple[str, ...], tags: dict[str, str],
    parent: pulumi.Resource,
) -> list[aws.vpc.SecurityGroupIngressRule]:
    """One 443-only ingress rule on the cluster security group per admin range."""
    sg_id = cluster.vpc_config.cluster_security_group_id
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-api-admin-{i}", security_group_id=sg_id, ip_protocol="tcp",
            from_port=443, to_port=443, cidr_ipv4=cidr,
            description=f"Kubernetes API from admin range {cidr}", tags=tags,
            opts=pulumi.ResourceOptions(parent=parent))
        for i, cidr in enumerate(admin_cidrs)
    ]


def node_role_with_policies(
    name: str, cluster_name: str, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.iam.Role, pulumi.Output[str]]:
    """The nodes' role, and its ARN as known only once its policies are attached."""
    role, attachments = iam.role_with_policies(
        f"{name}-node-role", f"{cluster_name}-node", f"EKS nodes of {cluster_name}",
        iam.service_trust("ec2.amazonaws.com"), iam.NODE_POLICIES, tags, parent)
    return role, iam.arn_after(role, attachments)


def system_node_group(
    name: str, args: KubernetesClusterArgs, cluster: aws.eks.Cluster,
    node_role_arn: pulumi.Output[str], key: aws.kms.Key, tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.eks.NodeGroup:
    """The untainted, on-demand system node group (hardened launch template)."""
    spec = args.system_pool
    template = node_launch_template(f"{name}-system-lt", spec.disk_size_gb, key.arn, tags,
                                    parent)
    return aws.eks.NodeGroup(
        f"{name}-system", cluster_name=cluster.name, node_group_name="system",
        node_role_arn=node_role_arn, subnet_ids=args.subnet_ids,
        version=args.kubernetes_version, ami_type=SYSTEM_AMI_TYPE,
        instance_types=[spec.machine_type], capacity_type="ON_DEMAND",
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=spec.min_size, max_size=spec.max_size, desired_size=spec.min_size),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
            id=template.id, version=template.latest_version.apply(str)),
        tags=node_group_tags(cluster.name, {}, [], tags),
        # The cluster autoscaler owns the desired size once the group exists.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["scalingConfig.desiredSize"]),
    )


def oidc_provider(
    name: str, cluster: aws.eks.Cluster, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.iam.OpenIdConnectProvider, pulumi.Output[str]]:
    """The IAM OIDC provider of the cluster's issuer (IRSA), and the issuer URL."""
    issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
    # No thumbprint: IAM verifies the EKS issuer's TLS certificate against its trusted CAs
    # and fetches a thumbprint itself when none is given (CreateOpenIDConnectProvider).
    oidc = aws.iam.OpenIdConnectProvider(
        f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags,
        opts=pulumi.ResourceOptions(parent=parent))
    return oidc, issuer


def gpu_node_pools(
    name: str, args: KubernetesClusterArgs, cluster: aws.eks.Cluster,
    node_role_arn: pulumi.Output[str], key: aws.kms.Key, parent: pulumi.Resource,
) -> dict[str, GpuNodePool]:
    """One `GpuNodePool` per GPU pool, by pool name."""
    return {
        pool.name: GpuNodePool(
            f"{name}-gpu-{pool.name}",
            GpuNodePoolArgs(pool=pool, cluster_name=cluster.name, node_role_arn=node_role_arn,
                            subnet_ids=args.subnet_ids, kms_key_arn=key.arn,
                            kubernetes_version=args.kubernetes_version, tags=args.tags),
            opts=pulumi.ResourceOptions(parent=parent))
        for pool in args.gpu_pools
    }


def cluster_kubeconfig(cluster: aws.eks.Cluster, region: str) -> pulumi.Output[str]:
    """The cluster's kubeconfig, as a secret."""
    return pulumi.Output.secret(pulumi.Output.all(
        cluster.name, cluster.endpoint, cluster.certificate_authority.data,
    ).apply(lambda v: _kubeconfig(v[0], region, v[1], v[2])))


def ebs_storage_class(key_arn: pulumi.Input[str]) -> StorageClassSpec:
    """The default StorageClass of EKS: encrypted gp3 EBS volumes under the cluster key."""
    return StorageClassSpec(provisioner=EBS_CSI_PROVISIONER,
                            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn})
