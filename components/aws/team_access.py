"""A team's way into an EKS cluster: its IAM role mapped to its Kubernetes group."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from components.inputs import StrInput
from components.tags import StandardTags, aws_tags


class TeamClusterAccessArgs(BaseModel):
    """Arguments of a TeamClusterAccess."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    cluster_name: StrInput = Field(description="EKS cluster (`KubernetesCluster.cluster_name`).")
    role_arn: str = Field(pattern=r"^arn:aws:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$",
                          description="IAM role the team's members assume (e.g. their SSO role).")
    group: str = Field(min_length=1, description="Kubernetes group the role's sessions get; the "
                                                 "team's RoleBinding names it.")
    tags: StandardTags = Field(description="The team's tags.")


class TeamClusterAccess(pulumi.ComponentResource):
    """An EKS access entry (STANDARD, no access policy) giving the role's sessions the team's
    Kubernetes group. Guarantees: the role gets exactly what the group is bound to in the
    team's namespace (the `team-member` Role), nothing cluster-wide."""

    def __init__(self, name: str, args: TeamClusterAccessArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:TeamClusterAccess", name, None, opts)
        aws.eks.AccessEntry(
            f"{name}-entry", cluster_name=args.cluster_name, principal_arn=args.role_arn,
            type="STANDARD", kubernetes_groups=[args.group], tags=aws_tags(args.tags),
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
