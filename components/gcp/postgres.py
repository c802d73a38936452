"""A private, CMEK-encrypted, TLS-only Cloud SQL for PostgreSQL instance (e.g. MLflow's backend
store)."""

from __future__ import annotations

import re

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.database import connection_outputs, generated_password
from components.gcp.kms import key_grant, regional_key
from components.inputs import StrInput
from components.regions import GCP_REGIONS
from components.tags import StandardTags, gcp_labels

#: Same major as the RDS component (see components/aws/postgres.py).
DATABASE_VERSION = "POSTGRES_17"
PORT = 5432
#: The instance only accepts TLS (`ENCRYPTED_ONLY`, no client certificates needed), so libpq's
#: `require` connects; verifying the server would need the instance's CA in every client.
SSL_MODE = "ENCRYPTED_ONLY"
SSLMODE = "require"
#: Letters and digits only: the password goes into a database URI without URL-encoding.
PASSWORD_LENGTH = 40
#: Connection, lock-wait and schema-change logging (Cloud Logging), as on RDS.
DATABASE_FLAGS: dict[str, str] = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_statement": "ddl",
}
#: Names Cloud SQL or PostgreSQL keep for themselves.
RESERVED_USERS = frozenset({"postgres", "cloudsqladmin", "cloudsqlsuperuser", "public"})

_IDENT = r"^[a-z][a-z0-9_]{0,62}$"
_NAME = r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$"
#: Cloud SQL's rule for an allocated range name (RFC 1035 label).
_RANGE_NAME = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
#: The smallest `retained_backups` Cloud SQL accepts here: it must exceed the days of
#: transaction log, which are at least 1.
MIN_RETAINED_BACKUPS = 2


def sql_service_agent(project_number: str) -> str:
    """The Cloud SQL service agent, which encrypts the instance's disks and backups with the CMEK
    (cloud.google.com/sql/docs/postgres/configure-cmek). The component takes the agent from
    its `ServiceIdentity` resource; this is its documented address, for docs and tests."""
    return f"service-{project_number}@gcp-sa-cloud-sql.iam.gserviceaccount.com"


def _caller_dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources the caller made the component depend on (e.g. the Private Service Access
    connection). Children do not inherit a component's `depends_on`, so the instance names them
    itself: created after them, and deleted before them on destroy."""
    deps = opts.depends_on if opts is not None else None
    if isinstance(deps, pulumi.Resource):
        return [deps]
    return [d for d in deps if isinstance(d, pulumi.Resource)] if isinstance(deps, list) else []


def transaction_log_days(retained_backups: int) -> int:
    """Days of write-ahead log kept for point-in-time recovery: Enterprise edition keeps 1-7,
    and Cloud SQL refuses as many as (or more than) the retained backups."""
    return min(7, retained_backups - 1)


class PostgresDatabaseArgs(BaseModel):
    """Arguments of a Cloud SQL for PostgreSQL database."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=_NAME, description="Logical database name, e.g. `mlflow`.")
    prefix: str = Field(pattern=_NAME, description="Name prefix, e.g. `hml-prod`.")
    tags: StandardTags = Field(description="Standard tags, applied as GCP labels.")
    protect: bool = Field(description="Protect instance, database, key ring and key; Cloud SQL "
                                      "deletion protection; backups kept after deletion.")
    high_availability: bool = Field(description="Regional availability: a standby in another zone.")
    backup_retention_days: int = Field(ge=1, le=35, description="Daily backups kept (at least "
                                       f"{MIN_RETAINED_BACKUPS} on Cloud SQL); point-in-time "
                                       "recovery reaches back min(7, this - 1) days.")
    storage_gb: int = Field(ge=10, le=16384, description="SSD disk size in GB (grows automatically).")
    database: str = Field(default="mlflow", pattern=_IDENT, description="Database created in the instance.")
    username: str = Field(default="mlflow", pattern=_IDENT,
                          description="Built-in login; its password is generated.")
    project: str = Field(description="GCP project id of the instance and key.")
    project_number: str = Field(pattern=r"^\d+$", description="Project number (for the Cloud SQL "
                                                              "service agent).")
    region: str = Field(description="GCP region of the instance and key ring.")
    network_id: StrInput = Field(description="VPC (`Network.network_id`) with Private Service "
                                 "Access; the only network the instance has an address in.")
    allocated_ip_range: StrInput | None = Field(default=None, description=(
        "Name of the Private Service Access range the private IP comes from, e.g. the "
        "region's own (`Network.private_services_range_names[region]`); None: Google picks "
        "any range of the peering."))
    tier: str = Field(default="db-custom-2-7680", pattern=r"^db-custom-\d+-\d+$",
                      description="Machine type (Enterprise edition custom tier).")

    @model_validator(mode="after")
    def _fits_cloud_sql(self) -> PostgresDatabaseArgs:
        problems = [] if self.region in GCP_REGIONS else [f"unknown GCP region {self.region!r}"]
        if self.username in RESERVED_USERS:
            problems.append(f"username {self.username!r} is reserved ({sorted(RESERVED_USERS)})")
        if self.backup_retention_days < MIN_RETAINED_BACKUPS:
            # Cloud SQL wants more retained backups than days of transaction log (at least 1).
            problems.append("backup_retention_days must be at least 2 on Cloud SQL (point-in-"
                            "time recovery keeps fewer days of log than backups)")
        if len(self.instance_name) > 63:
            problems.append(f"instance name {self.instance_name!r} is longer than 63 characters")
        if isinstance(self.allocated_ip_range, str) and not re.match(_RANGE_NAME,
                                                                      self.allocated_ip_range):
            problems.append(f"allocated_ip_range {self.allocated_ip_range!r} is not a range name")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def instance_name(self) -> str:
        """Instance id, unique per project: the region keeps two regions' instances apart."""
        return f"{self.prefix}-{self.name}-{self.region}"


class PostgresDatabase(pulumi.ComponentResource):
    """A Cloud SQL for PostgreSQL (Enterprise edition) instance, its database and login.

    Guarantees: private IP only (no public IPv4) on `network_id`; TLS required for every
    connection; disks and backups encrypted with the component's own Cloud KMS key in the
    instance's region (rotating every 90 days), which the Cloud SQL service agent is granted
    before the instance exists; daily backups with point-in-time recovery; connection, lock and
    DDL logging; regional HA when `high_availability`; and when `protect`: Pulumi protect on
    instance, database, key ring and key, deletion protection in Pulumi and in Cloud SQL, and
    backups kept after the instance is deleted.

    The password is a generated secret of letters and digits (no URL-encoding needed). Callers
    pass the GCP provider of the region and the random provider in `opts.providers`, and
    depend on the VPC's Private Service Access connection (`depends_on`).
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: str
    username: str
    password: pulumi.Output[str]
    sslmode: str
    key_id: pulumi.Output[str]
    connection_name: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresDatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:PostgresDatabase", name, None, opts)
        labels = gcp_labels(args.tags)
        caller = _caller_dependencies(opts)

        key = regional_key(name, self, ring_name=f"{args.prefix}-{args.name}-sql",
                           key_name=f"{args.prefix}-{args.name}-sql", project=args.project,
                           region=args.region, labels=labels, protect=args.protect,
                           destroy_after_days=30)
        grant = sql_agent_key_grant(name, args.project, key, caller, self)
        password = generated_password(name, self, PASSWORD_LENGTH, min_each=1)

        instance = gcp.sql.DatabaseInstance(
            f"{name}-instance",
            name=args.instance_name,
            project=args.project,
            region=args.region,
            database_version=DATABASE_VERSION,
            # Taken from the grant, so Cloud SQL never meets a key its agent cannot use.
            encryption_key_name=grant.crypto_key_id,
            deletion_protection=args.protect,
            settings=instance_settings(args, labels),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[grant, *caller]),
        )
        database_and_user(name, args, instance, password, self)

        self.host = instance.private_ip_address
        self.port = pulumi.Output.from_input(PORT)
        self.database = args.database
        self.username = args.username
        self.password = pulumi.Output.secret(password.result)
        self.sslmode = SSLMODE
        self.key_id = key.id
        self.connection_name = instance.connection_name
        self.register_outputs({
            **connection_outputs(self),
            "key_id": self.key_id,
            "connection_name": self.connection_name,
        })


def sql_agent_key_grant(
    name: str, project: str, key: gcp.kms.CryptoKey, caller: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> gcp.kms.CryptoKeyIAMMember:
    """The Cloud SQL service agent (asked into existence) and its use of the database key."""
    # The agent exists only once someone asks for it ("per-product, per-project service
    # account not found" otherwise); this resource asks, idempotently, as
    # `gcloud beta services identity create --service=sqladmin.googleapis.com` does. It
    # waits for the caller's dependencies too (the network's API services: the Cloud SQL
    # Admin API must be enabled first).
    agent = gcp.projects.ServiceIdentity(
        f"{name}-sql-agent", project=project, service="sqladmin.googleapis.com",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=caller))
    # The member is the agent resource's own output (`serviceAccount:<email>`), so the grant
    # names exactly the account the API created, and comes after it.
    return key_grant(f"{name}-key-sql-agent", key, agent.member, parent, depends_on=[agent])


def instance_settings(args: PostgresDatabaseArgs, labels: dict[str, str]) -> dict:
    """The instance's `settings`: Enterprise edition on SSD with autoresize, private IP only
    and TLS only, daily backups with point-in-time recovery, logging flags, query insights."""
    return {
        # POSTGRES_16+ default to ENTERPRISE_PLUS, which has no db-custom tiers.
        "edition": "ENTERPRISE",
        "tier": args.tier,
        "availability_type": "REGIONAL" if args.high_availability else "ZONAL",
        "disk_type": "PD_SSD",
        "disk_size": args.storage_gb,
        "disk_autoresize": True,
        "disk_autoresize_limit": args.storage_gb * 4,
        "deletion_protection_enabled": args.protect,
        "retain_backups_on_delete": args.protect,
        "ip_configuration": {
            "ipv4_enabled": False,
            "private_network": args.network_id,
            "ssl_mode": SSL_MODE,
            **({"allocated_ip_range": args.allocated_ip_range}
               if args.allocated_ip_range is not None else {}),
        },
        "backup_configuration": {
            "enabled": True,
            "start_time": "02:00",
            "point_in_time_recovery_enabled": True,
            "transaction_log_retention_days": transaction_log_days(args.backup_retention_days),
            "backup_retention_settings": {
                "retained_backups": args.backup_retention_days,
                "retention_unit": "COUNT",
            },
        },
        "maintenance_window": {"day": 7, "hour": 3, "update_track": "stable"},
        "database_flags": [{"name": k, "value": v} for k, v in DATABASE_FLAGS.items()],
        "insights_config": {"query_insights_enabled": True, "record_client_address": False},
        "user_labels": labels,
    }


def database_and_user(
    name: str, args: PostgresDatabaseArgs, instance: gcp.sql.DatabaseInstance,
    password: random.RandomPassword, parent: pulumi.Resource,
) -> tuple[gcp.sql.Database, gcp.sql.User]:
    """The database (protected with `protect`) and the built-in login that owns it."""
    database = gcp.sql.Database(
        f"{name}-database", name=args.database, instance=instance.name,
        project=args.project, opts=pulumi.ResourceOptions(parent=parent, protect=args.protect))
    user = gcp.sql.User(
        f"{name}-user", name=args.username, instance=instance.name, project=args.project,
        type="BUILT_IN", password=password.result,
        # PostgreSQL refuses to drop a role that owns objects; abandoning leaves it to the
        # database's fate instead of failing a destroy.
        deletion_policy="ABANDON",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[database]))
    return database, user
