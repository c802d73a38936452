"""Wire each team's environment onto the clusters it names (after the services it uses).

Per team: a `Team` component grouping everything it owns; on each of its clusters a
`TeamEnvironment`; on each cloud cluster's region a store `t-<name>` of its own (protected in
prod, tagged with the team's owner and cost centre) with a workload-identity grant for the
team's `workload` ServiceAccount; on every site with MLflow, a prefix `teams/<name>/` of that
site's MLflow store (through MLflow's artifact proxy); and, with monitoring, a `TeamFolder` in
the central Grafana. Stack output `teams`: where each team runs
and what it got (no secrets).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi

from components import network_plan
from components.aws.team_access import TeamClusterAccess, TeamClusterAccessArgs
from components.kubernetes.kafka import KafkaTopicSpec
from components.kubernetes.mlflow import IDENTITY_ENDPOINTS
from components.kubernetes.monitoring import NAMESPACE as MONITORING_NAMESPACE
from components.kubernetes.namespace import NamespaceQuota
from components.kubernetes.notebooks import TeamNotebookAccess, TeamNotebookAccessArgs
from components.kubernetes.pipelines.remote import bind_task_role
from components.kubernetes.team import (
    WORKLOAD_SERVICE_ACCOUNT,
    TeamEnvironment,
    TeamEnvironmentArgs,
    TeamFolder,
    TeamFolderArgs,
    TeamKafka,
)
from components.kubernetes.work_queues import (
    GpuShare,
    QueueQuota,
    TeamBurst,
    TeamQueue,
    TeamQueueArgs,
)
from components.tags import StandardTags
from components.team import Team as TeamComponent
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team, team_namespace, team_short_name, team_store, team_topic
from stacks.plan.clusters import ONPREM
from stacks.plan.kafka import site_ranges
from stacks.plan.namespaces import CPU_LIMIT_FACTOR, scaled
from stacks.plan.pipelines import task_sites
from stacks.plan.teams import kafka_sites, team_classification
from stacks.plan.work_queues import (
    borrowing_gpus,
    flavors_on,
    namespace_gpus,
    nominal_gpus,
    team_burst_sites,
)
from stacks.program.services.context import (
    Built,
    NotebooksBuilt,
    ServiceContext,
    kafka_cluster,
    mlflow_gateway_url,
)
from stacks.program.services.work_queues import WorkQueuesBuilt
from stacks.program.stores import StoreSite, build_store, grant_store_access, store_physical_name

#: Stack output: each team's clusters, namespace, stores and Kafka user.
TEAMS_OUTPUT = "teams"
#: Objects of a team's own store live under this prefix (the S3 grant is limited to it).
TEAM_PREFIX = "artifacts"


def team_tags(cfg: PlatformConfig, team: Team) -> StandardTags:
    """The platform's tags with the team as owner and cost centre, and its classification."""
    return replace(cfg.standard_tags(team_classification(cfg, team)), owner=team.owner,
                   cost_center=team.cost_center)


def _quota(team: Team, gpus: int) -> NamespaceQuota:
    q = team.quota
    return NamespaceQuota(requests_cpu=q.cpu, limits_cpu=scaled(q.cpu, CPU_LIMIT_FACTOR),
                          requests_memory=q.memory, limits_memory=q.memory,
                          requests_gpu=gpus, pods=q.pods, requests_storage=q.storage)


def _queue_quota(cfg: PlatformConfig, team: Team, ref: str) -> QueueQuota:
    return QueueQuota(cpu=team.quota.cpu, memory=team.quota.memory, gpus=tuple(
        GpuShare(flavor=f.name, nominal=nominal_gpus(team, f), borrowing=borrowing_gpus(team, f))
        for f in flavors_on(cfg, ref)))


def _team_queue(ctx: ServiceContext, queues: WorkQueuesBuilt, team: Team, ref: str,
                tags: StandardTags, environment: pulumi.Resource, parent: pulumi.Resource,
                ) -> dict[str, Any]:
    """The team's queues on a queued cluster; on the manager also its burst queue. Returns
    the team's `queues` output there (LocalQueue names, and where `burst` dispatches to)."""
    cfg = ctx.cfg
    cluster = ctx.clusters[ref]
    bursts = team_burst_sites(cfg, team)
    burst = None
    if ref == queues.manager and bursts:
        dispatched = [_queue_quota(cfg, team, w) for w in bursts]
        burst = TeamBurst(workers=tuple(queues.workers[w] for w in bursts), quota=QueueQuota(
            cpu=scaled(team.quota.cpu, len(bursts)), memory=scaled(team.quota.memory, len(bursts)),
            gpus=tuple(s for q in dispatched for s in q.gpus)))
    TeamQueue(f"team-{team.name}-{cluster.plan.name}-queue", TeamQueueArgs(
        team=team.name, namespace=team_namespace(team.name), tags=tags,
        quota=_queue_quota(cfg, team, ref), receives_bursts=ref in bursts, burst=burst,
        wait_for=(queues.clusters[ref], environment),
    ), pulumi.ResourceOptions(parent=parent, providers=[cluster.provider]))
    local = ["default", *(["burst"] if ref in bursts or burst is not None else [])]
    return {"localQueues": local, "clusterQueue": f"team-{team.name}",
            "burstTo": [queues.workers[w] for w in bursts] if burst is not None else []}


def _cloud_storage(ctx: ServiceContext, where: StoreSite, team: Team, ref: str,
                   tags: StandardTags, parent: pulumi.Resource,
                   ) -> tuple[dict[str, Any], pulumi.Output[str]]:
    """The team's own store in the cluster's region and its workload-identity grant: the
    TeamEnvironment arguments that go with them, and the store's physical name."""
    cfg = ctx.cfg
    cluster = ctx.clusters[ref]
    site, region = cluster.plan.site, cluster.plan.region
    store = build_store(where, team_store(team.name), site, region, tags, parent)
    # Its IAM role is autonamed from this (64 characters at most): the short name.
    access = grant_store_access(where, f"team-{team_short_name(team.name)}-{site}-{region}-access",
                                cluster, store, team_namespace(team.name), WORKLOAD_SERVICE_ACCOUNT,
                                f"{TEAM_PREFIX}/", tags, parent)
    cidrs: tuple[str, ...] = ()
    if site == "aws":
        root = pulumi.Output.concat("s3://", store.bucket_name, f"/{TEAM_PREFIX}/")
    elif site == "gcp":
        root = pulumi.Output.concat("gs://", store.bucket_name, f"/{TEAM_PREFIX}/")
    else:
        root = pulumi.Output.concat("wasbs://", store.container_name, "@", store.account_name,
                                    f".blob.core.windows.net/{TEAM_PREFIX}/")
        # The account refuses public access: only its private endpoint's subnet, on 443.
        cidrs = (network_plan.azure_layout(str(getattr(cfg.network, site)[region].cidr))
                 ["endpoints"],)
    return {"store_uri": root, "store_private_cidrs": cidrs,
            "identity_endpoints": IDENTITY_ENDPOINTS[site],
            "service_account_annotations": dict(access.service_account_annotations),
            # An EKS pod reaches the Gateway's internal NLB by its VPC address (no in-cluster
            # translation of a load balancer known by hostname).
            "gateway_lb_cidrs": tuple(site_ranges(cfg, ref)) if site == "aws" else ()}, \
        store_physical_name(site, store)


def _kafka(ctx: ServiceContext, built: Built, team: Team, ref: str) -> TeamKafka | None:
    cfg = ctx.cfg
    kafka_cfg = cfg.services.kafka
    if ref not in kafka_sites(cfg, team):
        return None
    cluster = kafka_cluster(built, ref)
    topics = tuple(KafkaTopicSpec(name=team_topic(team.name, t.name), partitions=t.partitions,
                                  retention_ms=t.retention_hours * 3_600_000)
                   for t in team.topics)
    return TeamKafka(kafka_name=cluster.kafka_name, namespace=kafka_cfg.namespace,
                     bootstrap=cluster.bootstrap_internal,
                     cluster_ca_cert_pem=cluster.cluster_ca_cert_pem,
                     clients_ca_cert_pem=cluster.clients_ca_cert_pem,
                     clients_ca_key_pem=cluster.clients_ca_key_pem, topics=topics,
                     protect=cfg.protect, wait_for=(cluster,))


def build_teams(ctx: ServiceContext, built: Built, where: StoreSite) -> None:
    """Every team of the config on every cluster it names; export the `teams` output."""
    cfg = ctx.cfg
    queues: WorkQueuesBuilt | None = built.get("work_queues")
    output: dict[str, Any] = {}
    for team in cfg.teams:
        tags = team_tags(cfg, team)
        group = TeamComponent(f"team-{team.name}", None)
        placed: dict[str, Any] = {}
        for ref in team.sites:
            cluster = ctx.clusters[ref]
            storage: dict[str, Any] = {}
            store_name = None
            if ref != ONPREM:  # on-prem the program makes no buckets and holds no identity
                storage, store_name = _cloud_storage(ctx, where, team, ref, tags, group)
            if cluster.plan.site == "aws":
                TeamClusterAccess(f"team-{team.name}-{cluster.plan.name}-access",
                                  TeamClusterAccessArgs(
                                      cluster_name=cluster.cloud.cluster_name,
                                      role_arn=team.aws_role_arn, group=team.rbac_group,
                                      tags=tags),
                                  pulumi.ResourceOptions(parent=group, providers=[
                                      ctx.providers.aws[cluster.plan.region]]))
            kafka = _kafka(ctx, built, team, ref)
            mlflow = mlflow_gateway_url(built, ref)
            queued = queues is not None and ref in queues.clusters
            gpus = namespace_gpus(team, flavors_on(cfg, ref)) if queued else team.gpus
            environment = TeamEnvironment(f"team-{team.name}-{cluster.plan.name}", TeamEnvironmentArgs(
                team=team.name, namespace=team_namespace(team.name),
                group=team.group_on(cluster.plan.site),
                quota=_quota(team, gpus), tags=tags, mlflow_url=mlflow,
                mlflow_workspace=team_namespace(team.name) if mlflow else None, kafka=kafka,
                wait_for=tuple(cluster.addons.namespaces.values()), **storage,
            ), pulumi.ResourceOptions(parent=group, providers=[cluster.provider,
                                                                 ctx.providers.tls]))
            queue = _team_queue(ctx, queues, team, ref, tags, environment, group) \
                if queued else None
            pipelines = cfg.services.pipelines
            if team.pipelines is not None and pipelines is not None \
                    and ref in task_sites(cfg, team):
                # Airflow runs the team's task Jobs in its namespace: its worker there, or the
                # remote-site identity where the task is sent over the VPN.
                bind_task_role(f"team-{team.name}-{cluster.plan.name}-airflow-tasks",
                               team_namespace(team.name), ref not in pipelines.clusters, tags,
                               pulumi.ResourceOptions(parent=group, depends_on=[environment],
                                                      providers=[cluster.provider]))
            notebooks = cfg.services.notebooks
            hubs: NotebooksBuilt | None = built.get("notebooks")
            if team.notebooks and notebooks is not None and hubs is not None and ref in hubs.urls:
                TeamNotebookAccess(f"team-{team.name}-{cluster.plan.name}-notebooks",
                                   TeamNotebookAccessArgs(
                                       hub_namespace=notebooks.namespace,
                                       namespace=team_namespace(team.name), tags=tags,
                                       wait_for=(environment,)),
                                   pulumi.ResourceOptions(parent=group,
                                                          providers=[cluster.provider]))
            placed[cluster.plan.name] = {
                "cluster": ref, "namespace": team_namespace(team.name), "gpuQuota": gpus,
                "queues": queue,
                "store": store_name, "storeUri": storage.get("store_uri"),
                "mlflow": mlflow, "mlflowWorkspace": team_namespace(team.name) if mlflow else None,
                "kafkaUser": f"team-{team.name}" if kafka else None,
                "topics": [t.name for t in kafka.topics] if kafka else [],
            }
        monitoring = cfg.services.monitoring
        if monitoring is not None:
            central = ctx.clusters[monitoring.central]
            TeamFolder(f"team-{team.name}-grafana", TeamFolderArgs(
                team=team.name, namespace=team_namespace(team.name),
                monitoring_namespace=MONITORING_NAMESPACE, tags=tags,
                queues=queues is not None and any(r in queues.clusters for r in team.sites),
                notebooks=team.notebooks and cfg.services.notebooks is not None,
                pipelines=team.pipelines is not None and cfg.services.pipelines is not None,
            ), pulumi.ResourceOptions(parent=group, providers=[central.provider],
                                      depends_on=[central.addons.namespaces[MONITORING_NAMESPACE]]))
        output[team.name] = {"owner": team.owner, "costCenter": team.cost_center,
                             "group": team.rbac_group, "awsRoleArn": team.aws_role_arn,
                             "gpus": team.gpus,
                             "dataClassification": team_classification(cfg, team),
                             "grafanaFolder": f"Team {team.name}" if monitoring else None,
                             "clusters": placed}
    pulumi.export(TEAMS_OUTPUT, output)
