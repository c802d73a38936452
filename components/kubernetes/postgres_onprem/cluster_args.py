"""OnPremPostgres's arguments and the facts of a CNPG Cluster it relies on (API, labels,
ports, readiness wait), validated before any object exists."""

from __future__ import annotations

import ipaddress

import pulumi
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.objects import quantity
from components.kubernetes.postgres_onprem.cnpg_operator import OPERATOR_NAMESPACE
from components.naming import DNS_LABEL
from components.tags import StandardTags

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
