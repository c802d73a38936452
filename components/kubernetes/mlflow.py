"""An MLflow tracking server on any cluster: PostgreSQL backend, proxied artifacts, SSO at the Gateway.

`TrackingServer` runs `mlflow server` with its backend store URI in a Secret, artifacts proxied
to the site's object store (`--serve-artifacts`: clients never hold storage credentials), and
exposes it only through the cluster's `platform` Gateway, where an Envoy Gateway
`SecurityPolicy` signs browsers in with OIDC and admits automation clients with a bearer JWT
from the same IdP. Storage is reached by the cluster's workload identity (EKS Pod Identity, GKE
Workload Identity Federation, Azure Workload Identity); only on-prem, where no such identity
exists, does it take an S3 access key pair (in a Secret, never in the pod spec).

Artifact size: with `--serve-artifacts` every upload and download passes through a server
worker, which spools the WHOLE file to a temporary file under `/tmp` before it is sent on
(`mlflow/server/handlers.py`: `_upload_artifact` and `_download_artifact` use `tempfile`).
`/tmp` is an emptyDir of `TMP_SIZE_LIMIT` (20Gi) per replica, shared by all its workers, so
the artifacts in flight through one replica at the same time must add up to less than that:
e.g. one artifact of up to ~19 GiB, or four concurrent transfers (the default 4 workers) of
up to ~4.5 GiB each. A replica that goes over is evicted by the kubelet (the transfers on it
fail and must be retried). Larger artifacts need a larger `TMP_SIZE_LIMIT` (and node disk),
not more workers.

Shutdown: a terminating replica first sleeps `PRE_STOP_SLEEP_SECONDS` (meanwhile its endpoint
leaves the Service and every Envoy proxy, so no new request reaches it), then the server stops
accepting and finishes its in-flight requests (uvicorn waits for them); the kubelet kills what
still runs `TERMINATION_GRACE_SECONDS` (10 minutes) after the start. The route allows a single
request up to an hour, so a transfer longer than the grace period can still be cut off by a
rollout or node drain and has to be retried by the client.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.inputs import StrInput
from components.kubernetes import gateway, mlflow_auth
from components.kubernetes.charts import image
from components.kubernetes.mlflow_auth import TeamAuthSettings, TeamGrant
from components.kubernetes.objects import in_namespace, network_policy, object_labels
from components.naming import DNS_LABEL
from components.tags import StandardTags

IntInput = int | pulumi.Output[int]
Site = Literal["aws", "gcp", "azure", "onprem"]

#: Name of every Kubernetes object of the server (Service, Deployment, ServiceAccount, ...).
APP = "mlflow"
#: The ServiceAccount the server runs as; workload identity grants are made to this one.
SERVICE_ACCOUNT = APP
PORT = 5000
#: Where `--expose-prometheus` keeps its multiprocess metric files (an emptyDir).
METRICS_DIR = "/mlflow-metrics"
#: Numeric non-root user: the official image has no user of its own (it runs as root).
RUN_AS_USER = 10001
#: Size of the `/tmp` emptyDir where proxied artifacts are spooled (see the module docstring).
TMP_SIZE_LIMIT = "20Gi"
#: Ephemeral storage of the server container: the request is what a replica typically uses
#: (scheduling), the limit covers a full `/tmp`, the metrics directory and the logs.
EPHEMERAL_STORAGE_REQUEST = "2Gi"
EPHEMERAL_STORAGE_LIMIT = "24Gi"
#: Seconds a terminating replica keeps serving before shutdown starts (its endpoint removal
#: has to reach every Envoy proxy first), and the whole grace period (in-flight transfers).
PRE_STOP_SLEEP_SECONDS = 15
TERMINATION_GRACE_SECONDS = 600
#: Labels of every pod of the server: the replicas and the migration Job. The database rules
#: (egress here, ingress on the on-prem CloudNativePG cluster) admit exactly these pods.
APP_LABELS = {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": APP}
#: The private-range Host patterns MLflow 3.x allows when `--allowed-hosts` is not given
#: (`mlflow/server/security_utils.py::get_private_ip_patterns`, IPv4 part). Giving
#: `--allowed-hosts` replaces MLflow's defaults, so they are named again: Prometheus scrapes
#: /metrics with the pod IP as Host, and on-prem the pod range is not in the config.
MLFLOW_PRIVATE_HOST_PATTERNS = ("10.*", *(f"172.{i}.*" for i in range(16, 32)), "192.168.*")
#: The migration Job: retries, the deadline of all its attempts together, and how long Pulumi
#: waits for it (longer than the deadline, so Pulumi reports the Job's own outcome). The wait is
#: the provider's `pulumi.com/timeoutSeconds` annotation, which pulumi-kubernetes applies to
#: create and update alike (the same as `customTimeouts` for Kubernetes objects).
JOB_BACKOFF_LIMIT = 6
#: When the workspace reconcile runs again (hourly, off the full hour).
RECONCILE_SCHEDULE = "17 * * * *"
JOB_DEADLINE_SECONDS = 1800
JOB_PULUMI_TIMEOUT_SECONDS = 2400
#: `mlflow db upgrade`, with the URI read from the environment inside Python: a URI on the
#: command line (even as a kubelet-expanded `$(VAR)`) puts the password into the process's
#: argv, readable in /proc/<pid>/cmdline and `ps` on the node. An empty database gets MLflow's
#: initial schema first, as `mlflow server` does (`_initialize_tables`): the first migration
#: alters tables only that schema creates, so a bare `mlflow db upgrade` failed on an empty
#: database (mlflow issues #2113 and #23751, fixed in the CLI only by PR #23752).
DB_UPGRADE_SCRIPT = """\
import os
import sqlalchemy
from mlflow.store.db import utils
engine = utils.create_sqlalchemy_engine_with_retry(os.environ["MLFLOW_BACKEND_STORE_URI"])
tables = [t for t in sqlalchemy.inspect(engine).get_table_names() if not t.startswith("alembic_")]
if tables:
    print("upgrading the MLflow schema", flush=True)
    utils._upgrade_db(engine)
else:
    print("empty database: creating the MLflow schema", flush=True)
    utils._initialize_tables(engine)
print("schema at revision", utils._get_schema_version(engine), flush=True)
# The auth app's tables (users, roles, grants) live in the same database, migrated here too:
# every worker of every replica would otherwise run the same migrations at once on first start.
from mlflow.server.auth.db import utils as auth_utils
auth_utils.migrate_if_needed(engine, "head")
print("auth schema migrated", flush=True)
"""
BACKEND_SECRET = f"{APP}-backend-store"
#: MLflow's own auth: its config file (names the database) with the admin password and CSRF
#: key, the authorization function's code, and the team mapping (components/kubernetes/mlflow_auth.py).
AUTH_SECRET = f"{APP}-auth"
PLUGIN_CONFIGMAP = f"{APP}-auth-plugin"
TEAMS_CONFIGMAP = f"{APP}-teams"
BACKEND_ENV = "MLFLOW_BACKEND_STORE_URI"
OIDC_SECRET = f"{APP}-oidc-client"
ARTIFACT_CREDENTIALS_SECRET = f"{APP}-artifact-credentials"
CA_CONFIGMAP = f"{APP}-object-store-ca"
#: Envoy Gateway's OIDC client secret key (`client-secret`, api/v1alpha1/oidc_types.go).
OIDC_SECRET_KEY = "client-secret"
_EG_API = "gateway.envoyproxy.io/v1alpha1"
_GW_API = "gateway.networking.k8s.io/v1"
#: Every range that is not the public internet: RFC 1918, CGNAT (AKS overlay pods) and
#: link-local (metadata and identity agents), cut out of the public-HTTPS egress rule.
NON_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
#: Workload identity endpoints pods must reach, per site (address, port):
#: EKS Pod Identity agent (link-local, port 80);
#: GKE metadata server: 169.254.169.254:80 (Dataplane V2) and 169.254.169.252:988 (GKE docs,
#: "Workload Identity Federation for GKE" with network policy). Azure exchanges its projected
#: token at login.microsoftonline.com, a public 443 destination.
IDENTITY_ENDPOINTS: dict[str, tuple[tuple[str, int], ...]] = {
    "aws": (("169.254.170.23/32", 80),),
    "gcp": (("169.254.169.254/32", 80), ("169.254.169.252/32", 988)),
    "azure": (),
    "onprem": (),
}
_ARTIFACT_KIND = {"aws": "s3", "gcp": "gcs", "azure": "azure-blob", "onprem": "s3-compatible"}
_DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_HTTPS = r"^https://[^\s/?#]+(/[^\s?#]*)?$"


class DatabaseConnection(BaseModel):
    """The PostgreSQL backend store (the outputs every Postgres component of the platform has)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    host: StrInput = Field(description="DNS name or IP clients connect to.")
    port: IntInput = Field(default=5432, description="PostgreSQL port.")
    database: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", description="Database name.")
    username: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", description="Login (the database owner).")
    password: StrInput = Field(description="Password: a Pulumi secret; goes only into a Kubernetes Secret.")
    sslmode: Literal["require", "verify-ca", "verify-full"] = Field(
        description="libpq sslmode; plain connections are never allowed.")
    cidrs: tuple[str, ...] = Field(
        default=(), description="Ranges the database lives in (egress is allowed there on `port`); "
        "empty for a database in the server's own namespace (then `pod_labels`).")
    pod_labels: dict[str, str] = Field(
        default_factory=dict, description="A database in the server's own namespace (on-prem "
        "CloudNativePG): labels of its pods, e.g. {'cnpg.io/cluster': 'mlflow-postgres'}; "
        "egress is allowed to exactly those pods.")
    policy_port: int = Field(default=5432, ge=1, le=65535,
                             description="Port the egress policy opens (the known value of `port`).")

    @field_validator("cidrs")
    @classmethod
    def _private(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            net = ipaddress.ip_network(cidr, strict=True)
            # Not globally routable (IANA): RFC 1918, and the shared space 100.64.0.0/10 the
            # platform's config may declare private (network.extraPrivateRanges).
            if net.is_global or net.prefixlen < 8:
                raise ValueError(f"database range {cidr} must be a private (non-public) range "
                                 "of /8 or smaller")
        return cidrs

    @model_validator(mode="after")
    def _one_place(self) -> DatabaseConnection:
        if bool(self.cidrs) == bool(self.pod_labels):
            raise ValueError("name the database either by its ranges (cidrs) or, in the "
                             "server's namespace, by the labels of its pods (pod_labels)")
        return self

    def peers(self) -> list[dict[str, Any]]:
        """NetworkPolicy peers of the database: its ranges, or its pods in the namespace."""
        if self.cidrs:
            return [{"ipBlock": {"cidr": c}} for c in self.cidrs]
        return [{"podSelector": {"matchLabels": dict(self.pod_labels)}}]


class ArtifactTarget(BaseModel):
    """Where the server keeps artifacts: the site's bucket/container, under `prefix`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kind: Literal["s3", "gcs", "azure-blob", "s3-compatible"] = Field(
        description="s3 (AWS), gcs (GCP), azure-blob (Azure), s3-compatible (on-prem).")
    bucket: StrInput = Field(description="Bucket name; for azure-blob the container name.")
    account_name: StrInput | None = Field(default=None, description="azure-blob: the storage account.")
    prefix: str = Field(default="mlflow", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
                        description="Key prefix of every artifact (workload identity grants can be limited to it).")
    region: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,32}$",
                               description="s3 / s3-compatible: region used for request signing.")
    endpoint_url: str | None = Field(default=None, pattern=_HTTPS,
                                     description="s3-compatible: the S3 API endpoint (https).")
    endpoint_cidrs: tuple[str, ...] = Field(
        default=(), description="s3-compatible: ranges the endpoint resolves to (egress is allowed there).")
    access_key_id: StrInput | None = Field(
        default=None, description="s3-compatible only: access key id (a secret; on-prem has no workload identity).")
    secret_access_key: StrInput | None = Field(
        default=None, description="s3-compatible only: secret access key (a Pulumi secret).")
    ca_certificate: str | None = Field(
        default=None, description="s3-compatible: PEM of a private CA that signed the endpoint.")
    private_endpoint_cidrs: tuple[str, ...] = Field(
        default=(), description="Cloud kinds: private ranges where the store has private "
        "endpoints (e.g. the VNet's private-endpoint subnet); egress there on 443 is allowed too.")

    @model_validator(mode="after")
    def _consistent(self) -> ArtifactTarget:
        problems = []
        for cidr in self.private_endpoint_cidrs:
            net = ipaddress.ip_network(cidr, strict=True)
            if net.is_global or net.prefixlen < 8:
                problems.append(f"private endpoint range {cidr} must be private and /8 or smaller")
        keys = self.access_key_id is not None or self.secret_access_key is not None
        if self.kind == "s3-compatible":
            if self.endpoint_url is None or not self.endpoint_cidrs:
                problems.append("s3-compatible needs endpoint_url and endpoint_cidrs")
            if self.access_key_id is None or self.secret_access_key is None:
                problems.append("s3-compatible needs access_key_id and secret_access_key")
            for cidr in self.endpoint_cidrs:
                if ipaddress.ip_network(cidr, strict=True).prefixlen < 8:
                    problems.append(f"endpoint range {cidr} is wider than /8")
        else:
            if keys:
                problems.append(f"{self.kind} is reached by workload identity; static keys are refused")
            if self.endpoint_url or self.endpoint_cidrs or self.ca_certificate:
                problems.append("endpoint_url, endpoint_cidrs and ca_certificate are for s3-compatible only")
        if self.kind == "s3-compatible" and self.private_endpoint_cidrs:
            problems.append("s3-compatible names its ranges in endpoint_cidrs")
        if (self.kind == "azure-blob") != (self.account_name is not None):
            problems.append("account_name is required for azure-blob and only for it")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def uri(self) -> pulumi.Output[str]:
        """The `--artifacts-destination` URI."""
        if self.kind == "gcs":
            return pulumi.Output.concat("gs://", self.bucket, "/", self.prefix)
        if self.kind == "azure-blob":
            assert self.account_name is not None
            return pulumi.Output.concat("wasbs://", self.bucket, "@", self.account_name,
                                        ".blob.core.windows.net/", self.prefix)
        return pulumi.Output.concat("s3://", self.bucket, "/", self.prefix)

    @property
    def endpoint_port(self) -> int:
        assert self.endpoint_url is not None
        return urlsplit(self.endpoint_url).port or 443


class OidcAuth(BaseModel):
    """Authentication at the Gateway: OIDC sign-in for browsers, bearer JWTs for automation."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    issuer_url: str = Field(pattern=_HTTPS, description="OIDC issuer (endpoints are discovered from it).")
    client_id: str = Field(min_length=1, description="OIDC client id of MLflow at the IdP.")
    client_secret: StrInput = Field(description="OIDC client secret: a Pulumi secret; goes only into a Secret.")
    scopes: tuple[str, ...] = Field(default=("openid", "profile", "email"), description="Sign-in scopes.")
    jwks_uri: str = Field(pattern=_HTTPS, description="JWKS of the IdP, to verify bearer tokens.")
    token_issuer: str | None = Field(default=None, pattern=_HTTPS,
                                     description="`iss` of bearer tokens; default issuer_url.")
    audiences: tuple[str, ...] = Field(min_length=1, max_length=8,
                                       description="Accepted `aud` of bearer tokens.")
    username_claim: str = Field(default="sub", min_length=1,
                                description="The claim naming the MLflow user.")
    group_claims: tuple[str, ...] = Field(default=("groups", "roles"), min_length=1,
                                          description="Claims listing the caller's groups.")
    admin_groups: tuple[str, ...] = Field(default=(), description="Groups of MLflow admins.")
    idp_cidrs: tuple[str, ...] = Field(
        default=(), description="Private ranges of the IdP (its JWKS), when it is not public.")

    def team_auth(self) -> TeamAuthSettings:
        return TeamAuthSettings(
            issuer=self.token_issuer or self.issuer_url, audiences=self.audiences,
            jwks_uri=self.jwks_uri, username_claim=self.username_claim,
            group_claims=self.group_claims, admin_groups=self.admin_groups)


class ContainerResources(BaseModel):
    """Requests and limits of the server container."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_cpu: str = Field(default="500m", description="CPU request.")
    request_memory: str = Field(default="1Gi", description="Memory request.")
    limit_cpu: str = Field(default="2", description="CPU limit.")
    limit_memory: str = Field(default="4Gi", description="Memory limit.")
    request_ephemeral_storage: str = Field(
        default=EPHEMERAL_STORAGE_REQUEST, description="Ephemeral storage request (node disk "
        "the scheduler reserves: typical `/tmp` use).")
    limit_ephemeral_storage: str = Field(
        default=EPHEMERAL_STORAGE_LIMIT, description="Ephemeral storage limit: at least the "
        "`/tmp` size limit plus metrics and logs (the kubelet evicts a pod above it).")

    def spec(self) -> dict[str, dict[str, str]]:
        return {"requests": {"cpu": self.request_cpu, "memory": self.request_memory,
                             "ephemeral-storage": self.request_ephemeral_storage},
                "limits": {"cpu": self.limit_cpu, "memory": self.limit_memory,
                           "ephemeral-storage": self.limit_ephemeral_storage}}


class TrackingServerArgs(BaseModel):
    """Arguments of a TrackingServer."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(pattern=DNS_LABEL, description="Cluster name (part of the hostname).")
    base_domain: str = Field(pattern=_DOMAIN, description="Platform DNS domain; the server is "
                             "`mlflow.<cluster_name>.<base_domain>` on the cluster's Gateway.")
    site: Site = Field(description="Where the cluster runs: decides the identity endpoints and the artifact kind.")
    namespace: str = Field(default="mlflow", pattern=DNS_LABEL,
                           description="Platform namespace (created by the cluster add-ons).")
    image: str = Field(default_factory=lambda: image("mlflow"),
                       description="Pinned MLflow image with PostgreSQL and cloud storage clients.")
    replicas: int = Field(default=2, ge=2, le=10, description="Server replicas (spread over zones and nodes).")
    workers: int = Field(default=4, ge=1, le=16, description="Worker processes per replica.")
    resources: ContainerResources = Field(default_factory=ContainerResources,
                                          description="Server container requests and limits.")
    database: DatabaseConnection = Field(description="The backend store.")
    artifacts: ArtifactTarget = Field(description="The artifact store of this site.")
    oidc: OidcAuth = Field(description="Gateway authentication, and whom MLflow's own auth trusts.")
    teams: tuple[TeamGrant, ...] = Field(
        default=(), description="Team workspaces and the groups that may use them; without a "
        "team or admin group a signed-in user may do nothing.")
    service_account_annotations: dict[str, StrInput] = Field(
        default_factory=dict, description="Workload identity annotations (StoreAccess outputs).")
    pod_labels: dict[str, str] = Field(default_factory=dict,
                                       description="Workload identity pod labels (StoreAccess outputs).")
    pod_cidrs: tuple[str, ...] = Field(
        min_length=1, description="The cluster's pod ranges: Prometheus scrapes pods by IP, so "
        "these IP Host headers pass MLflow's DNS-rebinding check (`--allowed-hosts`).")
    client_namespaces: tuple[str, ...] = Field(
        default=(), description="Namespaces whose pods may call the server directly on its "
        "Service (bypassing the Gateway's sign-on), e.g. in-cluster model serving.")
    zone_spread: Literal["required", "preferred"] = Field(
        default="required", description="required: replicas never share a zone while another "
        "has room (clouds); preferred: best effort (clusters without zone labels).")
    monitoring_crds: InstanceOf[pulumi.Resource] | None = Field(
        default=None, description="The Prometheus Operator CRDs of the cluster; set: a "
        "ServiceMonitor scrapes /metrics (and waits for the CRDs).")
    wait_for: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="What the objects wait for: the namespace, the Gateway API CRDs, "
        "the database and the workload identity grants (a pod created before its grant has no identity).")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")

    @field_validator("image")
    @classmethod
    def _pinned(cls, ref: str) -> str:
        tag = ref.rsplit("/", 1)[-1].partition(":")[2]
        if "@" not in ref and (not tag or tag == "latest"):
            raise ValueError(f"image {ref!r} is not pinned (tag or digest)")
        return ref

    @field_validator("pod_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            if ipaddress.ip_network(cidr, strict=True).prefixlen < 8:
                raise ValueError(f"pod range {cidr} is wider than /8")
        return cidrs

    @field_validator("client_namespaces")
    @classmethod
    def _namespaces(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in names if not re.match(DNS_LABEL, n)]
        if bad:
            raise ValueError(f"not namespace names: {bad}")
        return names

    @field_validator("teams")
    @classmethod
    def _unique_workspaces(cls, teams: tuple[TeamGrant, ...]) -> tuple[TeamGrant, ...]:
        names = [t.workspace for t in teams]
        if len(set(names)) != len(names):
            raise ValueError(f"team workspaces repeat: {sorted(names)}")
        return teams

    @model_validator(mode="after")
    def _site_matches(self) -> TrackingServerArgs:
        if self.artifacts.kind != _ARTIFACT_KIND[self.site]:
            raise ValueError(f"a {self.site} server keeps artifacts in {_ARTIFACT_KIND[self.site]}, "
                             f"not {self.artifacts.kind}")
        if len(self.hostname) > 253:
            raise ValueError(f"hostname {self.hostname!r} is longer than 253 characters")
        return self

    @property
    def hostname(self) -> str:
        return f"{APP}.{self.cluster_name}.{self.base_domain}"


def host_patterns(cidrs: Sequence[str]) -> list[str]:
    """`--allowed-hosts` wildcard patterns covering `cidrs`, widened to whole octets (10.64.0.0/18
    -> 10.64.*). MLflow matches every pattern with `fnmatch` against the whole Host header, so
    `10.64.*` also admits a name that starts with `10.64.`; MLflow's own defaults
    (`MLFLOW_PRIVATE_HOST_PATTERNS`) make the same trade. Such a request still has to reach a
    pod, which only the Gateway (behind its sign-on), the namespace's own pods, monitoring and
    the listed client namespaces can."""
    out: list[str] = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=True)
        octets = max(1, min(3, net.prefixlen // 8))
        head = ".".join(str(net.network_address).split(".")[:octets])
        out.append(f"{head}.*")
    return list(dict.fromkeys(out))


def backend_store_uri(db: DatabaseConnection) -> pulumi.Output[str]:
    """`postgresql+psycopg2://user:password@host:port/db?sslmode=...`, the password URL-encoded;
    a Pulumi secret."""
    uri = pulumi.Output.all(db.host, db.port, db.password).apply(
        lambda v: f"postgresql+psycopg2://{quote(db.username, safe='')}:{quote(str(v[2]), safe='')}"
                  f"@{v[0]}:{v[1]}/{db.database}?sslmode={db.sslmode}")
    return pulumi.Output.secret(uri)


def _plain_env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _version_slug(ref: str) -> str:
    tag = ref.rsplit("/", 1)[-1].partition(":")[2].partition("@")[0] or "digest"
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[:40]


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

    def __init__(self, name: str, args: TrackingServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:TrackingServer", name, None, opts)
        ns = args.namespace
        tags = args.tags
        wait = list(args.wait_for)
        app_labels = dict(APP_LABELS)
        server_labels = {**app_labels, "app.kubernetes.io/component": "server"}
        labels = {**object_labels(tags), **server_labels}

        def meta(obj_name: str, extra: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
            return {"name": obj_name, "namespace": ns, "labels": {**labels, **(extra or {})}, **more}

        def opts_(*deps: pulumi.Resource, **more: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[*wait, *deps], **more)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=meta(SERVICE_ACCOUNT, annotations=dict(args.service_account_annotations)),
            # MLflow never calls the Kubernetes API; identity webhooks project their own tokens.
            automount_service_account_token=False,
            opts=opts_(),
        )
        backend = k8s.core.v1.Secret(
            f"{name}-backend-store",
            metadata=meta(BACKEND_SECRET),
            type="Opaque",
            string_data={BACKEND_ENV: backend_store_uri(args.database)},
            opts=opts_(),
        )
        oidc_secret = k8s.core.v1.Secret(
            f"{name}-oidc-client",
            metadata=meta(OIDC_SECRET),
            type="Opaque",
            string_data={OIDC_SECRET_KEY: pulumi.Output.secret(args.oidc.client_secret)},
            opts=opts_(),
        )
        # MLflow's own auth (components/kubernetes/mlflow_auth.py): whom each request is for
        # and what their team may do, enforced by the server itself behind the Gateway's sign-on.
        admin_password = random.RandomPassword(
            f"{name}-admin-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self))
        csrf_key = random.RandomPassword(
            f"{name}-csrf-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=self))
        auth_secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=meta(AUTH_SECRET),
            type="Opaque",
            string_data={
                mlflow_auth.AUTH_CONFIG_FILE: pulumi.Output.secret(
                    backend_store_uri(args.database).apply(mlflow_auth.auth_ini)),
                "admin-password": pulumi.Output.secret(admin_password.result),
                "csrf-key": pulumi.Output.secret(csrf_key.result),
            },
            opts=opts_(),
        )
        plugin = k8s.core.v1.ConfigMap(
            f"{name}-auth-plugin", metadata=meta(PLUGIN_CONFIGMAP),
            data={mlflow_auth.PLUGIN_FILE: mlflow_auth.plugin_source()}, opts=opts_())
        mapping = mlflow_auth.teams_json(args.oidc.team_auth(), list(args.teams))
        teams = k8s.core.v1.ConfigMap(
            f"{name}-teams", metadata=meta(TEAMS_CONFIGMAP),
            data={mlflow_auth.MAPPING_FILE: mapping}, opts=opts_())
        auth_volumes = [
            {"name": "auth-plugin", "configMap": {"name": PLUGIN_CONFIGMAP}},
            {"name": "teams", "configMap": {"name": TEAMS_CONFIGMAP}},
            {"name": "auth-config", "secret": {
                "secretName": AUTH_SECRET, "defaultMode": 0o440,
                "items": [{"key": mlflow_auth.AUTH_CONFIG_FILE, "path": mlflow_auth.AUTH_CONFIG_FILE}]}},
        ]
        auth_mounts = [
            {"name": "auth-plugin", "mountPath": mlflow_auth.PLUGIN_DIR, "readOnly": True},
            {"name": "teams", "mountPath": mlflow_auth.MAPPING_DIR, "readOnly": True},
            {"name": "auth-config", "mountPath": mlflow_auth.AUTH_CONFIG_DIR, "readOnly": True},
        ]
        mapping_path = f"{mlflow_auth.MAPPING_DIR}/{mlflow_auth.MAPPING_FILE}"
        auth_config_path = f"{mlflow_auth.AUTH_CONFIG_DIR}/{mlflow_auth.AUTH_CONFIG_FILE}"

        job_env: list[dict[str, Any]] = [
            {"name": BACKEND_ENV, "valueFrom": {"secretKeyRef": {"name": BACKEND_SECRET, "key": BACKEND_ENV}}},
            # Read-only root: Python libraries and MLflow write caches under HOME.
            {"name": "HOME", "value": "/tmp"},
        ]
        env = [
            *job_env,
            *_plain_env(mlflow_auth.server_env(auth_config_path, mlflow_auth.PLUGIN_DIR, mapping_path)),
            {"name": "MLFLOW_AUTH_ADMIN_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": "admin-password"}}},
            # One CSRF key for every worker of every replica (the auth app's requirement).
            {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY",
             "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": "csrf-key"}}},
        ]
        volumes: list[dict[str, Any]] = [
            # Proxied artifacts are spooled here whole (see the module docstring).
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
            {"name": "metrics", "emptyDir": {"sizeLimit": "256Mi"}},
            *auth_volumes,
        ]
        mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "metrics", "mountPath": METRICS_DIR},
                  *auth_mounts]
        extra_deps: list[pulumi.Resource] = [account, backend, auth_secret, plugin, teams]
        a = args.artifacts
        if a.region:
            env.append({"name": "AWS_DEFAULT_REGION", "value": a.region})
        if a.kind == "s3-compatible":
            assert a.access_key_id is not None and a.secret_access_key is not None
            # On-prem only: the object store has no workload identity (see the module docstring).
            creds = k8s.core.v1.Secret(
                f"{name}-artifact-credentials",
                metadata=meta(ARTIFACT_CREDENTIALS_SECRET),
                type="Opaque",
                string_data={"AWS_ACCESS_KEY_ID": pulumi.Output.secret(a.access_key_id),
                             "AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(a.secret_access_key)},
                opts=opts_(),
            )
            extra_deps.append(creds)
            env += [{"name": "MLFLOW_S3_ENDPOINT_URL", "value": a.endpoint_url}]
            env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": ARTIFACT_CREDENTIALS_SECRET, "key": key}}}
                    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
            if a.ca_certificate:
                ca = k8s.core.v1.ConfigMap(
                    f"{name}-object-store-ca", metadata=meta(CA_CONFIGMAP),
                    data={"ca.crt": a.ca_certificate}, opts=opts_())
                extra_deps.append(ca)
                volumes.append({"name": "object-store-ca", "configMap": {"name": CA_CONFIGMAP}})
                mounts.append({"name": "object-store-ca", "mountPath": "/etc/mlflow/ca", "readOnly": True})
                env.append({"name": "AWS_CA_BUNDLE", "value": "/etc/mlflow/ca/ca.crt"})

        pod_security = {
            "runAsNonRoot": True, "runAsUser": RUN_AS_USER, "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER, "seccompProfile": {"type": "RuntimeDefault"},
        }
        container_security = {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
        }

        # The servers and the migration Job reach the database, nothing else of the namespace
        # does; the Job needs this rule before its first attempt.
        db = args.database
        db_egress = network_policy(
            f"{name}-egress-database", f"{APP}-egress-database", ns, tags,
            {"policyTypes": ["Egress"],
             "egress": [{"to": db.peers(), "ports": [{"protocol": "TCP", "port": db.policy_port}]}]},
            self, wait, pod_selector={"matchLabels": app_labels})

        # Migrations once per image version, before any server of that version starts. The
        # Job's name carries the image version: a new version is a new Job (a Job's template is
        # immutable), an unchanged one is left alone. Pulumi waits for the Job to complete; if
        # every attempt fails (JOB_BACKOFF_LIMIT retries within JOB_DEADLINE_SECONDS), the
        # `pulumi up` fails, the Job stays in the stack marked as failed to initialise, and the
        # Deployment (which depends on it) is not changed: the old servers keep running.
        # `pulumi.com/replaceUnready` makes the next `pulumi up` replace a failed Job, i.e. run
        # the migration again once the cause is fixed (runbooks/restore-mlflow.md, "Migration
        # Job failed").
        job_labels = {**object_labels(tags), **app_labels, "app.kubernetes.io/component": "db-upgrade"}
        job_name = f"{APP}-db-upgrade-{_version_slug(args.image)}"[:63].rstrip("-")
        def job_pod(labels: dict[str, str], container: str, script: str, env: list[dict[str, Any]],
                    resources: dict[str, Any], mounts: list[dict[str, Any]],
                    pod_volumes: list[dict[str, Any]]) -> dict[str, Any]:
            """A pod template running `python -c script` once, restricted like the servers.
            Secrets (the database URI) only in `env`, never in argv."""
            return {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security,
                    "containers": [{
                        "name": container,
                        "image": args.image,
                        "command": ["python", "-c", script],
                        "env": env,
                        "resources": resources,
                        "securityContext": container_security,
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *pod_volumes],
                },
            }

        def job_meta(job: str, labels: dict[str, str]) -> dict[str, Any]:
            return {"name": job, "namespace": ns, "labels": labels,
                    "annotations": {"pulumi.com/replaceUnready": "true",
                                    "pulumi.com/timeoutSeconds": str(JOB_PULUMI_TIMEOUT_SECONDS)}}

        migrate = k8s.batch.v1.Job(
            f"{name}-db-upgrade",
            metadata=job_meta(job_name, job_labels),
            spec={"backoffLimit": JOB_BACKOFF_LIMIT, "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                  "template": job_pod(job_labels, "db-upgrade", DB_UPGRADE_SCRIPT, job_env,
                                      {"requests": {"cpu": "250m", "memory": "512Mi"},
                                       "limits": {"cpu": "1", "memory": "1Gi"}}, [], [])},
            # A Job's template is immutable; a new image version is a new Job name anyway.
            opts=opts_(backend, db_egress, delete_before_replace=True),
        )

        # Team workspaces and roles, before the servers that grant them start: MLflow resolves
        # a request's workspace before any authorization, so one that does not exist yet fails
        # the request. A new mapping or plugin is a new Job (the hash is in its name).
        ws_labels = {**object_labels(tags), **app_labels, "app.kubernetes.io/component": "workspaces"}
        digest = hashlib.sha256((mapping + mlflow_auth.plugin_checksum()).encode()).hexdigest()[:10]
        ws_pod = job_pod(
            ws_labels, "workspaces", mlflow_auth.WORKSPACES_SCRIPT,
            [*job_env, {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": auth_config_path},
             *_plain_env(mlflow_auth.job_env(mlflow_auth.PLUGIN_DIR, mapping_path))],
            {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
            auth_mounts, auth_volumes)
        workspaces = k8s.batch.v1.Job(
            f"{name}-workspaces",
            metadata=job_meta(f"{APP}-workspaces-{digest}", ws_labels),
            spec={"backoffLimit": JOB_BACKOFF_LIMIT, "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                  "template": ws_pod},
            opts=opts_(migrate, auth_secret, plugin, teams, delete_before_replace=True),
        )
        # The same, hourly: a MANAGE-tier team (its workspace's admins) may edit its own
        # `team-members` role in MLflow; this puts the role back to the config's tier.
        k8s.batch.v1.CronJob(
            f"{name}-workspaces-reconcile",
            metadata={"name": f"{APP}-workspaces-reconcile", "namespace": ns, "labels": ws_labels},
            spec={"schedule": RECONCILE_SCHEDULE, "concurrencyPolicy": "Forbid",
                  "startingDeadlineSeconds": 600, "successfulJobsHistoryLimit": 1,
                  "failedJobsHistoryLimit": 3,
                  "jobTemplate": {"spec": {"backoffLimit": 2, "activeDeadlineSeconds": 900,
                                           "template": ws_pod}}},
            opts=opts_(workspaces),
        )

        allowed_hosts = [
            args.hostname, f"{args.hostname}:443",
            f"{APP}.{ns}.svc", f"{APP}.{ns}.svc:{PORT}",
            f"{APP}.{ns}.svc.cluster.local", f"{APP}.{ns}.svc.cluster.local:{PORT}",
            "localhost", f"localhost:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT}",
            *host_patterns(args.pod_cidrs),
        ]
        # Scrapes by pod IP must pass wherever the pods' range is (e.g. an on-prem pod range
        # that is not in the config): MLflow's own private-range defaults, always.
        allowed_hosts = list(dict.fromkeys([*allowed_hosts, *MLFLOW_PRIVATE_HOST_PATTERNS]))
        server_args: list[StrInput] = [
            "server",
            *mlflow_auth.SERVER_FLAGS,
            "--artifacts-destination", a.uri(),
            "--serve-artifacts",
            "--host", "0.0.0.0",
            "--port", str(PORT),
            "--workers", str(args.workers),
            "--expose-prometheus", METRICS_DIR,
            "--allowed-hosts", ",".join(allowed_hosts),
            "--cors-allowed-origins", f"https://{args.hostname}",
        ]
        # Spread replicas: over nodes always; over zones as hard as the site allows.
        spread = [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
             "whenUnsatisfiable": "DoNotSchedule" if args.zone_spread == "required" else "ScheduleAnyway",
             "labelSelector": {"matchLabels": server_labels}, "matchLabelKeys": ["pod-template-hash"]},
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": server_labels}, "matchLabelKeys": ["pod-template-hash"]},
        ]
        probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(APP),
            spec={
                "replicas": args.replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": server_labels},
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {**object_labels(tags), **server_labels, **args.pod_labels},
                                 # New authorization code rolls the servers; a new mapping
                                 # does not need to (it is re-read from the mounted file).
                                 "annotations": {"hybridml.io/auth-plugin": mlflow_auth.plugin_checksum()}},
                    "spec": {
                        "serviceAccountName": SERVICE_ACCOUNT,
                        "automountServiceAccountToken": False,
                        # Service links would inject MLFLOW_PORT=tcp://..., an MLflow CLI variable.
                        "enableServiceLinks": False,
                        # In-flight artifact transfers finish (see the module docstring).
                        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                        "securityContext": pod_security,
                        "topologySpreadConstraints": spread,
                        "containers": [{
                            "name": "mlflow",
                            "image": args.image,
                            "command": ["mlflow"],
                            "args": server_args,
                            "env": env,
                            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                            "resources": args.resources.spec(),
                            "securityContext": container_security,
                            "volumeMounts": mounts,
                            "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
                            "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
                            "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3},
                            # Keep serving until the endpoint is gone from every proxy; only
                            # then does SIGTERM stop the server from accepting.
                            "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
                        }],
                        "volumes": volumes,
                    },
                },
            },
            opts=opts_(migrate, workspaces, *extra_deps),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(APP),
            spec={"minAvailable": 1, "selector": {"matchLabels": server_labels}},
            opts=opts_(),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(APP),
            spec={"type": "ClusterIP", "selector": server_labels,
                  "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]},
            opts=opts_(),
        )
        # The SecurityPolicy first, the HTTPRoute it targets only after it: Envoy Gateway accepts
        # a policy whose route does not exist yet and applies it as the route appears, so the
        # route is never served unauthenticated (not even for a moment on create or replace).
        o = args.oidc
        auth = k8s.apiextensions.CustomResource(
            f"{name}-auth",
            api_version=_EG_API,
            kind="SecurityPolicy",
            metadata=meta(APP),
            spec={
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": APP}],
                "oidc": {
                    "provider": {"issuer": o.issuer_url},
                    "clientID": o.client_id,
                    "clientSecret": {"group": "", "kind": "Secret", "name": OIDC_SECRET},
                    "scopes": list(o.scopes),
                    "redirectURL": f"https://{args.hostname}/oauth2/callback",
                    "logoutPath": "/logout",
                    # The signed-in browser's access token goes on to MLflow as a bearer token:
                    # MLflow's auth verifies it and reads the user and their groups from it.
                    "forwardAccessToken": True,
                    # A request with `Authorization: Bearer ...` skips the browser flow; the JWT
                    # provider below then must validate that token.
                    "passThroughAuthHeader": True,
                },
                "jwt": {
                    # Required: every request that passes carries a valid IdP token. A browser's
                    # comes from its OIDC session (forwardAccessToken, set before this filter
                    # runs); a request with any other Authorization header (e.g. Basic) skips the
                    # OIDC filter (passThroughAuthHeader) and is refused here.
                    "optional": False,
                    "providers": [{
                        "name": "idp",
                        "issuer": o.token_issuer or o.issuer_url,
                        "audiences": list(o.audiences),
                        "remoteJWKS": {"uri": o.jwks_uri},
                        "extractFrom": {"headers": [{"name": "Authorization", "valuePrefix": "Bearer "}]},
                    }],
                },
            },
            opts=opts_(oidc_secret),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=_GW_API,
            kind="HTTPRoute",
            metadata=meta(APP),
            spec={
                "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                "namespace": gateway.NAMESPACE, "name": gateway.GATEWAY,
                                "sectionName": "https"}],
                "hostnames": [args.hostname],
                "rules": [{
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"group": "", "kind": "Service", "name": APP, "port": PORT}],
                    # Artifact uploads and downloads stream through the server: no 15 s cut-off.
                    "timeouts": {"request": "3600s"},
                }],
            },
            opts=opts_(service, auth),
        )

        if a.kind == "s3-compatible":
            storage_rule = {"to": [{"ipBlock": {"cidr": c}} for c in a.endpoint_cidrs],
                            "ports": [{"protocol": "TCP", "port": a.endpoint_port}]}
        else:
            # Cloud object storage and the IdP token endpoint are public HTTPS endpoints whose
            # addresses change; everything public on 443, nothing private, is the narrowest
            # rule a NetworkPolicy can state for them.
            storage_rule = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                                   *({"ipBlock": {"cidr": c}} for c in a.private_endpoint_cidrs)],
                            "ports": [{"protocol": "TCP", "port": 443}]}
        network_policy(
            f"{name}-egress-object-store", f"{APP}-egress-object-store", ns, tags,
            {"policyTypes": ["Egress"], "egress": [storage_rule]},
            self, wait, pod_selector={"matchLabels": server_labels})
        # MLflow's auth fetches the IdP's signing keys (JWKS): a public HTTPS endpoint, or the
        # IdP's private ranges when it is not public, on the JWKS URL's port.
        network_policy(
            f"{name}-egress-idp", f"{APP}-egress-idp", ns, tags,
            {"policyTypes": ["Egress"],
             "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                                *({"ipBlock": {"cidr": c}} for c in o.idp_cidrs)],
                         "ports": [{"protocol": "TCP", "port": urlsplit(o.jwks_uri).port or 443}]}]},
            self, wait, pod_selector={"matchLabels": server_labels})
        identity = IDENTITY_ENDPOINTS[args.site]
        if identity:
            network_policy(
                f"{name}-egress-workload-identity", f"{APP}-egress-workload-identity", ns, tags,
                {"policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}
                            for cidr, port in identity]},
                self, wait, pod_selector={"matchLabels": server_labels})
        if args.client_namespaces:
            network_policy(
                f"{name}-ingress-clients", f"{APP}-ingress-clients", ns, tags,
                {"policyTypes": ["Ingress"],
                 "ingress": [{"from": [in_namespace(n) for n in args.client_namespaces],
                              "ports": [{"protocol": "TCP", "port": PORT}]}]},
                self, wait, pod_selector={"matchLabels": server_labels})

        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-service-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=meta(APP),
                spec={
                    "selector": {"matchLabels": server_labels},
                    "namespaceSelector": {"matchNames": [ns]},
                    "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
                },
                opts=opts_(service, args.monitoring_crds),
            )

        self.hostname = args.hostname
        self.url = f"https://{args.hostname}"
        self.internal_url = f"http://{APP}.{ns}.svc:{PORT}"
        self.service_account_name = SERVICE_ACCOUNT
        self.namespace = ns
        self.artifacts_uri = a.uri()
        self.deployment = deployment
        self.register_outputs({
            "url": self.url,
            "internal_url": self.internal_url,
            "artifacts_uri": self.artifacts_uri,
        })
