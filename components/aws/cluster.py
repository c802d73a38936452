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
from components.aws.gpu_pool import (
    GpuNodePool,
    GpuNodePoolArgs,
    SubnetIds,
    node_group_tags,
    node_launch_template,
)
from components.aws.network import LOG_RETENTION_DAYS
from components.aws.vpn import StrInput
from components.gpu_catalog import MACHINE_TYPES
from components.kubernetes.charts import container_resources, pinned_release
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
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = aws_tags(args.tags)
        cname = args.cluster_name
        log_group_name = f"/aws/eks/{cname}/cluster"
        log_group_arn = f"arn:aws:logs:{args.region}:{args.account_id}:log-group:{log_group_name}"

        key = aws.kms.Key(
            f"{name}-key", description=f"Encrypts secrets, logs and volumes of EKS {cname}",
            enable_key_rotation=True, rotation_period_in_days=365, deletion_window_in_days=30,
            policy=iam.key_policy(args.account_id, args.region, log_group_arn), tags=tags,
            opts=keep)
        aws.kms.Alias(f"{name}-key-alias", name=naming.kms_alias(cname, "eks"),
                      target_key_id=key.key_id, opts=child)
        # Created before the cluster so EKS writes into it instead of creating an unencrypted,
        # never-expiring group of its own.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=log_group_name, kms_key_id=key.arn,
            retention_in_days=args.log_retention_days, tags=tags, opts=keep)

        cluster_role, cluster_attachments = iam.role_with_policies(
            f"{name}-cluster-role", f"{cname}-cluster", f"EKS control plane of {cname}",
            iam.service_trust("eks.amazonaws.com"), iam.CLUSTER_POLICIES, tags, self)
        secrets_grant = aws.iam.RolePolicy(
            f"{name}-cluster-role-kms", role=cluster_role.id,
            policy=key.arn.apply(iam.secrets_encryption_policy), opts=child)

        public = args.api_access.mode == "restricted"
        cluster = aws.eks.Cluster(
            f"{name}-cluster", name=cname, version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids, endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(args.api_access.public_cidrs) if public else None),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                resources=["secrets"]),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=args.protect,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_group, secrets_grant, *cluster_attachments]),
        )
        sg_id = cluster.vpc_config.cluster_security_group_id
        for i, cidr in enumerate(args.api_access.admin_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-admin-{i}", security_group_id=sg_id, ip_protocol="tcp",
                from_port=443, to_port=443, cidr_ipv4=cidr,
                description=f"Kubernetes API from admin range {cidr}", tags=tags, opts=child)

        node_role, node_attachments = iam.role_with_policies(
            f"{name}-node-role", f"{cname}-node", f"EKS nodes of {cname}",
            iam.service_trust("ec2.amazonaws.com"), iam.NODE_POLICIES, tags, self)
        node_role_arn = iam.arn_after(node_role, node_attachments)
        system = self._system_nodes(name, args, cluster, node_role_arn, key, tags)

        issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        # No thumbprint: IAM verifies the EKS issuer's TLS certificate against its trusted CAs
        # and fetches a thumbprint itself when none is given (CreateOpenIDConnectProvider).
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags,
            opts=child)
        agent = self._addons(name, args, cluster, key, system, tags)

        self.gpu_pools = {
            pool.name: GpuNodePool(
                f"{name}-gpu-{pool.name}",
                GpuNodePoolArgs(pool=pool, cluster_name=cluster.name, node_role_arn=node_role_arn,
                                subnet_ids=args.subnet_ids, kms_key_arn=key.arn,
                                kubernetes_version=args.kubernetes_version, tags=args.tags),
                opts=child)
            for pool in args.gpu_pools
        }

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data,
        ).apply(lambda v: _kubeconfig(v[0], args.region, v[1], v[2])))
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, cluster_identifier=cname,
            enable_server_side_apply=True, opts=child)
        self._autoscaler(name, args, cluster, agent, system, tags)
        self.cluster_name = cluster.name
        self.storage_class = StorageClassSpec(
            provisioner=EBS_CSI_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key.arn})
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

    def _system_nodes(self, name: str, args: KubernetesClusterArgs, cluster: aws.eks.Cluster,
                      node_role_arn: pulumi.Output[str], key: aws.kms.Key,
                      tags: dict[str, str]) -> aws.eks.NodeGroup:
        spec = args.system_pool
        template = node_launch_template(f"{name}-system-lt", spec.disk_size_gb, key.arn, tags,
                                        self)
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
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _addons(self, name: str, args: KubernetesClusterArgs, cluster: aws.eks.Cluster,
                key: aws.kms.Key, system: aws.eks.NodeGroup, tags: dict[str, str]) -> aws.eks.Addon:
        # Add-ons with pods only become ACTIVE once there are nodes to run them on.
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=[system])
        # The VPC CNI as a managed add-on with its network policy agent on (it takes over the
        # bootstrap copy the nodes started with): without it EKS ignores NetworkPolicy, and
        # every namespace's default-deny would be decoration.
        aws.eks.Addon(
            f"{name}-vpc-cni", cluster_name=cluster.name, addon_name="vpc-cni",
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            tags=tags, opts=after_nodes)
        agent = aws.eks.Addon(
            f"{name}-pod-identity-agent", cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent", resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE", tags=tags, opts=after_nodes)

        csi_grants = iam.ebs_csi_identity(f"{name}-ebs-csi", args.account_id, args.cluster_name,
                                          cluster.name, key.arn, agent, tags, self)
        # The controller must find its credentials (and their permissions) when it first starts.
        aws.eks.Addon(
            f"{name}-ebs-csi", cluster_name=cluster.name, addon_name="aws-ebs-csi-driver",
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            tags=tags, opts=pulumi.ResourceOptions(parent=self, depends_on=[system, *csi_grants]))
        return agent

    def _autoscaler(self, name: str, args: KubernetesClusterArgs, cluster: aws.eks.Cluster,
                    agent: aws.eks.Addon, system: aws.eks.NodeGroup, tags: dict[str, str]) -> None:
        # EKS managed node groups do not scale by themselves: without this the GPU pools would
        # sit at minSize. It scales the groups EKS tags as this cluster's, from zero too
        # (the node groups carry the node-template label/taint tags).
        grants = iam.autoscaler_identity(f"{name}-autoscaler", args.account_id, args.cluster_name,
                                         cluster.name, agent, tags, self)
        values = {
            "cloudProvider": "aws",
            "awsRegion": args.region,
            "autoDiscovery": {"clusterName": args.cluster_name},
            "image": {"tag": f"v{args.kubernetes_version}.0"},  # matches the control plane
            "rbac": {"serviceAccount": {"create": True, "name": iam.AUTOSCALER_SERVICE_ACCOUNT}},
            "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste",
                          "skip-nodes-with-system-pods": False},
            "resources": container_resources("100m", "300Mi", "500m", "600Mi"),
            "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]}},
        }
        pinned_release(f"{name}-cluster-autoscaler", "cluster-autoscaler", iam.AUTOSCALER_NAMESPACE,
                       values, parent=self, depends_on=[system, *grants], provider=self.provider)
