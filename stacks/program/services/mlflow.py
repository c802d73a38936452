"""Wire MLflow onto the clusters `services.mlflow` names: per cluster the site's PostgreSQL, the
site's artifact store reached by the cluster's workload identity, and a `TrackingServer`.

| site   | backend store                                  | artifacts (identity)                          |
|--------|------------------------------------------------|-----------------------------------------------|
| aws    | RDS in the region's private subnets            | S3 store (EKS Pod Identity)                   |
| gcp    | Cloud SQL on the VPC's Private Service Access  | GCS store (Workload Identity Federation)      |
| azure  | flexible server in the delegated subnet        | Blob store (Azure Workload Identity)          |
| onprem | CloudNativePG cluster in the MLflow namespace  | S3-compatible bucket (access key pair)        |

Exports `mlflow`: per cluster name its URL, database and artifact location (no secrets).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import network_plan
from components.aws import postgres as aws_postgres
from components.azure import postgres as azure_postgres
from components.gcp import postgres as gcp_postgres
from components.kubernetes.mlflow import (
    APP_LABELS,
    SERVICE_ACCOUNT,
    ArtifactTarget,
    DatabaseConnection,
    OidcAuth,
    TrackingServer,
    TrackingServerArgs,
)
from components.kubernetes.mlflow_auth import TeamGrant
from components.kubernetes.postgres_onprem import (
    CLUSTER_LABEL,
    OnPremPostgres,
    OnPremPostgresArgs,
)
from components.tags import StandardTags
from stacks.config.mlflow import Mlflow
from stacks.config.platform import PROJECT, PlatformConfig
from stacks.config.teams import team_namespace
from stacks.plan.clusters import ONPREM
from stacks.plan.mlflow import ONPREM_INSTANCES
from stacks.program.clusters import Cluster
from stacks.program.services.context import (
    Built,
    MlflowBuilt,
    ServiceContext,
    cnpg_operator,
    monitoring_crds,
)
from stacks.program.stores import StoreSite, grant_store_access

#: Stack output: per cluster name the MLflow URL, database kind/host and artifact URI.
OUTPUT = "mlflow"
#: Logical database name and login in every backend store.
DATABASE = "mlflow"
#: Object key prefix of MLflow's artifacts in every store; access grants stop at it.
ARTIFACT_PREFIX = "mlflow"
#: Private ranges used when the on-prem pod ranges are not in the config (no `network.onprem`).
_RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
_SERVICE = {"aws": "rds", "gcp": "cloud-sql", "azure": "azure-flexible-server", ONPREM: "cloudnative-pg"}


def _region_cidr(cfg: PlatformConfig, site: str, region: str) -> str:
    assert cfg.network is not None
    return str(getattr(cfg.network, site)[region].cidr)


def _pod_cidrs(cfg: PlatformConfig, cluster: Cluster) -> tuple[str, ...]:
    """Where the cluster's pod IPs come from (Prometheus scrapes pods by IP). On-prem the pod
    range is not in the config: the site's ranges stand in, and the server always admits
    MLflow's own private-range patterns besides (`MLFLOW_PRIVATE_HOST_PATTERNS`), so scrapes
    by pod IP pass wherever in RFC 1918 the pods are."""
    site, region = cluster.plan.site, cluster.plan.region
    if site == "aws" or site == "gcp":  # VPC CNI: VPC addresses; GKE: the region's pods range
        return (_region_cidr(cfg, site, region),)
    if site == "azure":  # Azure CNI overlay
        assert cfg.kubernetes is not None
        return (str(cfg.kubernetes.azure[region].pod_cidr),)
    net = cfg.network.onprem if cfg.network else None
    return tuple(str(c) for c in net.cidrs) if net else _RFC1918


def _database(ctx: ServiceContext, built: Built, m: Mlflow, cluster: Cluster, tags: StandardTags,
              name: str, operators: dict[str, pulumi.Resource]) -> tuple[Any, dict[str, Any]]:
    """The cluster's backend-store database component and where it lives, for the server's
    egress policy: `{"cidrs": ranges}` or, in the server's namespace, `{"pod_labels": ...}`."""
    cfg, p = ctx.cfg, ctx.providers
    site, region = cluster.plan.site, cluster.plan.region
    common = {"name": DATABASE, "prefix": cfg.prefix, "tags": tags, "protect": cfg.protect,
              "high_availability": m.high_availability(cfg.environment),
              "backup_retention_days": m.backup_retention_days(cfg.environment),
              "storage_gb": m.database.storage_gb, "database": DATABASE, "username": DATABASE}
    if site == "aws":
        vpc, cidr = ctx.networks.aws[region], _region_cidr(cfg, site, region)
        assert cfg.sites.aws is not None
        db = aws_postgres.PostgresDatabase(name, aws_postgres.PostgresDatabaseArgs(
            **common, region=region, account_id=cfg.sites.aws.account_id, vpc_id=vpc.vpc_id,
            subnet_ids=vpc.private_subnet_ids, client_cidrs=(cidr,),
        ), pulumi.ResourceOptions(providers=[p.aws[region], p.random]))
        assert cfg.network is not None
        return db, {"cidrs": tuple(network_plan.aws_layout(cidr, cfg.network.aws[region].zones)["private"])}
    if site == "gcp":
        net = ctx.networks.gcp
        assert net is not None and cfg.sites.gcp is not None
        # Cloud SQL's private IP comes from the region's own Private Service Access range (named
        # explicitly: otherwise Google picks any range of the peering, e.g. another region's,
        # and the egress rule below would not match).
        db = gcp_postgres.PostgresDatabase(name, gcp_postgres.PostgresDatabaseArgs(
            **common, project=cfg.sites.gcp.project, project_number=cfg.sites.gcp.project_number,
            region=region, network_id=net.network_id,
            allocated_ip_range=net.private_services_range_names[region],
        ), pulumi.ResourceOptions(providers=[p.gcp[region], p.random],
                                  depends_on=[net.private_services_connection,
                                              *net.api_services]))
        return db, {"cidrs": (net.private_services_ranges[region],)}
    if site == "azure":
        vnet = ctx.networks.azure[region]
        assert cfg.sites.azure is not None
        db = azure_postgres.PostgresDatabase(name, azure_postgres.PostgresDatabaseArgs(
            **common, subscription_id=cfg.sites.azure.subscription_id,
            tenant_id=cfg.sites.azure.tenant_id, location=region,
            resource_group_name=vnet.resource_group_name,
            delegated_subnet_id=vnet.subnet_ids["postgres"], vnet_id=vnet.vnet_id,
        ), pulumi.ResourceOptions(providers=[p.azure[region], p.random]))
        return db, {"cidrs": (network_plan.azure_layout(_region_cidr(cfg, site, region))["postgres"],)}


    operator = cnpg_operator(built, cluster, tags, operators)
    ha = m.high_availability(cfg.environment)
    onprem_net = cfg.network.onprem if cfg.network else None
    assert m.onprem is not None
    extra: dict[str, Any] = {}
    if onprem_net is not None:  # where the API server is: the on-prem ranges, not all of RFC 1918
        extra["api_server_cidrs"] = tuple(str(c) for c in onprem_net.cidrs)
    db = OnPremPostgres(name, OnPremPostgresArgs(
        **common, namespace=m.namespace, instances=ONPREM_INSTANCES[ha],
        storage_size=f"{m.database.storage_gb}Gi", operator=operator,
        volume_snapshot_class=m.onprem.volume_snapshot_class,
        monitoring_crds=monitoring_crds(built, ONPREM), client_pod_labels=dict(APP_LABELS),
        **extra,
    ), pulumi.ResourceOptions(providers=[cluster.provider, p.random],
                              depends_on=[cluster.addons.namespaces[m.namespace]]))
    # CloudNativePG labels every pod of the cluster with its name.
    return db, {"pod_labels": {CLUSTER_LABEL: db.cluster_name}}


def _artifacts(ctx: ServiceContext, m: Mlflow, cluster: Cluster, tags: StandardTags,
               name: str) -> tuple[ArtifactTarget, Any]:
    """Where the server keeps artifacts, and the workload identity grant (None on-prem)."""
    cfg, p = ctx.cfg, ctx.providers
    site, region = cluster.plan.site, cluster.plan.region
    if site == ONPREM:
        assert m.onprem is not None
        a = m.onprem.artifacts
        conf = pulumi.Config(PROJECT)
        return ArtifactTarget(
            kind="s3-compatible", bucket=a.bucket, prefix=ARTIFACT_PREFIX, region=a.region,
            endpoint_url=a.endpoint_url, endpoint_cidrs=tuple(str(c) for c in a.endpoint_cidrs),
            access_key_id=conf.require_secret(a.access_key_id_key),
            secret_access_key=conf.require_secret(a.secret_access_key_key),
            ca_certificate=a.ca_certificate,
        ), None
    assert m.artifact_store is not None
    store = ctx.stores[(m.artifact_store, site, region)]
    access = grant_store_access(StoreSite(cfg, p, ctx.networks, {}), name, cluster, store,
                                m.namespace, SERVICE_ACCOUNT, f"{ARTIFACT_PREFIX}/", tags)
    if site == "aws":
        return ArtifactTarget(kind="s3", bucket=store.bucket_name, prefix=ARTIFACT_PREFIX,
                              region=region), access
    if site == "gcp":
        return ArtifactTarget(kind="gcs", bucket=store.bucket_name, prefix=ARTIFACT_PREFIX), access
    # The storage account refuses public network access, so it is reachable only through a
    # private endpoint, which belongs in the VNet's private-endpoint subnet: allow 443 there.
    endpoints = network_plan.azure_layout(_region_cidr(cfg, site, region))["endpoints"]
    return ArtifactTarget(kind="azure-blob", bucket=store.container_name,
                          account_name=store.account_name, prefix=ARTIFACT_PREFIX,
                          private_endpoint_cidrs=(endpoints,)), access


def build_mlflow(ctx: ServiceContext, built: Built) -> MlflowBuilt:
    """Create the MLflow service on every configured cluster; export its stack output."""
    cfg = ctx.cfg
    m = cfg.services.mlflow
    assert m is not None and cfg.kubernetes is not None
    result = MlflowBuilt(urls={}, gateway_urls={})
    if not m.clusters:
        return result
    client_secret = pulumi.Config(PROJECT).require_secret(m.oidc.client_secret_key)
    o = m.oidc
    oidc = OidcAuth(issuer_url=o.issuer_url, client_id=o.client_id,
                    client_secret=client_secret, scopes=tuple(o.scopes),
                    jwks_uri=o.jwks_uri, token_issuer=o.token_issuer,
                    audiences=tuple(o.audiences), admin_groups=tuple(o.admin_groups),
                    username_claim=o.username_claim, group_claims=tuple(o.group_claims),
                    idp_cidrs=tuple(str(c) for c in o.idp_cidrs))
    store_cfg = next((s for s in cfg.storage.stores if s.name == m.artifact_store), None)
    classification = cfg.store_classification(store_cfg) if store_cfg else None
    tags = ctx.tags.with_classification(classification) if classification else ctx.tags
    summary: dict[str, Any] = {}
    for ref in m.clusters:
        cluster = ctx.clusters[ref]
        site, cname = cluster.plan.site, cluster.plan.name
        db, db_place = _database(ctx, built, m, cluster, tags, f"mlflow-db-{cname}",
                                 result.cnpg_operators)
        artifacts, access = _artifacts(ctx, m, cluster, tags, f"mlflow-store-access-{cname}")
        wait = [cluster.addons.namespaces[m.namespace], cluster.addons.releases["envoy-gateway"], db]
        if access is not None:
            wait.append(access)
        server = TrackingServer(f"mlflow-{cname}", TrackingServerArgs(
            cluster_name=cname, base_domain=cfg.kubernetes.base_domain, site=site,
            namespace=m.namespace, replicas=m.replicas, workers=m.workers,
            database=DatabaseConnection(host=db.host, port=db.port, database=db.database,
                                        username=db.username, password=db.password,
                                        sslmode=db.sslmode, **db_place),
            artifacts=artifacts, oidc=oidc,
            teams=tuple(TeamGrant(workspace=team_namespace(t.name), groups=t.idp_groups,
                                  permission=t.mlflow_permission,
                                  description=f"{t.name}: {t.owner} ({t.cost_center})")
                        for t in cfg.teams if ref in t.sites),
            service_account_annotations=dict(access.service_account_annotations) if access else {},
            pod_labels=dict(access.pod_labels) if access else {},
            pod_cidrs=_pod_cidrs(cfg, cluster),
            client_namespaces=tuple(m.client_namespaces),
            zone_spread="preferred" if site == ONPREM else "required",
            monitoring_crds=monitoring_crds(built, ref),
            wait_for=tuple(wait), tags=tags,
        ), pulumi.ResourceOptions(providers=[cluster.provider, ctx.providers.random]))
        result.urls[ref] = server.internal_url
        result.gateway_urls[ref] = server.url
        summary[cname] = {
            "url": server.url,
            "database": {"engine": "postgresql", "service": _SERVICE[site], "host": db.host},
            "artifacts": server.artifacts_uri,
        }
    pulumi.export(OUTPUT, summary)
    return result
