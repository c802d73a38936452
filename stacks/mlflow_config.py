"""Config of the MLflow service (`services.mlflow`), and what it means.

One MLflow tracking server per listed cluster: its backend store is a PostgreSQL database of
that site (RDS, Cloud SQL, Azure flexible server, or a CloudNativePG cluster on-prem), its
artifacts live in the artifact store of that site, reached by the cluster's workload identity.
The on-prem cluster has no cloud workload identity, so it writes to an S3-compatible object
store with an access key pair: the one documented exception to "no static keys", named here
only by the secret config keys that hold it.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from pydantic import Field

from stacks.config_base import Cidr, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem

_SECRET_KEY = r"^[A-Za-z][A-Za-z0-9_-]*$"
_HTTPS_URL = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"
_BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

#: Backup retention (days) when `database.backupRetentionDays` is not set, by environment.
DEFAULT_BACKUP_RETENTION = {"prod": 14, "staging": 7, "dev": 7}
#: Cloud SQL keeps at least this many daily backups here (it wants more backups than days of
#: transaction log, which are at least 1): `components.gcp.postgres.MIN_RETAINED_BACKUPS`.
GCP_MIN_BACKUPS = 2
#: On-prem CloudNativePG instances (one volume of `storageGb` each), with and without HA.
ONPREM_INSTANCES = {True: 3, False: 1}
#: Longest DNS name (the server's hostname `mlflow.<cluster>.<baseDomain>`).
_MAX_HOSTNAME = 253


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

    issuer_url: str = Field(pattern=_HTTPS_URL)
    """OIDC issuer of the IdP (https), e.g. https://login.example.com/realms/ml; the Gateway
    discovers its endpoints from `<issuer>/.well-known/openid-configuration`."""
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@-]+$")
    """OIDC client (application) id registered for MLflow at the IdP."""
    client_secret_key: str = Field(default="mlflowOidcClientSecret", pattern=_SECRET_KEY)
    """Name of the secret config key holding the client secret
    (`pulumi config set --secret <name>`); the secret itself never appears in config."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"], min_length=1)
    """Scopes of the browser sign-in (openid is always added)."""
    jwks_uri: str = Field(pattern=_HTTPS_URL)
    """The IdP's JSON Web Key Set URL (https), which signs the automation tokens, e.g.
    https://login.example.com/realms/ml/protocol/openid-connect/certs."""
    token_issuer: str | None = Field(default=None, pattern=_HTTPS_URL)
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

    endpoint_url: str = Field(pattern=_HTTPS_URL)
    """S3 API endpoint (https only), e.g. https://s3.ams-dc1.example.internal."""
    endpoint_cidrs: list[Cidr] = Field(min_length=1)
    """Address ranges the endpoint resolves to; MLflow's egress policy admits exactly these
    on the endpoint's port."""
    bucket: str = Field(pattern=_BUCKET)
    """Bucket for MLflow artifacts (created beforehand, versioning on); objects go under `mlflow/`."""
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]{1,32}$")
    """Region name the S3 API expects for signing (most S3-compatible stores accept us-east-1)."""
    access_key_id_key: str = Field(default="mlflowOnpremS3AccessKeyId", pattern=_SECRET_KEY)
    """Name of the secret config key holding the access key id."""
    secret_access_key_key: str = Field(default="mlflowOnpremS3SecretAccessKey", pattern=_SECRET_KEY)
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


class Mlflow(ConfigModel):
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
    ~4.5 GiB each, or one of up to ~19 GiB); see components/kubernetes/mlflow.py."""
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

    def high_availability(self, environment: str) -> bool:
        ha = self.database.high_availability
        return environment == "prod" if ha is None else ha

    def backup_retention_days(self, environment: str) -> int:
        days = self.database.backup_retention_days
        return DEFAULT_BACKUP_RETENTION.get(environment, 7) if days is None else days


def store_clusters(cfg: PlatformConfig, store_name: str) -> list[str]:
    """Cluster refs where store `store_name` exists: `<cloud>/<first region>` of each of its
    sites that has a cluster there."""
    from stacks.cluster_plan import clusters_by_ref

    store = next((s for s in cfg.storage.stores if s.name == store_name), None)
    if store is None:
        return []
    refs = clusters_by_ref(cfg)
    out = []
    for site in cfg.store_sites(store):
        if site not in cfg.enabled_clouds():
            continue
        ref = f"{site}/{cfg.cloud_regions(site)[0]}"
        if ref in refs:
            out.append(ref)
    return out


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """What `services.mlflow` means, checked against the rest of the stack."""
    from stacks.cluster_plan import clusters_by_ref
    from stacks.validation import _MISSING, ConfigProblem, _path

    m = cfg.services.mlflow
    if m is None:
        return []
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(_path(("services", "mlflow", *loc)), value, allowed))

    for k, cidr in enumerate(m.oidc.idp_cidrs):
        if ipaddress.ip_network(str(cidr)).is_global:
            add(("oidc", "idpCidrs", k), str(cidr),
                "a non-public range (public HTTPS is admitted already): 10.0.0.0/8, "
                "172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10")
    refs = clusters_by_ref(cfg)
    known = ", ".join(refs) or "none (configure kubernetes first)"
    stores = [s.name for s in cfg.storage.stores]
    store_ok = m.artifact_store is None or m.artifact_store in stores
    if not store_ok:
        add(("artifactStore",), m.artifact_store,
            f"allowed: names of storage.stores ({', '.join(stores) or 'none'})")
    where = store_clusters(cfg, m.artifact_store) if m.artifact_store and store_ok else []
    onprem_allowed = ["onprem"] if "onprem" in refs else []
    seen: set[str] = set()
    for i, ref in enumerate(m.clusters):
        if ref in seen:
            add(("clusters", i), ref, "each cluster may appear once")
            continue
        seen.add(ref)
        if ref not in refs:
            add(("clusters", i), ref, f"allowed: clusters of this stack ({known})")
            continue
        if ref == "onprem" or not store_ok:
            continue
        if m.artifact_store is None:
            add(("artifactStore",), _MISSING,
                f"required for cloud cluster {ref}: the artifact store (storage.stores) MLflow writes to")
            continue
        if ref not in where:
            add(("clusters", i), ref,
                f"artifact store {m.artifact_store!r} is built only in the first region of each of "
                f"its clouds; allowed: {', '.join(where + onprem_allowed) or 'none'}")

    if "onprem" in m.clusters and "onprem" in refs and m.onprem is None:
        add(("onprem",), _MISSING, "required when onprem is in services.mlflow.clusters: "
            "artifacts (endpointUrl, endpointCidrs, bucket, secret key names)")
    if m.onprem is not None and "onprem" not in m.clusters:
        add(("onprem",), "<on-prem artifacts>", "only used with onprem in services.mlflow.clusters; "
            "add onprem there or remove this key")
    if m.onprem is not None:
        a = m.onprem.artifacts
        for j, cidr in enumerate(a.endpoint_cidrs):
            if cidr.prefixlen < 8:
                add(("onprem", "artifacts", "endpointCidrs", j), str(cidr),
                    "must be /8 or smaller: name the object store's own ranges, never everything")
        if m.onprem.volume_snapshot_class is None and cfg.environment == "prod":
            add(("onprem", "volumeSnapshotClass"), _MISSING,
                "required in prod: the on-prem database is backed up by volume snapshots of this class")
        if a.access_key_id_key == a.secret_access_key_key:
            add(("onprem", "artifacts", "secretAccessKeyKey"), a.secret_access_key_key,
                "must differ from accessKeyIdKey (two secret config keys)")

    namespaces = [n.name for n in cfg.kubernetes.namespaces] if cfg.kubernetes else []
    listed = f"platform namespaces of kubernetes.namespaces ({', '.join(namespaces) or 'none'})"
    if m.clusters and m.namespace not in namespaces:
        add(("namespace",), m.namespace, f"allowed: {listed}")
    for k, client in enumerate(m.client_namespaces):
        if client not in namespaces or client == m.namespace:
            add(("clientNamespaces", k), client, f"allowed: {listed}, other than {m.namespace}")
    out += _site_limits(cfg, m, refs)
    return out


def _site_limits(cfg: PlatformConfig, m: Mlflow, refs: dict[str, Any]) -> list[ConfigProblem]:
    """What the database and server components of each configured cluster would refuse (or
    what its site refuses at deploy time), found here so it is a config error with a key path
    instead of a failure halfway through `pulumi up`."""
    from components.kubernetes.objects import quantity
    from stacks.validation import ConfigProblem, _path

    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, allowed: str) -> None:
        out.append(ConfigProblem(_path(loc), value, allowed))

    clusters = [(i, ref) for i, ref in enumerate(m.clusters) if ref in refs]
    sites = {ref.split("/")[0] for _, ref in clusters}
    days = m.backup_retention_days(cfg.environment)
    if "gcp" in sites and days < GCP_MIN_BACKUPS:
        # components/gcp/postgres.py refuses it (Cloud SQL: more backups than days of log).
        add(("services", "mlflow", "database", "backupRetentionDays"), days,
            f"at least {GCP_MIN_BACKUPS} when MLflow runs on GCP (Cloud SQL keeps fewer days of "
            "point-in-time log than daily backups, and at least 1 day of log)")

    base = cfg.kubernetes.base_domain if cfg.kubernetes else ""
    for i, ref in clusters:
        plan = refs[ref]
        site, region = plan.site, plan.region
        hostname = f"mlflow.{plan.name}.{base}"
        if len(hostname) > _MAX_HOSTNAME:
            add(("services", "mlflow", "clusters", i), ref,
                f"its server's hostname {hostname[:40]}... is longer than {_MAX_HOSTNAME} "
                "characters: shorten kubernetes.baseDomain")
        if site == "onprem" or cfg.network is None:
            continue
        entry = getattr(cfg.network, site).get(region)
        # The database components (and the server's egress rule) take only ranges that are not
        # globally routable (IANA): RFC 1918 or 100.64.0.0/10, but not every range
        # network.extraPrivateRanges may declare private (e.g. 11.0.0.0/8).
        if entry is not None and ipaddress.ip_network(entry.cidr).is_global:
            add(("services", "mlflow", "clusters", i), ref,
                f"its database would be in network.{site}.{region}.cidr ({entry.cidr}), a "
                "publicly routable range; MLflow's databases need a non-public one (10.0.0.0/8, "
                "172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)")

    if "onprem" in sites and cfg.kubernetes is not None:
        ns = next((n for n in cfg.kubernetes.namespaces if n.name == m.namespace), None)
        if ns is not None:
            instances = ONPREM_INSTANCES[m.high_availability(cfg.environment)]
            need = instances * m.database.storage_gb
            room = quantity(ns.quota.storage) / quantity("1Gi")
            k = cfg.kubernetes.namespaces.index(ns)
            if need > room:
                add(("services", "mlflow", "database", "storageGb"), m.database.storage_gb,
                    f"on-prem {instances} instance volume(s) of this size ({need}Gi) must fit "
                    f"the {m.namespace} namespace's quota "
                    f"(kubernetes.namespaces[{k}].quota.storage = {ns.quota.storage}): at most "
                    f"{int(room // instances)}, or raise the quota")
            if instances > ns.quota.volume_claims:
                add(("kubernetes", "namespaces", k, "quota", "volumeClaims"),
                    ns.quota.volume_claims,
                    f"at least {instances}: the on-prem MLflow database has {instances} volumes")
    return out


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """Secret config keys MLflow reads: the OIDC client secret, and on-prem the S3 key pair."""
    m = cfg.services.mlflow
    if m is None or not m.clusters:
        return []
    keys = [m.oidc.client_secret_key]
    if "onprem" in m.clusters and m.onprem is not None:
        keys += [m.onprem.artifacts.access_key_id_key, m.onprem.artifacts.secret_access_key_key]
    return keys
