"""Wire JupyterHub onto the clusters `services.notebooks` names: per cluster a `NotebookHub`
serving the notebook teams whose sites include it, their servers in their namespaces. In prod
the hub's database is a CloudNativePG PostgreSQL in the hub's namespace (on-prem only: the
checks refuse cloud hubs in prod); elsewhere the chart's SQLite on a volume.

Exports `notebooks`: per cluster name the hub's URL and the teams it serves.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.notebooks import NotebookHub, NotebookHubArgs
from components.kubernetes.notebooks.names import HUB_POD_LABELS
from components.kubernetes.postgres_onprem import (
    OnPremPostgres,
    OnPremPostgresArgs,
)
from stacks.config.notebooks import Notebooks
from stacks.config.platform import PROJECT, PlatformConfig
from stacks.plan.clusters import ONPREM
from stacks.plan.mlflow import ONPREM_INSTANCES
from stacks.plan.notebooks import hostname, hub_settings, notebook_teams
from stacks.program.clusters import Cluster
from stacks.program.services.context import (
    Built,
    NotebooksBuilt,
    ServiceContext,
    cnpg_operator,
    monitoring_crds,
)

#: Stack output: per cluster name the hub's URL and teams.
OUTPUT = "notebooks"
#: Where the Kubernetes API may be when the config does not say (private endpoints).
_RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
#: Logical name, database and login of the hub's PostgreSQL.
DATABASE = "jupyterhub"


def _api_server_cidrs(cfg: PlatformConfig, cluster: Cluster) -> tuple[str, ...]:
    """On-prem the site's ranges (the API server is there); in the clouds the private ranges
    (the clusters' private API endpoints sit in the VPC/VNet)."""
    net = cfg.network.onprem if cfg.network else None
    if cluster.plan.site == ONPREM and net is not None:
        return tuple(str(c) for c in net.cidrs)
    return _RFC1918


def _database(ctx: ServiceContext, built: Built, n: Notebooks, cluster: Cluster,
              operators: dict[str, pulumi.Resource]) -> OnPremPostgres:
    """The hub's PostgreSQL in its namespace (TLS required; only the hub pods may connect)."""
    cfg = ctx.cfg
    assert cluster.plan.site == ONPREM  # checks refuse cloud hubs in prod
    ha = n.high_availability(cfg.environment)
    operator = cnpg_operator(built, cluster, ctx.tags, operators)
    return OnPremPostgres(f"notebooks-db-{cluster.plan.name}", OnPremPostgresArgs(
        name=DATABASE, prefix=cfg.prefix, tags=ctx.tags, protect=cfg.protect,
        high_availability=ha, backup_retention_days=n.backup_retention_days(cfg.environment),
        storage_gb=n.database.storage_gb, database=DATABASE, username=DATABASE,
        namespace=n.namespace, instances=ONPREM_INSTANCES[ha],
        storage_size=f"{n.database.storage_gb}Gi", operator=operator,
        volume_snapshot_class=n.database.volume_snapshot_class,
        monitoring_crds=monitoring_crds(built, cluster.plan.ref),
        client_pod_labels=dict(HUB_POD_LABELS), api_server_cidrs=_api_server_cidrs(cfg, cluster),
    ), pulumi.ResourceOptions(providers=[cluster.provider, ctx.providers.random],
                              depends_on=[cluster.addons.namespaces[n.namespace]]))


def build_notebooks(ctx: ServiceContext, built: Built) -> NotebooksBuilt:
    """Create the hub on every configured cluster; export its stack output."""
    cfg = ctx.cfg
    n = cfg.services.notebooks
    assert n is not None and cfg.kubernetes is not None
    client_secret = pulumi.Config(PROJECT).require_secret(n.oidc.client_secret_key)
    urls: dict[str, str] = {}
    operators: dict[str, pulumi.Resource] = {}
    summary: dict[str, Any] = {}
    for ref in n.clusters:
        cluster = ctx.clusters[ref]
        cname = cluster.plan.name
        teams = notebook_teams(cfg, ref)
        host = hostname(cname, cfg.kubernetes.base_domain)
        wait = [cluster.addons.namespaces[n.namespace], cluster.addons.releases["envoy-gateway"]]
        db = _database(ctx, built, n, cluster, operators) if n.managed_database(cfg.environment) else None
        hub = NotebookHub(f"notebooks-{cname}", NotebookHubArgs(
            namespace=n.namespace, hostname=host, settings=hub_settings(cfg, ref, cname),
            client_secret=client_secret,
            image=n.image, home_size=n.home_size, storage_class=STORAGE_CLASS,
            idle_timeout_seconds=n.idle_timeout_minutes * 60,
            max_age_seconds=n.max_age_hours * 3600,
            idp_cidrs=tuple(str(c) for c in n.oidc.idp_cidrs),
            api_server_cidrs=_api_server_cidrs(cfg, cluster),
            monitoring_crds=monitoring_crds(built, ref), database=db,
            wait_for=(*wait, *([db] if db else [])), tags=ctx.tags,
        ), pulumi.ResourceOptions(providers=[cluster.provider]))
        urls[ref] = f"https://{host}"
        summary[cname] = {"url": hub.url, "teams": [t.name for t in teams], "database": (
            {"engine": "postgresql", "service": "cloudnative-pg", "host": db.host} if db
            else {"engine": "sqlite", "service": "chart volume (sqlite-pvc)"})}
    pulumi.export(OUTPUT, summary)
    return NotebooksBuilt(urls=urls, cnpg_operators=operators)
