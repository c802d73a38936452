"""The TrackingServer component: its constructor names what it creates, in order; the functions
below create the resources from the pure builders of the package's other modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow import credentials, jobs, network, pods, routing
from components.kubernetes.mlflow.args import TrackingServerArgs
from components.kubernetes.mlflow.names import (
    APP,
    APP_LABELS,
    ARTIFACT_CREDENTIALS_SECRET,
    AUTH_SECRET,
    BACKEND_SECRET,
    CA_CONFIGMAP,
    OIDC_SECRET,
    PLUGIN_CONFIGMAP,
    SERVER_LABELS,
    SERVICE_ACCOUNT,
    TEAMS_CONFIGMAP,
    internal_url,
)
from components.kubernetes.objects import ENVOY_GATEWAY_API, GATEWAY_API, MONITORING_API, network_policy


class TrackingServer(pulumi.ComponentResource):
    """An MLflow tracking server in a platform namespace, reachable only through the Gateway.

    Creates: a ServiceAccount (workload identity annotations, no token automount); Secrets for
    the backend store URI, the OIDC client secret and (on-prem only) the S3 key pair; a Job
    migrating the schema (`mlflow db upgrade`, or MLflow's initial schema on an empty
    database) once per image version, before the servers start (two replicas migrating a
    fresh database at once would race); the Deployment (`replicas`, spread over zones and
    nodes, rolling with maxUnavailable 0, restricted security context, read-only root, probes
    on /health, Prometheus metrics, a preStop pause and a 10-minute grace period for
    in-flight transfers); a PodDisruptionBudget (minAvailable 1); the Service; an Envoy
    Gateway SecurityPolicy (OIDC for browsers, JWT bearer tokens from the same IdP for
    automation) and, only after it, the HTTPRoute on the `platform` Gateway for
    `mlflow.<cluster>.<domain>`: no request is ever routed without authentication; egress
    NetworkPolicies to the database, the object store and the identity endpoints only; a
    ServiceMonitor when monitoring is present.

    Guarantees: no secret in any pod spec, command line, Helm value or plain output; no static
    cloud keys on cloud sites (refused by the args); MLflow's host check admits the Gateway
    hostname, the Service names and private (pod) IPs only.
    """

    url: str
    internal_url: str
    hostname: str
    service_account_name: str
    namespace: str
    artifacts_uri: pulumi.Output[str]
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: TrackingServerArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:TrackingServer", name, None, opts)
        at = _Placement(self, args.namespace, pods.server_labels(args.tags), tuple(args.wait_for))
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=at.meta(SERVICE_ACCOUNT, annotations=dict(args.service_account_annotations)),
            # MLflow never calls the Kubernetes API; identity webhooks project their own tokens.
            automount_service_account_token=False,
            opts=at.opts(),
        )
        backend = _secret(f"{name}-backend-store", BACKEND_SECRET,
                          credentials.backend_secret_data(args.database), at)
        oidc_secret = _secret(f"{name}-oidc-client", OIDC_SECRET,
                              credentials.oidc_secret_data(args.oidc), at)
        auth = _team_auth(name, args, at)
        store_objects = _artifact_store_objects(name, args, at)
        db_egress = _policy(f"{name}-egress-database", f"{APP}-egress-database",
                            network.database_egress(args.database), args, at, APP_LABELS)
        migrate, workspaces = _jobs(name, args, at, auth, backend, db_egress)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=at.meta(APP),
            spec=pods.deployment_spec(args, args.artifacts.uri()),
            opts=at.opts(migrate, workspaces, account, backend,
                         auth.secret, auth.plugin, auth.teams, *store_objects),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=at.meta(APP), spec=pods.disruption_budget_spec(),
            opts=at.opts())
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=at.meta(APP), spec=routing.service_spec(), opts=at.opts())
        _gateway_route(name, args, at, oidc_secret, service)
        _server_network_policies(name, args, at)
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-service-monitor",
                api_version=MONITORING_API,
                kind="ServiceMonitor",
                metadata=at.meta(APP),
                spec=routing.service_monitor_spec(args.namespace),
                opts=at.opts(service, args.monitoring_crds),
            )

        self.hostname = args.hostname
        self.url = f"https://{args.hostname}"
        self.internal_url = internal_url(args.namespace)
        self.service_account_name = SERVICE_ACCOUNT
        self.namespace = args.namespace
        self.artifacts_uri = args.artifacts.uri()
        self.deployment = deployment
        self.register_outputs({
            "url": self.url,
            "internal_url": self.internal_url,
            "artifacts_uri": self.artifacts_uri,
        })


@dataclass(frozen=True)
class _Placement:
    """Where the server's children go: parent, namespace, labels, and what they wait for."""

    parent: pulumi.Resource
    namespace: str
    labels: dict[str, str]
    wait: tuple[pulumi.Resource, ...]

    def meta(self, obj_name: str, **more: Any) -> dict[str, Any]:
        return {"name": obj_name, "namespace": self.namespace, "labels": dict(self.labels), **more}

    def opts(self, *deps: pulumi.Resource, **more: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.parent, depends_on=[*self.wait, *deps], **more)


class _TeamAuth(NamedTuple):
    secret: k8s.core.v1.Secret
    plugin: k8s.core.v1.ConfigMap
    teams: k8s.core.v1.ConfigMap
    mapping: str


def _secret(resource_name: str, obj_name: str, data: dict[str, pulumi.Output[str]],
            at: _Placement) -> k8s.core.v1.Secret:
    return k8s.core.v1.Secret(resource_name, metadata=at.meta(obj_name), type="Opaque",
                              string_data=data, opts=at.opts())


def _policy(resource_name: str, obj_name: str, spec: dict[str, Any], args: TrackingServerArgs,
            at: _Placement,
            pod_labels: dict[str, str] | None = None) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy for the server's pods (`pod_labels`, default the replicas)."""
    return network_policy(resource_name, obj_name, args.namespace, args.tags, spec, at.parent,
                          list(at.wait),
                          pod_selector={"matchLabels": dict(pod_labels or SERVER_LABELS)})


def _team_auth(name: str, args: TrackingServerArgs, at: _Placement) -> _TeamAuth:
    """MLflow's own auth (components/kubernetes/mlflow_auth.py): whom each request is for and
    what their team may do, enforced by the server itself behind the Gateway's sign-on."""
    admin_password = random.RandomPassword(
        f"{name}-admin-password", length=32, special=False,
        opts=pulumi.ResourceOptions(parent=at.parent))
    csrf_key = random.RandomPassword(
        f"{name}-csrf-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=at.parent))
    secret = _secret(f"{name}-auth", AUTH_SECRET, credentials.auth_secret_data(
        args.database, admin_password.result, csrf_key.result), at)
    plugin = k8s.core.v1.ConfigMap(
        f"{name}-auth-plugin", metadata=at.meta(PLUGIN_CONFIGMAP),
        data={mlflow_auth.PLUGIN_FILE: mlflow_auth.plugin_source()}, opts=at.opts())
    mapping = mlflow_auth.teams_json(args.oidc.team_auth(), list(args.teams))
    teams = k8s.core.v1.ConfigMap(
        f"{name}-teams", metadata=at.meta(TEAMS_CONFIGMAP),
        data={mlflow_auth.MAPPING_FILE: mapping}, opts=at.opts())
    return _TeamAuth(secret, plugin, teams, mapping)


def _artifact_store_objects(name: str, args: TrackingServerArgs,
                            at: _Placement) -> list[pulumi.Resource]:
    """On-prem only (no workload identity there): the S3 key pair and the store's private CA."""
    a = args.artifacts
    if a.kind != "s3-compatible":
        return []
    made: list[pulumi.Resource] = [_secret(
        f"{name}-artifact-credentials", ARTIFACT_CREDENTIALS_SECRET,
        credentials.artifact_credentials_data(a), at)]
    if a.ca_certificate:
        made.append(k8s.core.v1.ConfigMap(
            f"{name}-object-store-ca", metadata=at.meta(CA_CONFIGMAP),
            data={"ca.crt": a.ca_certificate}, opts=at.opts()))
    return made


def _jobs(name: str, args: TrackingServerArgs, at: _Placement, auth: _TeamAuth,
          backend: pulumi.Resource,
          db_egress: pulumi.Resource) -> tuple[k8s.batch.v1.Job, k8s.batch.v1.Job]:
    """The schema migration, then the team workspaces (once, and hourly): both before the
    servers start (see components/kubernetes/mlflow/jobs.py)."""
    labels = jobs.job_labels(args.tags, "db-upgrade")
    migrate = k8s.batch.v1.Job(
        f"{name}-db-upgrade",
        metadata=jobs.job_metadata(jobs.migration_job_name(args.image), args.namespace, labels),
        spec=jobs.migration_job_spec(args.image, labels),
        # A Job's template is immutable; a new image version is a new Job name anyway.
        opts=at.opts(backend, db_egress, delete_before_replace=True),
    )
    # Team workspaces and roles, before the servers that grant them start: MLflow resolves
    # a request's workspace before any authorization, so one that does not exist yet fails
    # the request. A new mapping or plugin is a new Job (the hash is in its name).
    ws_labels = jobs.job_labels(args.tags, "workspaces")
    ws_pod = jobs.workspaces_pod_template(args.image, ws_labels)
    workspaces = k8s.batch.v1.Job(
        f"{name}-workspaces",
        metadata=jobs.job_metadata(jobs.workspaces_job_name(auth.mapping), args.namespace,
                                   ws_labels),
        spec=jobs.workspaces_job_spec(ws_pod),
        opts=at.opts(migrate, auth.secret, auth.plugin, auth.teams, delete_before_replace=True),
    )
    k8s.batch.v1.CronJob(
        f"{name}-workspaces-reconcile",
        metadata={"name": jobs.RECONCILE_CRONJOB, "namespace": args.namespace, "labels": ws_labels},
        spec=jobs.reconcile_cronjob_spec(ws_pod),
        opts=at.opts(workspaces),
    )
    return migrate, workspaces


def _gateway_route(name: str, args: TrackingServerArgs, at: _Placement,
                   oidc_secret: pulumi.Resource, service: pulumi.Resource) -> None:
    """The SecurityPolicy first, the HTTPRoute it targets only after it: Envoy Gateway accepts
    a policy whose route does not exist yet and applies it as the route appears, so the route
    is never served unauthenticated (not even for a moment on create or replace)."""
    policy = k8s.apiextensions.CustomResource(
        f"{name}-auth",
        api_version=ENVOY_GATEWAY_API,
        kind="SecurityPolicy",
        metadata=at.meta(APP),
        spec=routing.security_policy_spec(args.hostname, args.oidc),
        opts=at.opts(oidc_secret),
    )
    k8s.apiextensions.CustomResource(
        f"{name}-route",
        api_version=GATEWAY_API,
        kind="HTTPRoute",
        metadata=at.meta(APP),
        spec=routing.http_route_spec(args.hostname),
        opts=at.opts(service, policy),
    )


def _server_network_policies(name: str, args: TrackingServerArgs, at: _Placement) -> None:
    """Egress of the replicas to the object store, the IdP and the identity endpoints; ingress
    from the client namespaces (the database rule comes first, for the migration Job)."""
    _policy(f"{name}-egress-object-store", f"{APP}-egress-object-store",
            network.object_store_egress(args.artifacts), args, at)
    _policy(f"{name}-egress-idp", f"{APP}-egress-idp", network.idp_egress(args.oidc), args, at)
    identity = network.workload_identity_egress(args.site)
    if identity is not None:
        _policy(f"{name}-egress-workload-identity", f"{APP}-egress-workload-identity",
                identity, args, at)
    clients = network.client_ingress(args.client_namespaces)
    if clients is not None:
        _policy(f"{name}-ingress-clients", f"{APP}-ingress-clients", clients, args, at)
