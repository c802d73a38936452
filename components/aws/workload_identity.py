"""One Kubernetes service account's read/write access to one S3 artifact store, by EKS Pod Identity."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from components.inputs import StrInput
from components.tags import StandardTags, aws_tags

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
#: Object actions within the prefix: read, write, delete, and the multipart upload clean-up
#: boto3 uses for large artifacts.
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                  "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
#: SSE-KMS with the store's key: read (Decrypt), write (GenerateDataKey; Encrypt for the
#: non-bucket-key path).
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt")

_K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class StoreAccessArgs(BaseModel):
    """Arguments of one service account's access to one S3 artifact store."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field(pattern=_K8S_NAME, description="Namespace of the service account.")
    service_account: str = Field(pattern=_K8S_NAME, description="Kubernetes service account name.")
    tags: StandardTags = Field(description="Standard tags put on the role and association.")
    prefix: str = Field(description="Name prefix, e.g. `hml-prod` (role description).")
    cluster_name: StrInput = Field(description="EKS cluster of the service account "
                                   "(`KubernetesCluster.cluster_name`).")
    bucket_arn: StrInput = Field(description="The store's bucket (`ArtifactStore.bucket_arn`).")
    kms_key_arn: StrInput = Field(description="The store's key (`ArtifactStore.key_arn`).")
    # S3's safe key characters, no `*` (it would widen the grant), ending in `/`.
    key_prefix: str = Field(pattern=r"^[A-Za-z0-9!_.'()-]+(/[A-Za-z0-9!_.'()-]+)*/$",
                            description="Object key prefix the access is limited to, e.g. "
                                        "`mlflow/` (must end with `/`).")
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$",
                                   description="Account of the cluster; when set, the role "
                                               "trusts Pod Identity of that account only.")


def _doc(*statements: dict) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_policy(cluster_name: pulumi.Input[str], namespace: str, service_account: str,
                 account_id: str | None) -> pulumi.Output[str]:
    """EKS Pod Identity may assume the role (and tag the session) for exactly this cluster,
    namespace and service account: Pod Identity sets those session tags itself."""
    match = {
        "aws:RequestTag/eks-cluster-name": cluster_name,
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": service_account,
    }
    if account_id is not None:
        match = {"aws:SourceAccount": account_id, **match}
    return _doc({"Effect": "Allow", "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": match}})


def access_policy(bucket_arn: pulumi.Input[str], kms_key_arn: pulumi.Input[str],
                  key_prefix: str) -> pulumi.Output[str]:
    """List, read, write and delete under `key_prefix` of one bucket, with its key."""
    return _doc(
        {"Sid": "ListPrefix", "Effect": "Allow",
         "Action": "s3:ListBucket", "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [key_prefix, f"{key_prefix}*"]}}},
        {"Sid": "ObjectsUnderPrefix", "Effect": "Allow", "Action": list(OBJECT_ACTIONS),
         "Resource": pulumi.Output.concat(bucket_arn, "/", key_prefix, "*")},
        {"Sid": "StoreKey", "Effect": "Allow", "Action": list(KEY_ACTIONS),
         "Resource": kms_key_arn},
    )


class StoreAccess(pulumi.ComponentResource):
    """An IAM role for one Kubernetes service account, allowed into one prefix of one S3 store,
    bound to the service account by an EKS Pod Identity association.

    Guarantees: no access keys anywhere; the role is assumable only by EKS Pod Identity for
    exactly `cluster_name`/`namespace`/`service_account`; its one inline policy allows listing,
    reading, writing and deleting objects under `key_prefix` only, and using the store's key.
    Pod Identity needs nothing on the ServiceAccount or pod, so `service_account_annotations`
    and `pod_labels` are empty (the cluster runs the eks-pod-identity-agent add-on).
    Callers pass the AWS provider of the cluster's region in `opts.providers`.
    """

    service_account_annotations: dict[str, pulumi.Input[str]]
    pod_labels: dict[str, str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: StoreAccessArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:StoreAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = aws_tags(args.tags)

        trust = trust_policy(args.cluster_name, args.namespace, args.service_account,
                             args.account_id)
        # IAM role names are global to the account; the engine's suffix keeps two clusters'
        # roles (e.g. two regions) apart.
        role = aws.iam.Role(
            f"{name}-role",
            description=(f"{args.prefix}: {args.namespace}/{args.service_account} to the "
                         f"artifact store prefix {args.key_prefix}"),
            assume_role_policy=trust, tags=tags, opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-role-store", role=role.id,
            policy=access_policy(args.bucket_arn, args.kms_key_arn, args.key_prefix),
            opts=child)
        # After the policy: the pod finds its permissions as soon as it gets credentials.
        aws.eks.PodIdentityAssociation(
            f"{name}-identity", cluster_name=args.cluster_name, namespace=args.namespace,
            service_account=args.service_account, role_arn=role.arn, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))

        self.service_account_annotations = {}
        self.pod_labels = {}
        self.role_arn = role.arn
        self.register_outputs({
            "service_account_annotations": self.service_account_annotations,
            "pod_labels": self.pod_labels,
            "role_arn": self.role_arn,
        })
