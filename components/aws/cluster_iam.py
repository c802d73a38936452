"""IAM roles and KMS policy documents of an EKS cluster (control plane, nodes, EBS CSI driver)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.kms import account_administers, logs_encrypt, policy_document

#: AWS managed policies, by the role that needs them.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
# Current EKS guidance: PullOnly rather than ReadOnly (kubelet only pulls). The CNI policy stays
# on the node role because the vpc-cni runs as the bootstrap self-managed add-on, which uses
# the node's credentials (IMDS hop limit 1 keeps them away from ordinary pods).
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                 "AmazonEKS_CNI_Policy")
EBS_CSI_POLICIES = ("service-role/AmazonEBSCSIDriverPolicy",)

EBS_CSI_NAMESPACE = "kube-system"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"

_KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
            "kms:DescribeKey"]


#: The policy document builder, under the name this module's callers know it by.
doc = policy_document


def autoscaling_role_arn(account_id: str) -> str:
    return (f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
            "AWSServiceRoleForAutoScaling")


def key_policy(account_id: str, region: str, log_group_arn: str) -> str:
    """The cluster key's policy: account administers (and delegates to IAM policies), CloudWatch
    Logs encrypts the one control-plane log group, and EC2 Auto Scaling (which launches managed
    node group instances) uses the key for their encrypted root volumes.

    The Auto Scaling statements follow "Required AWS KMS key policy for use with encrypted
    volumes" (EC2 Auto Scaling user guide); KMS refuses the policy if the account has no
    AWSServiceRoleForAutoScaling yet.
    """
    autoscaling = {"AWS": autoscaling_role_arn(account_id)}
    return doc(
        account_administers(account_id),
        logs_encrypt("CloudWatchLogsEncryptsControlPlaneLogs", region, log_group_arn),
        {"Sid": "AutoScalingUsesKeyForNodeVolumes", "Effect": "Allow", "Principal": autoscaling,
         "Action": _KEY_USE, "Resource": "*"},
        {"Sid": "AutoScalingAttachesNodeVolumes", "Effect": "Allow", "Principal": autoscaling,
         "Action": "kms:CreateGrant", "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    )


def service_trust(service: str) -> str:
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def pod_identity_trust(account_id: str, cluster_name: str, namespace: str,
                       service_account: str) -> str:
    # EKS Pod Identity tags the session with cluster, namespace and service account
    # ("Create IAM role with trust policy required by EKS Pod Identity"); matching them keeps
    # any other association in the account from assuming this role.
    return doc({
        "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": {
            "aws:SourceAccount": account_id,
            "aws:RequestTag/eks-cluster-name": cluster_name,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }},
    })


def secrets_encryption_policy(key_arn: str) -> str:
    # What the control plane does with the key for envelope encryption of Secrets.
    return doc({"Effect": "Allow", "Resource": key_arn,
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]})


def ebs_csi_key_policy(key_arn: str) -> str:
    # "Create an Amazon EBS CSI driver IAM role" (EKS user guide), custom KMS key section:
    # grants only for AWS resources (the volumes), and use of the key itself.
    return doc(
        {"Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Effect": "Allow", "Resource": key_arn, "Action": _KEY_USE},
    )


def role_with_policies(
    name: str, role_name: str, description: str, trust: str, managed: tuple[str, ...],
    tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """A role with AWS managed policies attached; callers depend on the attachments, so EKS
    never acts with a half-permissioned role (nor loses permissions before it is done)."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(name, name=role_name, description=description,
                        assume_role_policy=trust, tags=tags, opts=child)
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.rsplit('/', 1)[-1].lower().replace('_', '-')}", role=role.name,
            policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child)
        for policy in managed
    ]
    return role, attachments


def arn_after(role: aws.iam.Role, attachments: list[pulumi.Resource]) -> pulumi.Output[str]:
    """The role's ARN, carrying a dependency on its policy attachments."""
    return pulumi.Output.all(role.arn, *[a.id for a in attachments]).apply(lambda v: v[0])


def ebs_csi_identity(
    name: str, account_id: str, cluster_name: str, cluster: pulumi.Input[str],
    key_arn: pulumi.Output[str], agent: pulumi.Resource, tags: dict[str, str],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """The EBS CSI controller's role (AmazonEBSCSIDriverPolicy plus use of the cluster key),
    bound to its service account by an EKS Pod Identity association. Returns what the add-on
    must wait for, so the controller finds its credentials and permissions when it starts."""
    role, attachments = role_with_policies(
        f"{name}-role", f"{cluster_name}-ebs-csi", f"EBS CSI controller of EKS {cluster_name}",
        pod_identity_trust(account_id, cluster_name, EBS_CSI_NAMESPACE, EBS_CSI_SERVICE_ACCOUNT),
        EBS_CSI_POLICIES, tags, parent)
    kms = aws.iam.RolePolicy(f"{name}-role-kms", role=role.id,
                             policy=key_arn.apply(ebs_csi_key_policy),
                             opts=pulumi.ResourceOptions(parent=parent))
    association = aws.eks.PodIdentityAssociation(
        f"{name}-identity", cluster_name=cluster, namespace=EBS_CSI_NAMESPACE,
        service_account=EBS_CSI_SERVICE_ACCOUNT, role_arn=role.arn, tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[agent]))
    return [association, kms, *attachments]


#: The cluster autoscaler's service account (the chart's `rbac.serviceAccount.name`).
AUTOSCALER_NAMESPACE, AUTOSCALER_SERVICE_ACCOUNT = "kube-system", "cluster-autoscaler"


def autoscaler_policy(cluster_name: str) -> str:
    # The cluster-autoscaler AWS README's least-privilege policy: read everywhere, change only
    # the Auto Scaling groups EKS tags as this cluster's (k8s.io/cluster-autoscaler/<name>=owned).
    return doc(
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup"]},
        {"Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {
             f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    )


def autoscaler_identity(
    name: str, account_id: str, cluster_name: str, cluster: pulumi.Input[str],
    agent: pulumi.Resource, tags: dict[str, str], parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """The cluster autoscaler's role, bound to its service account by Pod Identity; returns
    what the autoscaler must wait for."""
    role, _ = role_with_policies(
        f"{name}-role", f"{cluster_name}-autoscaler", f"Cluster autoscaler of EKS {cluster_name}",
        pod_identity_trust(account_id, cluster_name, AUTOSCALER_NAMESPACE, AUTOSCALER_SERVICE_ACCOUNT),
        (), tags, parent)
    policy = aws.iam.RolePolicy(f"{name}-role-scaling", role=role.id,
                                policy=autoscaler_policy(cluster_name),
                                opts=pulumi.ResourceOptions(parent=parent))
    association = aws.eks.PodIdentityAssociation(
        f"{name}-identity", cluster_name=cluster, namespace=AUTOSCALER_NAMESPACE,
        service_account=AUTOSCALER_SERVICE_ACCOUNT, role_arn=role.arn, tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[agent]))
    return [association, policy]
