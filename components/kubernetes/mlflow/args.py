"""Arguments of a TrackingServer: frozen pydantic models, validated before any resource exists."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.inputs import StrInput
from components.kubernetes.charts import image
from components.kubernetes.mlflow.names import APP
from components.kubernetes.mlflow_auth import TeamAuthSettings, TeamGrant
from components.naming import DNS_LABEL
from components.tags import StandardTags

IntInput = int | pulumi.Output[int]
Site = Literal["aws", "gcp", "azure", "onprem"]

#: Ephemeral storage of the server container: the request is what a replica typically uses
#: (scheduling), the limit covers a full `/tmp`, the metrics directory and the logs.
EPHEMERAL_STORAGE_REQUEST = "2Gi"
EPHEMERAL_STORAGE_LIMIT = "24Gi"
#: The artifact store kind of each site.
ARTIFACT_KIND = {"aws": "s3", "gcp": "gcs", "azure": "azure-blob", "onprem": "s3-compatible"}
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
        if self.artifacts.kind != ARTIFACT_KIND[self.site]:
            raise ValueError(f"a {self.site} server keeps artifacts in {ARTIFACT_KIND[self.site]}, "
                             f"not {self.artifacts.kind}")
        if len(self.hostname) > 253:
            raise ValueError(f"hostname {self.hostname!r} is longer than 253 characters")
        return self

    @property
    def hostname(self) -> str:
        return f"{APP}.{self.cluster_name}.{self.base_domain}"
