"""`Airflow`: the official chart on one cluster, its Secrets and the DAGs' site table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.charts import pinned_release
from components.kubernetes.objects import GATEWAY_API, MONITORING_API, network_policy, object_labels
from components.kubernetes.pipelines.connections import GitSource, S3Logs, env_data, site_env_data
from components.kubernetes.pipelines.remote import task_cluster_role
from components.kubernetes.pipelines.values import (
    ENV_SECRET,
    METADATA_SECRET,
    SITES_CONFIGMAP,
    SITES_SECRET,
    airflow_values,
    http_route_spec,
    statsd_monitor_spec,
)
from components.tags import StandardTags

#: The module the DAGs import (mounted next to sites.json).
SITES_MODULE = Path(__file__).with_name("hybridml_sites.py")


@dataclass(frozen=True)
class MetadataDatabase:
    """The site's managed PostgreSQL database Airflow keeps its metadata in (TLS required)."""

    host: Any
    port: Any
    database: str
    username: str
    password: Any
    sslmode: str = "require"


@dataclass(frozen=True)
class AirflowArgs:
    namespace: str
    database: MetadataDatabase
    bundles: tuple[Mapping[str, Any], ...]
    git_sources: tuple[GitSource, ...]
    client_secret: Any
    api_server_config: str
    site_table: Mapping[str, Any]
    #: `[fab] custom_roles`: the teams' roles (stacks.plan.pipelines.custom_roles).
    custom_roles: Mapping[str, Any]
    remote_log_folder: str
    remote_log_conn_id: str | None
    s3_logs: S3Logs | None
    tags: StandardTags
    #: Airflow's egress (components.kubernetes.pipelines.network.airflow_egress).
    egress: Mapping[str, Any] = field(default_factory=dict)
    #: The UI's hostname on the platform Gateway (`airflow.<cluster>.<baseDomain>`).
    hostname: str = ""
    #: The remote sites' connections by id (RemoteSiteAccess.connection).
    site_connections: Mapping[str, Any] = field(default_factory=dict)
    #: The monitoring CRDs on this cluster (None: no ServiceMonitor).
    monitoring_crds: pulumi.Resource | None = None
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)
    wait_for: Sequence[pulumi.Resource] = ()


def metadata_connection(db: MetadataDatabase) -> pulumi.Output[str]:
    """`postgresql://user:password@host:port/db?sslmode=...` (password URL-encoded), secret."""
    return pulumi.Output.secret(pulumi.Output.all(db.host, db.port, db.password).apply(
        lambda v: f"postgresql://{quote(db.username, safe='')}:{quote(str(v[2]), safe='')}"
                  f"@{v[0]}:{v[1]}/{db.database}?sslmode={db.sslmode}"))


class Airflow(pulumi.ComponentResource):
    """Airflow 3 on one cluster: metadata and environment Secrets, the site table, the chart."""

    def __init__(self, name: str, args: AirflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hybridml:kubernetes:Airflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        labels = object_labels(args.tags)
        meta = lambda n: k8s.meta.v1.ObjectMetaArgs(name=n, namespace=args.namespace, labels=labels)  # noqa: E731
        metadata = k8s.core.v1.Secret(f"{name}-metadata", metadata=meta(METADATA_SECRET),
                                      string_data={"connection": metadata_connection(args.database)},
                                      opts=child)
        env = env_data(args.client_secret, args.git_sources, args.s3_logs)
        site_env = site_env_data(args.site_connections)
        secrets = [k8s.core.v1.Secret(f"{name}-site-connections", metadata=meta(SITES_SECRET),
                                      string_data=dict(site_env), opts=child)] if site_env else []
        task_cluster_role(f"{name}-task-role", args.tags, pulumi.ResourceOptions(parent=self))
        env_secret = k8s.core.v1.Secret(f"{name}-env", metadata=meta(ENV_SECRET),
                                        string_data=dict(env), opts=child)
        sites = k8s.core.v1.ConfigMap(f"{name}-sites", metadata=meta(SITES_CONFIGMAP), data={
            "hybridml_sites.py": SITES_MODULE.read_text(),
            "sites.json": json.dumps(dict(args.site_table), indent=2, sort_keys=True),
        }, opts=child)
        egress = network_policy(f"{name}-egress", "airflow-egress", args.namespace, args.tags,
                                dict(args.egress), parent=self, depends_on=list(args.wait_for))
        values = airflow_values(
            namespace=args.namespace, bundles=args.bundles,
            remote_log_folder=args.remote_log_folder, remote_log_conn_id=args.remote_log_conn_id,
            api_server_config=args.api_server_config, env_secret_keys=sorted(env),
            service_account_annotations=args.service_account_annotations, labels=labels,
            custom_roles=args.custom_roles, base_url=f"https://{args.hostname}",
            site_secret_keys=sorted(site_env))
        self.release = pinned_release(f"{name}-release", "airflow", args.namespace, values,
                                      parent=self, depends_on=[metadata, env_secret, *secrets, sites, egress,
                                                                  *args.wait_for])
        k8s.apiextensions.CustomResource(
            f"{name}-route", api_version=GATEWAY_API, kind="HTTPRoute", metadata=meta("airflow"),
            spec=http_route_spec(args.hostname),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]))
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-statsd-monitor", api_version=MONITORING_API, kind="ServiceMonitor",
                metadata=meta("airflow-statsd"), spec=statsd_monitor_spec(args.namespace),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release, args.monitoring_crds]))
        self.url = f"https://{args.hostname}"
        self.values = values
        self.register_outputs({"release": self.release})
