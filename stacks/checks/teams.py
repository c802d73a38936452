"""What `teams` means, checked: clusters, sites, GPU shares, quotas, Kafka prefixes and identities."""

from __future__ import annotations

from typing import Any

from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team, team_namespace, team_store, team_topic
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.teams import cluster_pools, gpu_capacity, kafka_sites, team_classification


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _prefix_problems(cfg: PlatformConfig, i: int, team: Team) -> list[ConfigProblem]:
    """The team's Kafka prefix `<name>-` (its ACLs) must cover nothing it does not own: no
    platform topic, no other team's prefix, nothing MirrorMaker copies between sites."""
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
    return [ConfigProblem(key_path(("teams", i, "name")), team.name,
                          f"its Kafka prefix {mine!r} overlaps {'; '.join(why)}; pick a name "
                          "whose prefix covers only the team's own topics and groups")]


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """Names, clusters, residency, GPUs and topics of every team, checked."""
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        out.append(ConfigProblem(key_path(("teams", *loc)), value, why))

    known = clusters_by_ref(cfg)
    res = cfg.residency
    platform_ns = {ns.name for ns in cfg.kubernetes.namespaces} if cfg.kubernetes else set()
    stores = {s.name for s in cfg.storage.stores}
    config_topics = {t.name for t in cfg.services.kafka.topics} if cfg.services.kafka else set()
    seen: set[str] = set()
    store_of: dict[str, str] = {}
    for i, team in enumerate(cfg.teams):
        if team.name in seen:
            add((i, "name"), team.name, "team names must be unique")
        seen.add(team.name)
        other = store_of.setdefault(team_store(team.name), team.name)
        if other != team.name:  # long names share a short form only by a hash collision
            add((i, "name"), team.name,
                f"its store {team_store(team.name)} (buckets, key rings and Azure accounts use "
                f"this short form of long names) is also team {other}'s; pick another name")
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
                capacity = gpu_capacity(cluster_pools(cfg, ref))
                if team.gpus > capacity:
                    add((i, "gpus"), team.gpus,
                        f"at most the {capacity} GPU(s) the pools of {ref} can offer"
                        + ("" if capacity else " (it has no GPU pool)"))
        out += _prefix_problems(cfg, i, team)
        clouds = {ref.split("/", 1)[0] for ref in team.sites if ref in known}
        if "aws" in clouds and team.aws_role_arn is None:
            add((i, "awsRoleArn"), MISSING, "required when the team runs on EKS: the IAM role "
                "its members assume (EKS maps it to the team's group by an access entry)")
        elif team.aws_role_arn and team.aws_role_arn in {t.aws_role_arn for t in cfg.teams[:i]}:
            add((i, "awsRoleArn"), team.aws_role_arn,
                "another team has this role; EKS maps a role to one access entry per cluster")
        elif (team.aws_role_arn and cfg.sites.aws is not None
              and team.aws_role_arn.split(":")[4] != cfg.sites.aws.account_id):
            add((i, "awsRoleArn"), team.aws_role_arn,
                f"must be a role of the stack's account {cfg.sites.aws.account_id}")
        if "azure" in clouds and team.azure_group_object_id is None:
            add((i, "azureGroupObjectId"), MISSING, "required when the team runs on AKS: the "
                "Entra group's object id (AKS knows groups by object id)")
        if "gcp" in clouds and team.google_group is None:
            add((i, "googleGroup"), MISSING, "required when the team runs on GKE: the team's "
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
