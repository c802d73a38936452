"""Wire Airflow 3 onto the clusters `services.pipelines` names (on-prem in this version):
per cluster a CloudNativePG metadata database (TLS), the on-prem log bucket, and `Airflow`
with one GitDagBundle per team whose deploy key comes from its secret config key.

Exports `pipelines`: per cluster name the database host, log folder, the teams' bundles and
where each team's tasks may run (no secrets).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pulumi

from components.kubernetes.pipelines import (
    LOG_CONNECTION,
    Airflow,
    AirflowArgs,
    GitSource,
    MetadataDatabase,
    S3Logs,
)
from components.kubernetes.pipelines.network import airflow_egress
from components.kubernetes.pipelines.remote import RemoteSiteAccess
from components.kubernetes.pipelines.webserver_config import api_server_config
from components.kubernetes.postgres_onprem import (
    DEFAULT_API_SERVER_CIDRS,
    DEFAULT_API_SERVER_PORTS,
    OnPremPostgres,
    OnPremPostgresArgs,
)
from stacks.config.pipelines import Pipelines
from stacks.config.platform import PROJECT
from stacks.plan import pipelines as plan
from stacks.plan.clusters import ONPREM
from stacks.plan.mlflow import ONPREM_INSTANCES
from stacks.program.clusters import Cluster
from stacks.program.services.context import Built, ServiceContext, cnpg_operator, monitoring_crds

OUTPUT = "pipelines"
#: Logical database name and login of the metadata database.
DATABASE = "airflow"
#: The pods that reach the database (the chart's Airflow components all carry it).
AIRFLOW_POD_LABELS = {"release": "airflow"}


def _database(ctx: ServiceContext, built: Built, p: Pipelines, cluster: Cluster,
              tags: Any, operators: dict[str, pulumi.Resource]) -> OnPremPostgres:
    cfg = ctx.cfg
    ha = p.high_availability(cfg.environment)
    extra: dict[str, Any] = {}
    onprem_net = cfg.network.onprem if cfg.network else None
    if onprem_net is not None:
        extra["api_server_cidrs"] = tuple(str(c) for c in onprem_net.cidrs)
    return OnPremPostgres(f"airflow-db-{cluster.plan.name}", OnPremPostgresArgs(
        name=DATABASE, prefix=cfg.prefix, tags=tags, protect=cfg.protect, high_availability=ha,
        backup_retention_days=p.backup_retention_days(cfg.environment),
        storage_gb=p.database.storage_gb, database=DATABASE, username=DATABASE,
        namespace=p.namespace, instances=ONPREM_INSTANCES[ha],
        storage_size=f"{p.database.storage_gb}Gi",
        operator=cnpg_operator(built, cluster, tags, operators),
        volume_snapshot_class=p.onprem.volume_snapshot_class if p.onprem else None,
        monitoring_crds=monitoring_crds(built, cluster.plan.ref),
        client_pod_labels=dict(AIRFLOW_POD_LABELS), **extra,
    ), pulumi.ResourceOptions(providers=[cluster.provider, ctx.providers.random],
                              depends_on=[cluster.addons.namespaces[p.namespace]]))


def _egress(ctx: ServiceContext, p: Pipelines) -> dict[str, Any]:
    """Airflow's egress: the on-prem API server, the cloud sites' ranges (their cluster APIs
    over the VPN) where the teams place tasks, the log bucket, the IdP, the git servers."""
    cfg = ctx.cfg
    onprem_net = cfg.network.onprem if cfg.network else None
    api = tuple(str(c) for c in onprem_net.cidrs) if onprem_net else DEFAULT_API_SERVER_CIDRS
    remote: list[str] = []
    for team in plan.pipeline_teams(cfg):
        for ref in plan.task_sites(cfg, team):
            site, _, region = ref.partition("/")
            net = getattr(cfg.network, site, None) if ref != ONPREM and cfg.network else None
            if net and region in net and str(net[region].cidr) not in remote:
                remote.append(str(net[region].cidr))
    assert p.onprem is not None
    logs = p.onprem.logs
    git_ports = [urlsplit(t.pipelines.dag_repo).port or 22 if t.pipelines.dag_repo.startswith("ssh://")
                 else 22 for t in plan.pipeline_teams(cfg) if t.pipelines] or [22]
    return airflow_egress(api_server_cidrs=api, api_server_ports=DEFAULT_API_SERVER_PORTS,
                          remote_site_cidrs=remote,
                          log_store_cidrs=[str(c) for c in logs.endpoint_cidrs],
                          log_store_port=urlsplit(logs.endpoint_url).port or 443,
                          git_cidrs=[str(c) for c in p.git_cidrs], git_ports=git_ports)


def _remote_sites(ctx: ServiceContext, home: str) -> dict[str, Any]:
    """Per remote cluster where some team places tasks: its connection id -> connection."""
    refs: list[str] = []
    for team in plan.pipeline_teams(ctx.cfg):
        refs += [r for r in plan.task_sites(ctx.cfg, team) if r != home and r not in refs]
    out: dict[str, Any] = {}
    for ref in refs:
        cluster = ctx.clusters[ref]
        access = RemoteSiteAccess(f"airflow-remote-{cluster.plan.name}", cluster.plan.name,
                                  cluster.cloud.kubeconfig, ctx.tags,
                                  pulumi.ResourceOptions(providers=[cluster.provider]))
        out[plan.connection_id(ref)] = access.connection
    return out


def build_pipelines(ctx: ServiceContext, built: Built) -> dict[str, Any]:
    """Create Airflow on every configured cluster; export its stack output."""
    cfg = ctx.cfg
    p = cfg.services.pipelines
    assert p is not None and cfg.kubernetes is not None
    conf = pulumi.Config(PROJECT)
    teams = plan.pipeline_teams(cfg)
    sources = tuple(GitSource(conn_id=plan.git_connection_id(t), repo_url=t.pipelines.dag_repo,
                              deploy_key=conf.require_secret(t.pipelines.deploy_key_key))
                    for t in teams if t.pipelines)
    config_text = api_server_config(issuer_url=p.oidc.issuer_url, client_id=p.oidc.client_id,
                                    group_claim=p.oidc.group_claim, mapping=plan.roles_mapping(cfg))
    summary: dict[str, Any] = {}
    airflows: dict[str, Airflow] = {}
    operators: dict[str, pulumi.Resource] = {}
    for ref in p.clusters:
        cluster = ctx.clusters[ref]
        cname = cluster.plan.name
        assert cluster.plan.site == ONPREM and p.onprem is not None  # checks refuse the rest
        logs = p.onprem.logs
        db = _database(ctx, built, p, cluster, ctx.tags, operators)
        airflow = Airflow(f"airflow-{cname}", AirflowArgs(
            namespace=p.namespace,
            database=MetadataDatabase(host=db.host, port=db.port, database=DATABASE,
                                      username=DATABASE, password=db.password, sslmode=db.sslmode),
            bundles=tuple(plan.dag_bundles(cfg)), git_sources=sources,
            client_secret=conf.require_secret(p.oidc.client_secret_key),
            api_server_config=config_text, site_table=plan.site_table(cfg, ref),
            custom_roles=plan.custom_roles(cfg), site_connections=_remote_sites(ctx, ref),
            remote_log_folder=f"s3://{logs.bucket}/{plan.LOG_PREFIX}",
            remote_log_conn_id=LOG_CONNECTION,
            s3_logs=S3Logs(endpoint_url=logs.endpoint_url, region=logs.region,
                           access_key_id=conf.require_secret(logs.access_key_id_key),
                           secret_access_key=conf.require_secret(logs.secret_access_key_key)),
            tags=ctx.tags, egress=_egress(ctx, p),
            hostname=f"airflow.{cname}.{cfg.kubernetes.base_domain}",
            monitoring_crds=monitoring_crds(built, ref),
            wait_for=(cluster.addons.namespaces[p.namespace], db),
        ), pulumi.ResourceOptions(providers=[cluster.provider]))
        airflows[ref] = airflow
        summary[cname] = {
            "url": airflow.url,
            "database": {"engine": "postgresql", "service": "cloudnative-pg", "host": db.host},
            "logs": f"s3://{logs.bucket}/{plan.LOG_PREFIX}",
            "bundles": [b["name"] for b in plan.dag_bundles(cfg)],
            "taskSites": {plan.team_role(t): plan.task_sites(cfg, t) for t in teams},
        }
    pulumi.export(OUTPUT, summary)
    return airflows
