"""JupyterHub for team notebooks: the Zero to JupyterHub chart in a platform namespace, its
per-team logic as a mounted module, and what each team namespace needs to host servers.

`NotebookHub` creates, in the hub's namespace: the Secret with the OIDC client secret (a Pulumi
secret, never in Helm values), with a `database` (prod) the Secret with its password (the hub
gets it as `PGPASSWORD`; its URL names no password, TLS required), the ConfigMap with the hub
module and its settings, the pinned chart (hub and proxy under restricted Pod Security, network
policies admitting only the Gateway, the team servers and Prometheus; the hub's egress only to
the IdP, the Kubernetes API, the servers and its database), the HTTPRoute on the platform
Gateway (TLS there) and a ServiceMonitor. In
each notebook team's namespace: a Role letting the hub run servers and home volumes there, and
the policies letting the proxy and hub reach the servers' port and the servers reach the hub.

The team namespaces themselves are made by the teams' program after the services (no
dependency can name them here); the Kubernetes provider retries creating an object whose
namespace does not exist yet, so the Role and policy land once `team-<name>` is there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.kubernetes import gateway
from components.kubernetes.charts import pinned_release
from components.kubernetes.notebooks import hybridml_hub
from components.kubernetes.notebooks.names import (
    APP,
    DB_SECRET,
    DB_SECRET_KEY,
    HUB_CONFIGMAP,
    HUB_POD_LABELS,
    HUB_PORT,
    HUB_SERVICE_ACCOUNT,
    NOTEBOOK_PORT,
    OIDC_SECRET,
    OIDC_SECRET_KEY,
    PROXY_POD_LABELS,
    SERVER_LABELS,
)
from components.kubernetes.notebooks.values import HubDatabase, chart_values, database_url
from components.kubernetes.objects import GATEWAY_API, MONITORING_API, in_namespace, object_labels
from components.kubernetes.postgres_onprem.cluster_args import CLUSTER_LABEL, POSTGRES_PORT
from components.tags import StandardTags

#: Source of the hub module, mounted into the hub as-is.
HUB_MODULE = Path(hybridml_hub.__file__).read_text(encoding="utf-8")
#: What the hub may do in a team namespace (KubeSpawner: servers, their home volumes, events).
HUB_RULES = (
    {"apiGroups": [""], "resources": ["pods"],
     "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"],
     "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
)


class NotebookHubArgs(BaseModel):
    """Where the hub runs and what it serves."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field(description="Platform namespace of the hub and proxy.")
    hostname: str = Field(description="Hostname at the platform Gateway (TLS there).")
    settings: dict[str, Any] = Field(description="What the hub module reads (plan.hub_settings).")
    client_secret: Any = Field(description="OIDC client secret (a Pulumi secret Output).")
    image: str = Field(description="Default notebook image (pinned).")
    home_size: str = Field(description="Home volume size.")
    storage_class: str = Field(description="StorageClass of the home volumes (encrypted).")
    idle_timeout_seconds: int = Field(gt=0, description="Idle servers are stopped after this.")
    max_age_seconds: int = Field(ge=0, description="Servers are stopped at this age (0: never).")
    idp_cidrs: tuple[str, ...] = Field(default=(), description="Private ranges of the IdP.")
    api_server_cidrs: tuple[str, ...] = Field(description="Where the Kubernetes API is.")
    monitoring_namespace: str = Field(default="monitoring", description="Prometheus' namespace.")
    monitoring_crds: Any = Field(default=None, description="Prometheus Operator CRDs (or None).")
    database: Any = Field(default=None, description=(
        "The hub's PostgreSQL in its namespace (an `OnPremPostgres`: host, port, database, "
        "username, password, sslmode, cluster_name); None: the chart's SQLite on a volume."))
    wait_for: tuple[Any, ...] = Field(default=(), description="Resources to create first.")
    tags: StandardTags


class NotebookHub(pulumi.ComponentResource):
    """The hub of one cluster (see the module docstring for what it guarantees)."""

    url: pulumi.Output[str]

    def __init__(self, name: str, args: NotebookHubArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hybridml:kubernetes:NotebookHub", name, None, opts)
        labels = object_labels(args.tags)

        def meta(obj: str, namespace: str | None = None) -> dict[str, Any]:
            return {"name": obj, "namespace": namespace or args.namespace, "labels": labels}

        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        secret = k8s.core.v1.Secret(
            f"{name}-oidc", metadata=meta(OIDC_SECRET), type="Opaque",
            string_data={OIDC_SECRET_KEY: pulumi.Output.secret(args.client_secret)}, opts=child)
        database = self._database(name, args, meta, child)
        config = k8s.core.v1.ConfigMap(
            f"{name}-hub-config", metadata=meta(HUB_CONFIGMAP),
            data={"hybridml_hub.py": HUB_MODULE,
                  hybridml_hub.SETTINGS_FILE: json.dumps(args.settings, indent=1, sort_keys=True)},
            opts=child)
        release = pinned_release(
            f"{name}-release", APP, args.namespace, chart_values(
                idle_timeout_seconds=args.idle_timeout_seconds,
                max_age_seconds=args.max_age_seconds, image=args.image,
                home_size=args.home_size, storage_class=args.storage_class,
                idp_cidrs=args.idp_cidrs, api_server_cidrs=args.api_server_cidrs,
                gateway_namespace=gateway.NAMESPACE,
                monitoring_namespace=args.monitoring_namespace, database=database),
            parent=self, depends_on=[*args.wait_for, secret, config,
                                     *([self._db_secret] if database else [])])
        k8s.apiextensions.CustomResource(
            f"{name}-route", api_version=GATEWAY_API, kind="HTTPRoute", metadata=meta(APP),
            spec=http_route_spec(args.hostname), opts=pulumi.ResourceOptions(
                parent=self, depends_on=[release]))
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-monitor", api_version=MONITORING_API, kind="ServiceMonitor",
                metadata=meta(APP), spec=service_monitor_spec(args.namespace),
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[release, args.monitoring_crds]))
        self.url = pulumi.Output.from_input(f"https://{args.hostname}")
        self.register_outputs({"url": self.url})

    def _database(self, name: str, args: NotebookHubArgs, meta: Any,
                  child: pulumi.ResourceOptions) -> HubDatabase | None:
        """With a database: the Secret with its password, and what the values say of it."""
        db = args.database
        if db is None:
            return None
        self._db_secret = k8s.core.v1.Secret(
            f"{name}-db", metadata=meta(DB_SECRET), type="Opaque",
            string_data={DB_SECRET_KEY: pulumi.Output.secret(db.password)}, opts=child)
        url = pulumi.Output.all(db.host, db.port).apply(lambda hp: database_url(
            username=db.username, host=hp[0], port=hp[1], database=db.database,
            sslmode=db.sslmode))
        return HubDatabase(url=url, pod_labels={CLUSTER_LABEL: db.cluster_name},
                           port=POSTGRES_PORT)


class TeamNotebookAccessArgs(BaseModel):
    """What a notebook team's namespace needs to host servers."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    hub_namespace: str = Field(description="Namespace of the hub and proxy.")
    namespace: str = Field(description="The team's namespace.")
    tags: StandardTags = Field(description="The team's tags, as labels.")
    wait_for: tuple[Any, ...] = Field(default=(), description="The team's environment "
                                                                "(its namespace) and the hub.")


class TeamNotebookAccess(pulumi.ComponentResource):
    """In a notebook team's namespace, made with the team after its namespace: the hub's Role
    (KubeSpawner: servers, their home volumes, events) bound to the hub's ServiceAccount, and
    the servers' network rules (the proxy and hub reach their port, they reach the hub)."""

    def __init__(self, name: str, args: TeamNotebookAccessArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hybridml:kubernetes:TeamNotebookAccess", name, None, opts)
        opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for))
        meta = {"name": "notebooks-hub", "namespace": args.namespace,
                "labels": object_labels(args.tags)}
        role = k8s.rbac.v1.Role(f"{name}-role", metadata=meta, rules=list(HUB_RULES),
                                opts=opts)
        k8s.rbac.v1.RoleBinding(
            f"{name}-binding", metadata=meta,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                      "name": "notebooks-hub"},
            subjects=[{"kind": "ServiceAccount", "name": HUB_SERVICE_ACCOUNT,
                       "namespace": args.hub_namespace}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.wait_for, role]))
        k8s.networking.v1.NetworkPolicy(
            f"{name}-servers", metadata={**meta, "name": "notebook-servers"},
            spec=server_policy_spec(args.hub_namespace), opts=opts)
        self.register_outputs({})


def server_policy_spec(hub_namespace: str) -> dict[str, Any]:
    """In a team namespace: the proxy and hub reach the servers' port; servers reach the hub."""
    hub_ns = in_namespace(hub_namespace)["namespaceSelector"]
    return {
        "podSelector": {"matchLabels": dict(SERVER_LABELS)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"namespaceSelector": hub_ns, "podSelector": {"matchLabels": dict(lbl)}}
                              for lbl in (PROXY_POD_LABELS, HUB_POD_LABELS)],
                     "ports": [{"protocol": "TCP", "port": NOTEBOOK_PORT}]}],
        "egress": [{"to": [{"namespaceSelector": hub_ns,
                            "podSelector": {"matchLabels": dict(HUB_POD_LABELS)}}],
                    "ports": [{"protocol": "TCP", "port": HUB_PORT}]}],
    }


def http_route_spec(hostname: str) -> dict[str, Any]:
    """`hostname` on the platform Gateway's https listener, to the proxy (websockets: no cut-off)."""
    return gateway.https_route_spec(hostname, "proxy-public", 80, request_timeout="0s")


def service_monitor_spec(namespace: str) -> dict[str, Any]:
    """Prometheus scrapes the hub's /hub/metrics every 30 s."""
    return {"selector": {"matchLabels": dict(HUB_POD_LABELS)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "hub", "path": "/hub/metrics", "interval": "30s"}]}
