"""Config of the MLflow service (`services.mlflow`), and what it means.

One MLflow tracking server per listed cluster: its backend store is a PostgreSQL database of
that site (RDS, Cloud SQL, Azure flexible server, or a CloudNativePG cluster on-prem), its
artifacts live in the artifact store of that site, reached by the cluster's workload identity.
The on-prem cluster has no cloud workload identity, so it writes to an S3-compatible object
store with an access key pair: the one documented exception to "no static keys", named here
only by the secret config keys that hold it.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import HTTPS_URL, SECRET_KEY_NAME, Cidr, ConfigModel, DatabaseDefaults

_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class MlflowDatabase(ConfigModel):
    """The backend-store PostgreSQL of every MLflow server (one database per cluster).

    What each site accepts, checked before anything is built: storage 20-4096 GB fits every
    site (RDS gp3 needs at least 20 GiB, Cloud SQL 10 GB, Azure rounds up to its next size of
    at least 32 GiB; all grow automatically up to four times the size or more); on-prem the
    instances' volumes (3 with HA, else 1, each `storageGb`) must fit the MLflow namespace's
    `storage` and `volumeClaims` quota. Backups 1-35 days; on GCP at least 2 (Cloud SQL keeps
    fewer days of point-in-time log than backups); Azure keeps at least 7 (fewer are raised).
    """

    storage_gb: int = Field(default=50, ge=20, le=4096)
    """Allocated storage in GB (RDS and Azure grow it automatically; on-prem: the volume size
    of each instance, which must fit the namespace quota)."""
    high_availability: bool | None = None
    """A synchronous standby in another zone (Multi-AZ, regional Cloud SQL, zone-redundant HA;
    on-prem three CloudNativePG instances instead of one). Default: true in prod, false elsewhere."""
    backup_retention_days: int | None = Field(default=None, ge=1, le=35)
    """Days automated backups and point-in-time recovery reach back (at least 2 when MLflow
    runs on GCP; Azure raises fewer than 7 to 7). Default: 14 in prod, 7 elsewhere."""


class MlflowOidc(ConfigModel):
    """Single sign-on at the Gateway (browser) plus bearer tokens from the same IdP (automation)."""

    issuer_url: str = Field(pattern=HTTPS_URL)
    """OIDC issuer of the IdP (https), e.g. https://login.example.com/realms/ml; the Gateway
    discovers its endpoints from `<issuer>/.well-known/openid-configuration`."""
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@-]+$")
    """OIDC client (application) id registered for MLflow at the IdP."""
    client_secret_key: str = Field(default="mlflowOidcClientSecret", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the client secret
    (`pulumi config set --secret <name>`); the secret itself never appears in config."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"], min_length=1)
    """Scopes of the browser sign-in (openid is always added)."""
    jwks_uri: str = Field(pattern=HTTPS_URL)
    """The IdP's JSON Web Key Set URL (https), which signs the automation tokens, e.g.
    https://login.example.com/realms/ml/protocol/openid-connect/certs."""
    token_issuer: str | None = Field(default=None, pattern=HTTPS_URL)
    """`iss` of the automation tokens when it differs from issuerUrl (e.g. Entra ID v1 tokens:
    https://sts.windows.net/<tenant>/); default: issuerUrl."""
    audiences: list[str] = Field(min_length=1, max_length=8)
    """Accepted `aud` values of bearer tokens, e.g. [mlflow] or [api://mlflow]; tokens for other
    audiences are refused. A signed-in browser's access token is checked the same way (the Gateway
    forwards it to MLflow), so `scopes` must ask for a token of this audience (Entra ID:
    `<clientId>/.default`)."""
    admin_groups: list[str] = Field(default_factory=list, max_length=16)
    """Groups (values of groupClaims) whose members are MLflow admins: every workspace, user and
    grant. Everyone else may do only what their teams grant (`teams[].mlflowPermission`)."""
    username_claim: str = Field(default="sub", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """The claim naming the MLflow user; a token without it is refused. One claim, never a
    fallback (a token lacking the first could otherwise be named like someone else by the
    second). It keys what MLflow keeps for the user (what they created), so use one the IdP
    controls and never reassigns: `sub` (default), Entra ID's `oid`, or Keycloak's
    `preferred_username` (usernames fixed in the realm); never `email`."""
    group_claims: list[str] = Field(default_factory=lambda: ["groups", "roles"], min_length=1,
                                    max_length=8)
    """Claims listing the caller's groups, matched against `teams[].group` and
    `teams[].azureGroupObjectId`, and adminGroups. Values must be ones only IdP admins can
    create: Entra ID group object ids (`groups`) or app roles (`roles`), never group display
    names (users can create groups); Keycloak group names with "full group path" off."""
    idp_cidrs: list[Cidr] = Field(default_factory=list, max_length=16)
    """Private address ranges of the IdP, when its JWKS is not on the public internet: MLflow
    fetches the signing keys itself, and its egress admits public HTTPS and these ranges on 443."""


class MlflowOnPremArtifacts(ConfigModel):
    """The on-prem artifact store: an S3-compatible bucket (Ceph RGW, MinIO, ...).

    On-prem object stores have no cloud workload identity, so this is the one place the
    platform uses a static access key pair. It stays in two secret config keys, goes only into
    a Kubernetes Secret of the on-prem cluster, and should be a key scoped to this bucket.
    """

    endpoint_url: str = Field(pattern=HTTPS_URL)
    """S3 API endpoint (https only), e.g. https://s3.ams-dc1.example.internal."""
    endpoint_cidrs: list[Cidr] = Field(min_length=1)
    """Address ranges the endpoint resolves to; MLflow's egress policy admits exactly these
    on the endpoint's port."""
    bucket: str = Field(pattern=_BUCKET)
    """Bucket for MLflow artifacts (created beforehand, versioning on); objects go under `mlflow/`."""
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]{1,32}$")
    """Region name the S3 API expects for signing (most S3-compatible stores accept us-east-1)."""
    access_key_id_key: str = Field(default="mlflowOnpremS3AccessKeyId", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the access key id."""
    secret_access_key_key: str = Field(default="mlflowOnpremS3SecretAccessKey", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the secret access key."""
    ca_certificate: str | None = Field(default=None, pattern=r"^-----BEGIN CERTIFICATE-----")
    """PEM of the CA that signed the endpoint's certificate, if it is a private CA (public data)."""


class MlflowOnPrem(ConfigModel):
    """What only the on-prem MLflow server needs."""

    artifacts: MlflowOnPremArtifacts
    """The S3-compatible bucket the on-prem server writes artifacts to."""
    volume_snapshot_class: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """VolumeSnapshotClass of the encrypted StorageClass's CSI driver (e.g. csi-rbdplugin-snapclass):
    the CloudNativePG database is backed up daily by volume snapshots. Required in prod."""


class Mlflow(DatabaseDefaults, ConfigModel):
    """MLflow tracking servers: PostgreSQL backend, the site's artifact store, SSO at the Gateway."""

    clusters: list[str] = Field(default_factory=list)
    """Clusters it runs on (`onprem` or `<cloud>/<region>`); each gets its own server and database."""
    artifact_store: str | None = None
    """Name of the artifact store (`storage.stores[].name`) used on cloud clusters; the store
    must exist in that cluster's cloud and region (stores are built in each cloud's first region)."""
    namespace: str = "mlflow"
    """Platform namespace (one of `kubernetes.namespaces`) the server runs in."""
    replicas: int = Field(default=2, ge=2, le=10)
    """Server replicas per cluster, spread over zones and nodes (at least 2)."""
    workers: int = Field(default=4, ge=1, le=16)
    """Worker processes per replica. Artifacts are proxied through the workers, each transfer
    spooled whole to the replica's 20 GiB `/tmp`: the artifacts moving through one replica at
    the same time must add up to less than 20 GiB (e.g. four concurrent transfers of up to
    ~4.5 GiB each, or one of up to ~19 GiB); see components/kubernetes/mlflow/args.py."""
    client_namespaces: list[str] = Field(default_factory=list)
    """Platform namespaces whose pods may call the server directly on its Service
    (`http://mlflow.<namespace>.svc:5000`), e.g. serving. This skips the Gateway, not MLflow's
    own auth: they send an IdP bearer token like any client and get what its groups grant."""
    database: MlflowDatabase = Field(default_factory=MlflowDatabase)
    """Backend-store database sizing and protection."""
    oidc: MlflowOidc
    """Authentication at the Gateway: OIDC for browsers, JWT bearer tokens for automation."""
    onprem: MlflowOnPrem | None = None
    """On-prem artifact store; required when `onprem` is in clusters."""

