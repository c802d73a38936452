"""Config of the team environments (`teams`), and what it means.

A team asks for an environment on some of the stack's clusters: a namespace `team-<name>` with
a quota (GPUs included), its group bound to it, a bucket of its own on each cloud site it runs
on (a prefix of the site's MLflow store on-prem), Kafka topics `<name>-*` with a user allowed on
exactly those, and a Grafana folder. `hybrid-ml team add` writes one entry of this list.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from stacks.config.base import ConfigModel
from stacks.config.pipelines import TeamPipelines
from stacks.config.tag_values import CostCenter, Owner

#: Lowercase words joined by single dashes (`a--b` and `a-b` would share every physical name).
TEAM_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
TEAM_NAME_MIN, TEAM_NAME_MAX = 3, 30
TEAM_NAME_RULE = (f"{TEAM_NAME_MIN}-{TEAM_NAME_MAX} lowercase letters and digits, starting with "
                  "a letter, in words joined by single dashes, like fraud-detection")
#: The physical names with the tightest limits (Azure storage account and key vault stems,
#: the IAM role autonamed from a team's store grant, bucket names with a long prefix and
#: region) were sized for team names of at most 12 characters: longer names are shortened there.
SHORT_NAME_MAX = 12


def _team_name(value: object) -> object:
    if isinstance(value, str) and not (
            TEAM_NAME_MIN <= len(value) <= TEAM_NAME_MAX and re.match(TEAM_NAME, value)):
        raise PydanticCustomError("team_name", TEAM_NAME_RULE)
    return value


TeamName = Annotated[str, BeforeValidator(_team_name)]


def team_short_name(name: str) -> str:
    """The team's name in physical names sized for 12 characters: the name itself when it fits
    (so every name the old 12-character limit allowed keeps its physical names), else its first
    7 characters and 4 hex digits of its SHA-256 (`fraud-detection` -> `fraud-d-<hash>`):
    stable, and distinct for names that share their start."""
    if len(name) <= SHORT_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:4]
    return f"{name[:7].rstrip('-')}-{digest}"

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
    """The team's store: it names buckets, key rings and Azure accounts, so the short name."""
    return f"{STORE_PREFIX}{team_short_name(name)}"


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


class TeamQueue(ConfigModel):
    """The team's share of the GPU work queues (with `services.workQueues`)."""

    gpus: dict[str, Annotated[int, Field(ge=0, le=512)]] = Field(default_factory=dict)
    """Guaranteed GPUs (nominal quota) per GPU type, e.g. `{nvidia-l4: 2}`, on each of the
    team's clusters that has that type (each capacity kind, on-demand and spot, alike); a type
    not named here gets the team's `gpus`."""
    borrow_gpus: int | None = Field(default=None, ge=0, le=512)
    """GPUs per GPU flavor the team may borrow beyond its guarantee while other teams leave
    theirs idle (taken back by preemption when they need it); defaults to the guarantee."""
    burst_to: list[str] = Field(default_factory=list)
    """Cloud clusters (`<cloud>/<region>`, among `sites`) the team's `burst` queue on-prem may
    dispatch to (`services.workQueues.burst`); each must be allowed for its data classification.
    Default: none (the team's work never leaves the cluster it is submitted to)."""


class Team(ConfigModel):
    """One team's environment on the clusters it names."""

    name: TeamName
    """Team name, 3-30 lowercase letters and digits in words joined by single `-`; the
    namespace is `team-<name>`. Names over 12 characters appear shortened with a hash in the
    tightest physical names (its store `t-<short name>`: buckets, key rings, Azure accounts)."""
    owner: Owner
    """The owner tag of everything the team gets: a handle such as `fraud-team` (stored
    lowercase; no `@` or `.`, the same value on every cloud and in Kubernetes labels)."""
    cost_center: CostCenter
    """The team's cost centre (the cost-center tag), e.g. `ML-4200` (any case; stored
    upper-case)."""
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
    """nvidia.com/gpu the namespace may request on each of its clusters. With
    `services.workQueues`: the team's guaranteed GPUs of each GPU type of a cluster (unless
    `queue.gpus` names the type), and the namespace's quota becomes guarantee plus borrowing."""
    queue: TeamQueue = Field(default_factory=TeamQueue)
    """The team's GPU work queues: guarantees per GPU type, borrowing, burst clusters."""
    quota: TeamQuota = Field(default_factory=TeamQuota)
    """CPU, memory, storage and pods of the namespace on each of its clusters."""
    topics: list[TeamTopic] = Field(default_factory=list)
    """Kafka topics, on the team's clusters that run Kafka."""
    notebooks: bool = False
    """JupyterHub profiles for the team (with `services.notebooks`)."""
    pipelines: TeamPipelines | None = None
    """The team's Airflow DAG source (with `services.pipelines`)."""
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
