"""Config of the team notebooks (`services.notebooks`): JupyterHub (Zero to JupyterHub chart).

One hub per listed cluster; a user signs in at the IdP (OpenID Connect, no local passwords) and
is admitted only as a member of a team with `teams[].notebooks: true` (or as an admin). Their
servers run in their team's namespace, with its `workload` ServiceAccount and environment, on a
home volume of the `encrypted` StorageClass; GPU servers wait in the team's queue.

The sign-in has its own `oidc` block rather than reusing `services.mlflow.oidc`: the hub is a
separate client at the IdP (its own redirect URL and secret, rotated on its own), and notebooks
must not need MLflow to exist. Its issuer, username claim and group claims are of the same
shape and should name the same IdP and claims (the checks say so when both are configured).

The hub's own database (users, servers, tokens): in prod a CloudNativePG PostgreSQL next to the
hub (on-prem only, TLS required, backed up by volume snapshots); elsewhere SQLite on a volume of
the chart (`sqlite-pvc`), lost with the release and never backed up.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import HTTPS_URL, SECRET_KEY_NAME, Cidr, ClusterRef, ConfigModel, DatabaseDefaults

# registry/name:tag or name@sha256:digest; `latest` is refused by the checks.
_IMAGE = r"^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"


class NotebooksOidc(ConfigModel):
    """Sign-in at the hub through the platform's IdP (GenericOAuthenticator, OIDC code flow)."""

    issuer_url: str = Field(pattern=HTTPS_URL)
    """OIDC issuer (https); the hub reads its endpoints from
    `<issuer>/.well-known/openid-configuration` when it starts. Same IdP as MLflow's."""
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@-]+$")
    """OIDC client id registered for JupyterHub (redirect URL
    `https://notebooks.<cluster>.<baseDomain>/hub/oauth_callback`)."""
    client_secret_key: str = Field(default="notebooksOidcClientSecret", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the client secret (`pulumi config set --secret`);
    it reaches the hub only through a Kubernetes Secret, never through Helm values."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"], min_length=1)
    """Scopes of the sign-in (openid is always added)."""
    admin_groups: list[str] = Field(default_factory=list, max_length=16)
    """Groups (values of groupClaims) whose members are hub admins: they see every team's
    profiles and may manage every server."""
    username_claim: str = Field(default="sub", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """Claim naming the hub user (keys their home volume): one the IdP never reassigns
    (`sub`, Entra ID's `oid`, Keycloak's `preferred_username`), never `email`."""
    group_claims: list[str] = Field(default_factory=lambda: ["groups", "roles"], min_length=1,
                                    max_length=8)
    """Claims of the userinfo listing the user's groups, matched against `teams[].group`,
    `teams[].azureGroupObjectId` and adminGroups (values only IdP admins can create)."""
    idp_cidrs: list[Cidr] = Field(default_factory=list, max_length=16)
    """Private ranges of the IdP when it is not on the public internet; the hub's egress admits
    public HTTPS and these ranges on 443."""


class NotebooksDatabase(ConfigModel):
    """The hub's PostgreSQL in prod (CloudNativePG in the hub's namespace); unused elsewhere."""

    storage_gb: int = Field(default=10, ge=1, le=1024)
    """Volume size of each instance in GiB (the hub's tables are small); all instances must
    fit the notebooks namespace's storage quota."""
    high_availability: bool | None = None
    """Three instances on different nodes instead of one. Default: true in prod."""
    backup_retention_days: int | None = Field(default=None, ge=1, le=35)
    """Intended retention of the snapshots (pruned outside, see runbooks/notebooks.md).
    Default: 14 in prod, 7 elsewhere."""
    volume_snapshot_class: str | None = Field(
        default=None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """VolumeSnapshotClass the database is backed up with (daily). Required in prod."""


class Notebooks(DatabaseDefaults, ConfigModel):
    """JupyterHub for the teams that ask for notebooks (`teams[].notebooks`)."""

    clusters: list[ClusterRef] = Field(default_factory=lambda: ["onprem"], min_length=1)
    """Clusters JupyterHub runs on (default: on-prem, next to the sensitive data)."""
    namespace: str = "notebooks"
    """Platform namespace (one of `kubernetes.namespaces`) the hub and proxy run in; the
    servers run in the teams' namespaces."""
    oidc: NotebooksOidc
    """Sign-in through the platform's IdP."""
    image: str = Field(default="quay.io/jupyterhub/k8s-singleuser-sample:4.4.0", pattern=_IMAGE)
    """Notebook image of the CPU profiles, pinned (a tag other than `latest`, or a digest)."""
    gpu_image: str | None = Field(default=None, pattern=_IMAGE)
    """Notebook image of the GPU profiles (CUDA libraries); default: `image`."""
    cpu: str = Field(default="2", pattern=_QUANTITY)
    """CPU limit of a server (the request is a quarter of it)."""
    memory: str = Field(default="8Gi", pattern=r"^[1-9][0-9]{0,5}(Mi|Gi)$")
    """Memory of a server (request = limit), in Mi or Gi."""
    home_size: str = Field(default="10Gi", pattern=r"^[0-9]+Gi$")
    """Size of each user's home volume (`encrypted` StorageClass, kept when the server stops)."""
    idle_timeout_minutes: int = Field(default=60, ge=10, le=7 * 24 * 60)
    """Servers idle this long are stopped (their home volume stays)."""
    max_age_hours: int = Field(default=0, ge=0, le=30 * 24)
    """Servers running this long are stopped even when busy (0: no limit)."""
    database: NotebooksDatabase = Field(default_factory=NotebooksDatabase)
    """The hub's database in prod (on-prem CloudNativePG); outside prod the chart's SQLite."""

    def managed_database(self, environment: str) -> bool:
        """In prod the hub keeps its state in PostgreSQL; elsewhere in the chart's SQLite."""
        return environment == "prod"

