"""Config of the team environments (`teams`), and what it means.

A team asks for an environment on some of the stack's clusters: a namespace `team-<name>` with
a quota (GPUs included), its group bound to it, a bucket of its own on each cloud site it runs
on (a prefix of the site's MLflow store on-prem), Kafka topics `<name>-*` with a user allowed on
exactly those, and a Grafana folder. `hybrid-ml team add` writes one entry of this list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from components.tags import COST_CENTER_PATTERN
from stacks.config_base import ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem

#: Lowercase words joined by single dashes (`a--b` and `a-b` would share every physical name).
TEAM_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
_REF = r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$"
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


def _gpu_capacity(pools: list[Any]) -> int:
    """nvidia.com/gpu a cluster's pools can offer at most (MIG slices and time-shares count)."""
    total = 0
    for p in pools:
        nodes = len(p.nodes) if p.nodes else p.max_size
        per_gpu = p.time_slicing_replicas or 1
        if p.mig_profile:
            per_gpu = 7 // int(p.mig_profile.split("g.", 1)[0])
        total += nodes * p.gpu_count * per_gpu
    return total


def _cluster_pools(cfg: PlatformConfig, ref: str) -> list[Any]:
    k = cfg.kubernetes
    if ref == "onprem":
        return list(k.onprem.gpu_pools) if k.onprem else []
    site, region = ref.split("/", 1)
    entry = getattr(k, site).get(region)
    return list(entry.gpu_pools) if entry is not None else []


def team_classification(cfg: PlatformConfig, team: Team) -> str:
    return team.data_classification or cfg.residency.default_classification


def kafka_sites(cfg: PlatformConfig, team: Team) -> list[str]:
    """The team's clusters that run Kafka (where its topics and user go)."""
    kafka = cfg.services.kafka
    if kafka is None:
        return []
    return [ref for ref in team.sites if kafka.cluster(ref) is not None]


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _prefix_problems(cfg: PlatformConfig, i: int, team: Team) -> list[ConfigProblem]:
    """The team's Kafka prefix `<name>-` (its ACLs) must cover nothing it does not own: no
    platform topic, no other team's prefix, nothing MirrorMaker copies between sites."""
    from stacks.validation import ConfigProblem, _path

    kafka = cfg.services.kafka
    if kafka is None or not kafka_sites(cfg, team):
        return []
    mine = f"{team.name}-"
    why = []
    why += [f"topic {t.name} of services.kafka.topics" for t in kafka.topics
            if t.name.startswith(mine)]
    why += [f"the {kind} prefix {p!r} of services.kafka.mirrors[{j}]"
            for j, m in enumerate(kafka.mirrors)
            for kind, prefixes in (("topic", m.topic_prefixes), ("group", m.group_prefixes))
            for p in prefixes if _overlap(mine, p)]
    why += [f"team {other.name}'s prefix {other.name}-" for other in cfg.teams[:i]
            if other.name != team.name and kafka_sites(cfg, other)
            and _overlap(mine, f"{other.name}-")]
    if not why:
        return []
    return [ConfigProblem(_path(("teams", i, "name")), team.name,
                          f"its Kafka prefix {mine!r} overlaps {'; '.join(why)}; pick a name "
                          "whose prefix covers only the team's own topics and groups")]


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Names, clusters, residency, GPUs and topics of every team, checked."""
    from stacks.cluster_plan import clusters_by_ref
    from stacks.validation import _MISSING, ConfigProblem, _path

    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        out.append(ConfigProblem(_path(("teams", *loc)), value, why))

    known = clusters_by_ref(cfg)
    res = cfg.residency
    platform_ns = {ns.name for ns in cfg.kubernetes.namespaces} if cfg.kubernetes else set()
    stores = {s.name for s in cfg.storage.stores}
    config_topics = {t.name for t in cfg.services.kafka.topics} if cfg.services.kafka else set()
    seen: set[str] = set()
    for i, team in enumerate(cfg.teams):
        if team.name in seen:
            add((i, "name"), team.name, "team names must be unique")
        seen.add(team.name)
        if team_namespace(team.name) in platform_ns:
            add((i, "name"), team.name,
                f"its namespace {team_namespace(team.name)} is already a platform namespace")
        if team_store(team.name) in stores:
            add((i, "name"), team.name,
                f"its store {team_store(team.name)} is already in storage.stores")
        cls_name = team_classification(cfg, team)
        cls = res.classifications.get(cls_name)
        if cls is None:
            add((i, "dataClassification"), cls_name,
                f"allowed: {', '.join(sorted(res.classifications))}")
        if len(set(team.sites)) != len(team.sites):
            add((i, "sites"), team.sites, "each cluster may appear once")
        for j, ref in enumerate(team.sites):
            if ref not in known:
                add((i, "sites", j), ref,
                    f"allowed: clusters of this stack ({', '.join(known) or 'none'})")
                continue
            if cls is not None and ref != "onprem":
                region = ref.split("/", 1)[1]
                if cls.on_prem_required:
                    add((i, "sites", j), ref,
                        f"{cls_name!r} data must stay on-prem; allowed: onprem")
                elif region not in cls.allowed_regions:
                    add((i, "sites", j), ref,
                        f"{region} is outside the allowed regions of {cls_name!r} data "
                        f"({', '.join(cls.allowed_regions) or 'none'})")
            if team.gpus:
                capacity = _gpu_capacity(_cluster_pools(cfg, ref))
                if team.gpus > capacity:
                    add((i, "gpus"), team.gpus,
                        f"at most the {capacity} GPU(s) the pools of {ref} can offer"
                        + ("" if capacity else " (it has no GPU pool)"))
        out += _prefix_problems(cfg, i, team)
        clouds = {ref.split("/", 1)[0] for ref in team.sites if ref in known}
        if "aws" in clouds and team.aws_role_arn is None:
            add((i, "awsRoleArn"), _MISSING, "required when the team runs on EKS: the IAM role "
                "its members assume (EKS maps it to the team's group by an access entry)")
        elif team.aws_role_arn in {t.aws_role_arn for t in cfg.teams[:i]}:
            add((i, "awsRoleArn"), team.aws_role_arn,
                "another team has this role; EKS maps a role to one access entry per cluster")
        elif (team.aws_role_arn and cfg.sites.aws is not None
              and team.aws_role_arn.split(":")[4] != cfg.sites.aws.account_id):
            add((i, "awsRoleArn"), team.aws_role_arn,
                f"must be a role of the stack's account {cfg.sites.aws.account_id}")
        if "azure" in clouds and team.azure_group_object_id is None:
            add((i, "azureGroupObjectId"), _MISSING, "required when the team runs on AKS: the "
                "Entra group's object id (AKS knows groups by object id)")
        if "gcp" in clouds and team.google_group is None:
            add((i, "googleGroup"), _MISSING, "required when the team runs on GKE: the team's "
                "Google group e-mail (GKE knows groups only through Google Groups for RBAC)")
        for k, ref in enumerate(team.sites):
            if ref.startswith("gcp/") and ref in known:
                gke = cfg.kubernetes.gcp.get(ref.split("/", 1)[1]) if cfg.kubernetes else None
                if gke is not None and gke.security_group is None:
                    add((i, "sites", k), ref, f"kubernetes.gcp.{ref.split('/', 1)[1]}.securityGroup "
                        "must be set first (Google Groups for RBAC), or the team's group binds nobody")
        if team.topics and not kafka_sites(cfg, team):
            add((i, "topics"), [t.name for t in team.topics],
                "none of the team's sites runs Kafka (services.kafka.clusters)")
        names: set[str] = set()
        for j, topic in enumerate(team.topics):
            full = team_topic(team.name, topic.name)
            if topic.name in names:
                add((i, "topics", j, "name"), topic.name, "topic names must be unique")
            names.add(topic.name)
            if full in config_topics:
                add((i, "topics", j, "name"), topic.name,
                    f"{full} is already a topic of services.kafka.topics")
    return out
