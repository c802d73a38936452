"""Config of the team environments (`teams`), and what it means.

A team asks for an environment on some of the stack's clusters: a namespace `team-<name>` with
a quota (GPUs included), its group bound to it, a bucket of its own on each cloud site it runs
on (a prefix of the site's MLflow store on-prem), Kafka topics `<name>-*` with a user allowed on
exactly those, and a Grafana folder. `hybrid-ml team add` writes one entry of this list.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.tags import COST_CENTER_PATTERN
from stacks.config.base import ConfigModel

#: Lowercase words joined by single dashes (`a--b` and `a-b` would share every physical name).
TEAM_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"




_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Mi|Gi|Ti)?$"
_GROUP = r"^[A-Za-z0-9][A-Za-z0-9:@._-]{0,127}$"
#: DNS labels joined by dots: the KafkaTopic is a Kubernetes object of this name.
_TOPIC = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: Namespaces of teams are `team-<name>`; platform namespaces may not take that form.
NAMESPACE_PREFIX = "team-"
#: A team's artifact store is `t-<name>` (a logical store name, like `artifacts`).
STORE_PREFIX = "t-"


def team_namespace(name: str) -> str:
    return f"{NAMESPACE_PREFIX}{name}"


def team_store(name: str) -> str:
    return f"{STORE_PREFIX}{name}"


def team_topic(team: str, topic: str) -> str:
    """A team's topics all start with `<team>-`: the prefix its user's ACLs grant."""
    return f"{team}-{topic}"


class TeamTopic(ConfigModel):
    """A Kafka topic of the team (named `<team>-<name>` on the cluster)."""

    name: str = Field(pattern=_TOPIC, max_length=200)
    """Topic name without the team prefix, e.g. `events` becomes `fraud-events`."""
    partitions: int = Field(default=3, ge=1, le=1000)
    """Partitions."""
    retention_hours: int = Field(default=168, ge=1, le=8760)
    """How long records are kept, in hours."""


class TeamQuota(ConfigModel):
    """What the team's namespace may use on each of its clusters."""

    cpu: str = Field(default="8", pattern=_QUANTITY)
    """CPU requests in total (limits may reach twice this)."""
    memory: str = Field(default="32Gi", pattern=_QUANTITY)
    """Memory requests (and limits) in total."""
    storage: str = Field(default="200Gi", pattern=_QUANTITY)
    """Persistent volume storage in total."""
    pods: int = Field(default=50, ge=1, le=1000)
    """Pods in total."""


class Team(ConfigModel):
    """One team's environment on the clusters it names."""

    name: str = Field(pattern=TEAM_NAME, min_length=3, max_length=12)
    """Team name, 3-12 lowercase letters and digits in words joined by single `-`; the
    namespace is `team-<name>`."""
    owner: str = Field(pattern=r"^[a-z0-9][a-z0-9._@-]{1,62}$")
    """The owner tag of everything the team gets (its lead or its mailing list, lowercase)."""
    cost_center: str = Field(pattern=COST_CENTER_PATTERN)
    """The team's cost centre (the cost-center tag), e.g. `ML-4200`."""
    group: str | None = Field(default=None, pattern=_GROUP)
    """The identity-provider group bound to the `team-member` Role in the namespace
    (Kubernetes RBAC group name; on AKS an Entra group object id); defaults to `team-<name>`."""
    aws_role_arn: str | None = Field(default=None,
                                     pattern=r"^arn:aws:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$")
    """EKS sites (required there): the IAM role the team's members assume; an access entry maps
    it to `group` on each EKS cluster of the team (clusters authenticate by access entries)."""
    azure_group_object_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    """AKS sites (required there): the Entra group's object id, the group name AKS (Entra ID
    authentication) gives its members; bound instead of `group` on AKS."""
    google_group: str | None = Field(default=None, pattern=r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$")
    """GKE sites (required there): the team's Google group e-mail, a member of the cluster's
    `securityGroup` (Google Groups for RBAC); bound instead of `group` on GKE."""
    sites: list[str] = Field(min_length=1)
    """Clusters the team runs on: `onprem` or `<cloud>/<region>`."""
    data_classification: str | None = None
    """Classification of the team's data (residency decides which sites may hold it);
    defaults to residency.defaultClassification."""
    gpus: int = Field(default=0, ge=0, le=512)
    """nvidia.com/gpu the namespace may request on each of its clusters."""
    quota: TeamQuota = Field(default_factory=TeamQuota)
    """CPU, memory, storage and pods of the namespace on each of its clusters."""
    topics: list[TeamTopic] = Field(default_factory=list)
    """Kafka topics, on the team's clusters that run Kafka."""
    mlflow_permission: Literal["EDIT", "MANAGE"] = "EDIT"
    """What members may do in the team's MLflow workspace `team-<name>` (on its clusters that run
    MLflow): EDIT creates, reads and changes everything in it and deletes what one created;
    MANAGE also deletes anything and grants access to others. Members are the IdP users whose
    token lists `group` (or `azureGroupObjectId`) in services.mlflow.oidc.groupClaims."""

    @property
    def idp_groups(self) -> tuple[str, ...]:
        """The group claim values that make someone a member (MLflow)."""
        return tuple(g for g in (self.rbac_group, self.azure_group_object_id) if g)

    @property
    def rbac_group(self) -> str:
        return self.group or team_namespace(self.name)

    def group_on(self, site: str) -> str:
        """The Kubernetes group name of the team's members on a cluster of `site`."""
        if site == "azure" and self.azure_group_object_id:
            return self.azure_group_object_id
        if site == "gcp" and self.google_group:
            return self.google_group
        return self.rbac_group
