"""PostgreSQL on Kubernetes with the CloudNativePG operator (the on-prem site's managed database).

`CloudNativePgOperator` installs the pinned operator chart once per cluster;
`OnPremPostgres` is one CNPG `Cluster` (API `postgresql.cnpg.io/v1`) with its owner
credentials, scheduled volume-snapshot backups and the NetworkPolicies its pods need
inside a default-deny platform namespace.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.charts import IMAGES, container_resources, image, pinned_release
from components.kubernetes.objects import (
    add_on_namespace,
    known_name,
    network_policy,
    object_labels,
    quantity,
)
from components.naming import DNS_LABEL
from components.tags import StandardTags, k8s_labels

#: The operator's namespace (the chart's default), created by us with Pod Security restricted.
OPERATOR_NAMESPACE = "cnpg-system"
#: Label the chart puts on the operator's pods.
_OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
#: Label CNPG puts on every pod (instances and their jobs) of a Cluster.
CLUSTER_LABEL = "cnpg.io/cluster"
CNPG_API = "postgresql.cnpg.io/v1"
POSTGRES_PORT = 5432
#: The instance manager's status endpoint, which the operator polls.
STATUS_PORT = 8000
#: `IMAGES` key of a pinned PostgreSQL operand image; without it the operator's default image
#: for its (pinned) version is used.
POSTGRES_IMAGE_KEY = "cnpg-postgresql"
#: Where a cluster's API server may be when nobody says: the private ranges, on the ports API
#: servers listen on. The instance manager must reach it; its addresses are in the kubeconfig
#: (a secret the program does not parse), so callers should narrow this (e.g. on-prem CIDRs).
DEFAULT_API_SERVER_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
DEFAULT_API_SERVER_PORTS = (443, 6443)
#: pulumi-kubernetes (v4.18+) waits for this before the Cluster counts as created or updated:
#: CNPG sets condition `Ready` (api/v1 `ConditionClusterReady`) once every instance runs and
#: the primary accepts connections, so whatever depends on the database (e.g. MLflow's
#: migration Job) never meets a half-bootstrapped one.
#: How long Pulumi waits for that (volumes, initdb, standbys cloning the primary), as the
#: provider's `pulumi.com/timeoutSeconds` annotation (create and update alike).
READY_TIMEOUT_SECONDS = 1800
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready",
                  "pulumi.com/timeoutSeconds": str(READY_TIMEOUT_SECONDS)}


class CloudNativePgOperatorArgs(BaseModel):
    """Arguments of the CloudNativePG operator installation."""

    model_config = ConfigDict(frozen=True)

    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    replicas: int = Field(default=2, ge=1, le=3, description=(
        "Operator replicas (leader election: one works, the others take over)."))


class CloudNativePgOperator(pulumi.ComponentResource):
    """The CloudNativePG operator from the pinned `cloudnative-pg` chart.

    Creates the `cnpg-system` namespace (Pod Security restricted: the operator runs as
    non-root with a read-only root filesystem, no capabilities and the RuntimeDefault
    seccomp profile) and the Helm release with its CRDs and admission webhooks. Caller
    opts: providers=[the cluster's Kubernetes provider].
    """

    release: k8s.helm.v3.Release
    namespace: str

    def __init__(self, name: str, args: CloudNativePgOperatorArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:CloudNativePgOperator", name, None, opts)
        ns = add_on_namespace(f"{name}-namespace", OPERATOR_NAMESPACE, args.tags,
                              "restricted", self)
        self.release = pinned_release(
            f"{name}-release",
            "cloudnative-pg",
            OPERATOR_NAMESPACE,
            {
                "replicaCount": args.replicas,
                "resources": container_resources("100m", "200Mi", "500m", "512Mi"),
                "crds": {"create": True},
                # PodMonitors are created per database where monitoring exists (the chart's
                # would need the Prometheus Operator CRDs at install time).
                "monitoring": {"podMonitorEnabled": False},
            },
            self,
            [ns],
        )
        self.namespace = OPERATOR_NAMESPACE
        self.register_outputs({"release": self.release, "namespace": self.namespace})


class OnPremPostgresArgs(BaseModel):
    """Arguments of one CloudNativePG PostgreSQL cluster with one database."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$",
                      description="Logical name, e.g. `mlflow`; the Cluster is `<name>-postgres`.")
    prefix: str = Field(description="Name prefix, e.g. `hml-prod` (kept for symmetry with the "
                        "cloud databases; Kubernetes names are namespaced already).")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    protect: bool = Field(description="Protect the Cluster object (and so its volumes) from a "
                          "stray `pulumi destroy`/replace.")
    high_availability: bool = Field(description=(
        "At least two instances on different nodes (anti-affinity required, not preferred)."))
    backup_retention_days: int = Field(ge=1, le=35, description=(
        "Intended backup retention. CNPG volume-snapshot backups have no retention policy: "
        "old snapshots must be pruned outside (see the restore runbook); recorded as an "
        "annotation on the ScheduledBackup."))
    storage_gb: int = Field(ge=1, description="Volume size per instance in GiB (unless "
                            "`storage_size` is given).")
    database: str = Field(default="mlflow", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="Database created at bootstrap.")
    username: str = Field(default="mlflow", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="Owner of `database` (a login role, not a superuser).")
    namespace: str = Field(pattern=DNS_LABEL, max_length=63,
                           description="Namespace of the Cluster, e.g. `mlflow`.")
    instances: int = Field(default=3, ge=1, le=9, description=(
        "PostgreSQL instances: one primary, the rest streaming standbys."))
    storage_size: str | None = Field(default=None, description=(
        "Volume size per instance as a Kubernetes quantity, e.g. `50Gi`; overrides storage_gb."))
    operator: InstanceOf[pulumi.Resource] = Field(
        description="The operator (e.g. `CloudNativePgOperator.release`); the Cluster waits "
                    "for its CRDs and webhooks.")
    operator_namespace: str = Field(default=OPERATOR_NAMESPACE, pattern=DNS_LABEL,
                                    description="Namespace of the operator's pods.")
    storage_class: str = Field(default=STORAGE_CLASS, description=(
        "StorageClass of the volumes: the cluster's default, encrypted one."))
    volume_snapshot_class: str | None = Field(default=None, description=(
        "VolumeSnapshotClass for backups of that StorageClass's volumes; None: no backups "
        "(the CSI driver must support snapshots)."))
    backup_schedule: str = Field(default="0 0 2 * * *", description=(
        "When backups run: six-field cron (with seconds), default daily 02:00."))
    image_name: str | None = Field(default=None, description=(
        "PostgreSQL operand image; None: `IMAGES['cnpg-postgresql']` if pinned, else the "
        "operator's default for its version."))
    request_cpu: str = Field(default="500m", description="CPU request per instance.")
    limit_cpu: str = Field(default="2", description="CPU limit per instance.")
    memory: str = Field(default="2Gi", description="Memory request and limit per instance "
                        "(equal: PostgreSQL must not be OOM-killed for bursting).")
    monitoring_crds: InstanceOf[pulumi.Resource] | None = Field(default=None, description=(
        "The Prometheus Operator CRDs of this cluster; given, a PodMonitor scrapes the "
        "instances' metrics endpoint (port 9187) after them."))
    api_server_cidrs: tuple[str, ...] = Field(default=DEFAULT_API_SERVER_CIDRS, min_length=1,
                                              description=(
        "Where the Kubernetes API server is; the instance manager in every pod talks to it. "
        "Narrow it to the API server's addresses (e.g. the on-prem CIDRs)."))
    api_server_ports: tuple[int, ...] = Field(default=DEFAULT_API_SERVER_PORTS, min_length=1,
                                              description="Ports the API server listens on.")
    client_pod_labels: dict[str, str] = Field(min_length=1, description=(
        "Labels of the client pods (in `namespace`) that may connect on 5432, e.g. MLflow's "
        "servers and migration Job; apart from them only the operator and the instances "
        "themselves are admitted."))

    @field_validator("storage_size", "request_cpu", "limit_cpu", "memory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None:
            quantity(value)
        return value

    @field_validator("api_server_cidrs")
    @classmethod
    def _no_everything(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            if ipaddress.ip_network(cidr, strict=True).prefixlen == 0:
                raise ValueError(f"{cidr} would open egress to everywhere; name the API server")
        return cidrs

    @model_validator(mode="after")
    def _consistent(self) -> OnPremPostgresArgs:
        if self.high_availability and self.instances < 2:
            raise ValueError("high_availability needs at least 2 instances")
        if quantity(self.limit_cpu) < quantity(self.request_cpu):
            raise ValueError(f"limit_cpu {self.limit_cpu} is below request_cpu {self.request_cpu}")
        if len(self.schedule_fields) != 6:
            raise ValueError(f"backup_schedule {self.backup_schedule!r}: six cron fields "
                             "(seconds first) expected")
        return self

    @property
    def schedule_fields(self) -> list[str]:
        return self.backup_schedule.split()

    @property
    def cluster_name(self) -> str:
        return f"{self.name}-postgres"

    @property
    def size(self) -> str:
        return self.storage_size or f"{self.storage_gb}Gi"


class OnPremPostgres(pulumi.ComponentResource):
    """A CloudNativePG `Cluster` with one database, its credentials and its network rules.

    Creates a generated password (RandomPassword) and from it the owner's credentials Secret
    (`kubernetes.io/basic-auth`); the `Cluster` bootstrapping `database` owned by `username`
    with those credentials; with `volume_snapshot_class` a `ScheduledBackup` (method
    volumeSnapshot); with `monitoring_crds` a `PodMonitor`; and NetworkPolicies letting the
    operator reach the instances (8000, 5432), the clients (`client_pod_labels`) reach
    5432, the instances reach each other and the API server. Pulumi counts the Cluster as
    created only once CNPG reports it `Ready`.

    Guarantees: `instances` pods, one per node (anti-affinity) and spread across zones where
    nodes carry zone labels; volumes on the encrypted StorageClass; PodDisruptionBudgets
    (more than one instance); TLS required for every TCP connection (non-TLS ones are
    rejected in pg_hba; CNPG serves certificates from its own CA, secret `<cluster>-ca`);
    no superuser access; the password never in plain text; backups only by non-deprecated
    means (volume snapshots, cold from a standby when there is one).

    Caller opts: providers=[the cluster's Kubernetes provider, the random provider].
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: str
    username: str
    password: pulumi.Output[str]
    sslmode: str
    cluster_name: str
    credentials_secret_name: pulumi.Output[str]
    ca_secret_name: str

    def __init__(self, name: str, args: OnPremPostgresArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:OnPremPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = object_labels(args.tags)
        ns, cluster_name = args.namespace, args.cluster_name
        selector = {"matchLabels": {CLUSTER_LABEL: cluster_name}}

        password = random.RandomPassword(
            f"{name}-password", length=32, special=False, min_lower=2, min_upper=2,
            min_numeric=2, opts=child,
        )
        # Secret on every path (the engine marks `result` secret; say it here too).
        secret_password = pulumi.Output.secret(password.result)
        secret_name = f"{cluster_name}-credentials"
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": secret_name, "namespace": ns, "labels": labels},
            type="kubernetes.io/basic-auth",
            string_data={"username": args.username, "password": secret_password},
            opts=child,
        )

        image_name = args.image_name or (
            image(POSTGRES_IMAGE_KEY) if POSTGRES_IMAGE_KEY in IMAGES else None)
        ha = args.instances > 1
        spec: dict = {
            "description": f"{args.database} database ({args.name})",
            "instances": args.instances,
            **({"imageName": image_name} if image_name else {}),
            # The standard tags onto every pod, volume and service CNPG makes (not Pulumi's
            # managed-by: CNPG manages those objects and labels them so itself).
            "inheritedMetadata": {"labels": {**k8s_labels(args.tags),
                                             "app.kubernetes.io/part-of": "hybrid-ml-platform"}},
            "enableSuperuserAccess": False,
            # Single instance: a budget would block every node drain; nothing to protect.
            "enablePDB": ha,
            "primaryUpdateStrategy": "unsupervised",
            "primaryUpdateMethod": "switchover",
            "storage": {"size": args.size, "storageClass": args.storage_class},
            "bootstrap": {"initdb": {
                "database": args.database,
                "owner": args.username,
                "secret": {"name": secret_name},
            }},
            "postgresql": {
                # After CNPG's own rules (local and streaming_replica over TLS client
                # certificates); before its catch-all: plain-text TCP is refused outright.
                "pg_hba": ["hostnossl all all all reject"],
            },
            "resources": {
                "requests": {"cpu": args.request_cpu, "memory": args.memory},
                "limits": {"cpu": args.limit_cpu, "memory": args.memory},
            },
            "affinity": {
                "enablePodAntiAffinity": True,
                "topologyKey": "kubernetes.io/hostname",
                "podAntiAffinityType": "required" if args.high_availability else "preferred",
            },
            # Zones where the nodes have them; on-prem sites without zone labels still schedule.
            "topologySpreadConstraints": [{
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            }],
        }
        if args.volume_snapshot_class is not None:
            spec["backup"] = {
                "target": "prefer-standby",
                "volumeSnapshot": {
                    "className": args.volume_snapshot_class,
                    # Without a WAL archive CNPG recommends cold snapshots; a standby is fenced
                    # for the snapshot, the primary never (hot only when it is alone).
                    "online": not ha,
                    # Snapshots outlive their Backup and the Cluster (a deleted Cluster must
                    # still be restorable).
                    "snapshotOwnerReference": "none",
                },
            }
        cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version=CNPG_API,
            kind="Cluster",
            metadata={"name": cluster_name, "namespace": ns, "labels": labels,
                      "annotations": dict(WAIT_FOR_READY)},
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[args.operator, secret]),
        )
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster])
        if args.volume_snapshot_class is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-scheduled-backup",
                api_version=CNPG_API,
                kind="ScheduledBackup",
                metadata={
                    "name": f"{cluster_name}-snapshots",
                    "namespace": ns,
                    "labels": labels,
                    "annotations": {
                        "hybridml.io/backup-retention-days": str(args.backup_retention_days)},
                },
                spec={
                    "schedule": args.backup_schedule,
                    "cluster": {"name": cluster_name},
                    "method": "volumeSnapshot",
                    "backupOwnerReference": "self",
                    # A first backup right after bootstrap, not a day later.
                    "immediate": True,
                },
                opts=after_cluster,
            )
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": cluster_name, "namespace": ns, "labels": labels},
                spec={"selector": selector, "podMetricsEndpoints": [{"port": "metrics"}]},
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[cluster, args.monitoring_crds]),
            )

        def allow(role: str, spec_: dict) -> None:
            network_policy(f"{name}-{role}", f"{cluster_name}-{role}", ns, args.tags, spec_,
                           self, pod_selector=selector)

        operator_pods = {"namespaceSelector": {"matchLabels": {
                             "kubernetes.io/metadata.name": args.operator_namespace}},
                         "podSelector": {"matchLabels": _OPERATOR_POD_LABELS}}
        tcp = [{"protocol": "TCP", "port": p} for p in (POSTGRES_PORT, STATUS_PORT)]
        # The operator polls each instance's status endpoint and connects to PostgreSQL.
        allow("from-operator", {"policyTypes": ["Ingress"],
                                "ingress": [{"from": [operator_pods], "ports": tcp}]})
        # The database's clients, by their pod labels (same namespace), on 5432 only.
        allow("from-clients", {"policyTypes": ["Ingress"], "ingress": [{
            "from": [{"podSelector": {"matchLabels": dict(args.client_pod_labels)}}],
            "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}]})
        # Streaming replication and the instance managers' peer checks.
        allow("between-instances", {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": selector}], "ports": tcp}],
            "egress": [{"to": [{"podSelector": selector}], "ports": tcp}],
        })
        # The instance manager (in every instance and bootstrap job) watches its Cluster.
        allow("to-api-server", {
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"ipBlock": {"cidr": c}} for c in args.api_server_cidrs],
                "ports": [{"protocol": "TCP", "port": p} for p in args.api_server_ports],
            }],
        })

        self.cluster_name = cluster_name
        # The read-write service always points at the primary (switchover and failover too).
        self.host = known_name(cluster, f"{cluster_name}-rw.{ns}.svc")
        self.port = cluster.urn.apply(lambda _: POSTGRES_PORT)
        self.database = args.database
        self.username = args.username
        self.password = secret_password
        # CNPG's server certificate is signed by its own CA; verify-full needs that CA.
        self.sslmode = "require"
        self.credentials_secret_name = known_name(secret, secret_name)
        self.ca_secret_name = f"{cluster_name}-ca"
        self.register_outputs({
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "password": self.password,
            "sslmode": self.sslmode,
            "cluster_name": self.cluster_name,
            "credentials_secret_name": self.credentials_secret_name,
            "ca_secret_name": self.ca_secret_name,
        })
