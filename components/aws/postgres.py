"""A private, encrypted, TLS-only RDS for PostgreSQL instance (e.g. MLflow's backend store)."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import naming
from components.aws.kms import (
    account_administers,
    customer_managed_key,
    encrypted_log_group,
    log_group_arn,
    logs_encrypt,
    policy_document,
)
from components.aws.network import LOG_RETENTION_DAYS
from components.database import connection_outputs, generated_password
from components.inputs import StrInput
from components.regions import AWS_REGIONS
from components.tags import StandardTags, aws_tags

#: PostgreSQL major version. 17 is GA on both RDS and Cloud SQL (RDS also offers 18); the two
#: clouds stay on one major so a backend store moves between them with plain pg_dump/restore.
POSTGRES_MAJOR = 17
PORT = 5432
#: libpq sslmode clients use: the server refuses plain connections (rds.force_ssl); verifying
#: the server would need the RDS CA bundle in every client image.
SSLMODE = "require"
#: The RDS CA the server certificate chains to (for clients that want verify-full later).
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
#: Letters and digits only: the password goes into a database URI without URL-encoding.
PASSWORD_LENGTH = 40
#: The one log type RDS for PostgreSQL exports besides `upgrade`: server log incl. connections.
LOG_EXPORTS = ("postgresql",)
#: Dynamic parameters (apply without reboot): TLS forced at 1.2+, connections, lock waits and
#: schema changes logged (who connected and what migrations did, for audit and support).
PARAMETERS: dict[str, str] = {
    "rds.force_ssl": "1",
    "ssl_min_protocol_version": "TLSv1.2",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_lock_waits": "1",
    "log_statement": "ddl",
}
#: Names the engine or the service keeps for itself.
RESERVED_USERS = frozenset({"postgres", "rdsadmin", "rdsrepladmin", "rds_superuser", "public"})

_IDENT = r"^[a-z][a-z0-9_]{0,62}$"
_NAME = r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$"


class PostgresDatabaseArgs(BaseModel):
    """Arguments of an RDS for PostgreSQL database."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=_NAME, description="Logical database name, e.g. `mlflow`.")
    prefix: str = Field(pattern=_NAME, description="Name prefix, e.g. `hml-prod`.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(description="Protect instance and key; RDS deletion protection, a "
                                      "final snapshot and automated backups kept on delete.")
    high_availability: bool = Field(description="Multi-AZ: a synchronous standby in another AZ.")
    backup_retention_days: int = Field(ge=1, le=35, description="Days automated backups (and "
                                                                "point-in-time recovery) reach back.")
    storage_gb: int = Field(ge=20, le=16384, description="Allocated gp3 storage in GiB.")
    database: str = Field(default="mlflow", pattern=_IDENT, description="Database created in the instance.")
    username: str = Field(default="mlflow", pattern=_IDENT,
                          description="Master (owner) login; its password is generated.")
    region: str = Field(description="AWS region (must match the provider).")
    account_id: str = Field(pattern=r"^\d{12}$", description="AWS account that owns the instance.")
    vpc_id: StrInput = Field(description="VPC of the instance (`Network.vpc_id`).")
    subnet_ids: list[StrInput] = Field(min_length=2, description="Private subnets in at least two "
                                       "AZs (`Network.private_subnet_ids`).")
    client_cidrs: tuple[str, ...] = Field(min_length=1, description="Private ranges allowed to "
                                          "reach 5432, e.g. the VPC CIDR; nothing else is.")
    instance_class: str = Field(default="db.m7g.large", pattern=r"^db\.[a-z0-9-]+\.[a-z0-9]+$",
                                description="RDS instance class.")
    max_storage_gb: int | None = Field(default=None, description="Storage autoscaling ceiling in "
                                       "GiB; default four times `storage_gb`.")
    log_retention_days: int = Field(default=30, description="Days the exported PostgreSQL log is "
                                    "kept in CloudWatch Logs.")
    performance_insights: bool = Field(default=True, description="Database Insights (standard) "
                                       "with Performance Insights, 7 days (free tier), KMS-encrypted.")

    @field_validator("client_cidrs")
    @classmethod
    def _private_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            net = ipaddress.ip_network(cidr, strict=True)
            # Never 0.0.0.0/0 or any public range: the database is for the platform's own clients.
            # Non-public means not globally routable (IANA): RFC 1918 and also the shared space
            # 100.64.0.0/10 that the platform's config allows as an extra private range.
            if net.version != 4 or net.is_global:
                raise ValueError(f"client CIDR {cidr} is not a private (non-public) IPv4 range")
        return value

    @model_validator(mode="after")
    def _fits_rds(self) -> PostgresDatabaseArgs:
        problems = [] if self.region in AWS_REGIONS else [f"unknown AWS region {self.region!r}"]
        if self.username in RESERVED_USERS:
            problems.append(f"username {self.username!r} is reserved ({sorted(RESERVED_USERS)})")
        if self.max_storage_gb is not None and not self.storage_gb < self.max_storage_gb <= 65536:
            problems.append(f"max_storage_gb must be above storage_gb ({self.storage_gb}) and at "
                            "most 65536")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.append(f"CloudWatch Logs keeps logs {sorted(LOG_RETENTION_DAYS)} days only")
        if len(self.identifier) > 63:
            problems.append(f"identifier {self.identifier!r} is longer than 63 characters")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def identifier(self) -> str:
        """The DB instance identifier, e.g. `hml-prod-mlflow`."""
        return f"{self.prefix}-{self.name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/rds/instance/{self.identifier}/postgresql"


def key_policy(account_id: str, region: str, log_group_arn: str) -> str:
    """The database key's policy: the account administers it (RDS and Performance Insights use
    it through grants made for the caller), and CloudWatch Logs encrypts the one log group."""
    return policy_document(account_administers(account_id),
                           logs_encrypt("CloudWatchLogsEncryptsDatabaseLog", region, log_group_arn))


class PostgresDatabase(pulumi.ComponentResource):
    """An RDS for PostgreSQL instance in private subnets, with its own key and firewall.

    Guarantees: no public endpoint; a security group admitting 5432 only from `client_cidrs`
    (no egress rules at all); storage, Performance Insights and the exported server log
    encrypted with the component's own customer-managed KMS key (rotating yearly); TLS 1.2+
    forced (`rds.force_ssl`); gp3 storage with autoscaling; automated backups with
    point-in-time recovery for `backup_retention_days`; automatic minor upgrades; Multi-AZ when
    `high_availability`; and when `protect`: Pulumi protect on instance, key and log group, RDS
    deletion protection, a final snapshot and automated backups kept after deletion. The final
    snapshot is named `<identifier>-final-<8 hex>`, the suffix a RandomId made with the
    instance (and renewed with every new key, i.e. every new instance generation), so
    deleting a recreated instance never collides with the snapshot of an earlier one; the
    suffix lives in the stack state, so previews and updates keep the name stable.

    The master password is a generated secret of letters and digits (no URL-encoding needed).
    Callers pass the AWS provider of the region and the random provider in `opts.providers`.
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: str
    username: str
    password: pulumi.Output[str]
    sslmode: str
    security_group_id: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    instance_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresDatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:PostgresDatabase", name, None, opts)
        tags = aws_tags(args.tags)

        key, log_group = database_key_and_logs(name, args, tags, self)
        password = generated_password(name, self, PASSWORD_LENGTH, min_each=1)
        security_group = database_security_group(name, args, tags, self)
        subnet_group, parameters = subnet_and_parameter_groups(name, args, tags, self)
        final_snapshot = final_snapshot_identifier(name, args, key, self)
        instance = aws.rds.Instance(
            f"{name}-instance",
            **instance_settings(args),
            password=password.result,
            kms_key_id=key.arn,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            final_snapshot_identifier=final_snapshot,
            performance_insights_kms_key_id=key.arn if args.performance_insights else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[log_group]),
        )

        self.host = instance.address
        self.port = instance.port
        self.database = args.database
        self.username = args.username
        self.password = pulumi.Output.secret(password.result)
        self.sslmode = SSLMODE
        self.security_group_id = security_group.id
        self.key_arn = key.arn
        self.instance_arn = instance.arn
        self.register_outputs({
            **connection_outputs(self),
            "security_group_id": self.security_group_id,
            "key_arn": self.key_arn,
            "instance_arn": self.instance_arn,
        })


def instance_settings(args: PostgresDatabaseArgs) -> dict:
    """The RDS instance's inputs that follow from the arguments alone (no other resource):
    engine, sizing, network exposure, backups, protection, log exports and insights."""
    insights = args.performance_insights
    return {
        "identifier": args.identifier,
        "engine": "postgres",
        "engine_version": str(POSTGRES_MAJOR),
        "auto_minor_version_upgrade": True,
        "instance_class": args.instance_class,
        "db_name": args.database,
        "username": args.username,
        "port": PORT,
        "allocated_storage": args.storage_gb,
        "max_allocated_storage": args.max_storage_gb or args.storage_gb * 4,
        "storage_type": "gp3",
        "storage_encrypted": True,
        "publicly_accessible": False,
        "ca_cert_identifier": CA_CERT_IDENTIFIER,
        "multi_az": args.high_availability,
        "backup_retention_period": args.backup_retention_days,
        "backup_window": "02:00-03:00",
        "maintenance_window": "sun:03:30-sun:04:30",
        "copy_tags_to_snapshot": True,
        "deletion_protection": args.protect,
        "skip_final_snapshot": not args.protect,
        "delete_automated_backups": not args.protect,
        "enabled_cloudwatch_logs_exports": list(LOG_EXPORTS),
        "database_insights_mode": "standard" if insights else None,
        "performance_insights_enabled": insights,
        "performance_insights_retention_period": 7 if insights else None,
    }


def parameter_list() -> list[dict[str, str]]:
    """`PARAMETERS` as the parameter group wants them, each applied immediately."""
    return [{"name": k, "value": v, "apply_method": "immediate"} for k, v in PARAMETERS.items()]


def database_key_and_logs(
    name: str, args: PostgresDatabaseArgs, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
    """The database's own KMS key and the encrypted log group its server log is exported to."""
    ident = args.identifier
    key = customer_managed_key(
        f"{name}-key", description=f"Encrypts the {ident} PostgreSQL database and its logs",
        policy=key_policy(args.account_id, args.region,
                          log_group_arn(args.region, args.account_id, args.log_group_name)),
        alias=naming.kms_alias(ident, "db"), tags=tags, parent=parent, protect=args.protect)
    # Created before the instance so RDS exports into it instead of creating an
    # unencrypted, never-expiring group of its own.
    log_group = encrypted_log_group(
        f"{name}-logs", group_name=args.log_group_name, key=key,
        retention_days=args.log_retention_days, tags=tags, parent=parent, protect=args.protect)
    return key, log_group


def database_security_group(
    name: str, args: PostgresDatabaseArgs, tags: dict[str, str], parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """The instance's security group: 5432 from `client_cidrs` only, no egress rules."""
    child = pulumi.ResourceOptions(parent=parent)
    ident = args.identifier
    security_group = aws.ec2.SecurityGroup(
        f"{name}-sg", name=f"{ident}-db", vpc_id=args.vpc_id,
        description=f"PostgreSQL {ident}: 5432 from the platform's clients only",
        # No egress rules: the provider removes AWS's default allow-all egress, and the
        # database only answers connections (security groups are stateful).
        tags={**tags, "Name": f"{ident}-db"}, opts=child)
    for i, cidr in enumerate(args.client_cidrs):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-sg-client-{i}", security_group_id=security_group.id,
            ip_protocol="tcp", from_port=PORT, to_port=PORT, cidr_ipv4=cidr,
            description=f"PostgreSQL from {cidr}", tags=tags, opts=child)
    return security_group


def subnet_and_parameter_groups(
    name: str, args: PostgresDatabaseArgs, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[aws.rds.SubnetGroup, aws.rds.ParameterGroup]:
    """The DB subnet group (private subnets) and the parameter group (`PARAMETERS`)."""
    child = pulumi.ResourceOptions(parent=parent)
    ident = args.identifier
    subnet_group = aws.rds.SubnetGroup(
        f"{name}-subnets", name=ident, subnet_ids=args.subnet_ids,
        description=f"Private subnets of PostgreSQL {ident}", tags=tags, opts=child)
    parameters = aws.rds.ParameterGroup(
        f"{name}-params", name=f"{ident}-pg{POSTGRES_MAJOR}",
        family=f"postgres{POSTGRES_MAJOR}",
        description=f"PostgreSQL {ident}: TLS only, connection and DDL logging",
        parameters=parameter_list(), tags=tags, opts=child)
    return subnet_group, parameters


def final_snapshot_identifier(
    name: str, args: PostgresDatabaseArgs, key: aws.kms.Key, parent: pulumi.Resource,
) -> pulumi.Output[str] | None:
    """`<identifier>-final-<8 hex>` when `protect` (None otherwise: no final snapshot)."""
    if not args.protect:
        return None
    ident = args.identifier
    # Unique per instance generation, stable across previews (it is state): a second
    # delete of a recreated `ident` must not collide with the first final snapshot.
    # A new key always means a new instance (RDS cannot re-encrypt one in place).
    suffix = random.RandomId(
        f"{name}-final-snapshot-suffix", byte_length=4,
        keepers={"identifier": ident, "kms_key": key.arn},
        opts=pulumi.ResourceOptions(parent=parent))
    return pulumi.Output.concat(ident, "-final-", suffix.hex)
