"""Azure Database for PostgreSQL flexible server: private, CMK-encrypted, backed up, locked."""

from __future__ import annotations

import re
from typing import Any, Literal

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import naming
from components.azure.key_vault import (
    CustomerKey,
    CustomerKeyArgs,
    CustomerKeyNames,
    create_customer_key,
    random_suffix,
)
from components.database import connection_outputs, generated_password
from components.tags import StandardTags, azure_tags

#: Storage sizes (GiB) Premium SSD flexible servers offer; requests are rounded up to one.
STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
#: Azure keeps automated backups 7 to 35 days.
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 7, 35
POSTGRES_PORT = 5432
#: Administrator logins Azure refuses.
_RESERVED_LOGINS = frozenset({"azure_superuser", "azure_pg_admin", "admin", "administrator",
                              "root", "guest", "public"})
_SKU = re.compile(r"^Standard_(?P<family>[A-Z])\d+[a-z]*_v\d+$")
_SKU_TIERS = {"D": "GeneralPurpose", "E": "MemoryOptimized"}


def storage_size_gb(requested: int) -> int:
    """The smallest size Azure offers that holds `requested` GiB."""
    for size in STORAGE_SIZES_GB:
        if size >= requested:
            return size
    raise ValueError(f"{requested} GiB is more than the largest flexible server "
                     f"({STORAGE_SIZES_GB[-1]} GiB)")


def retention_days(requested: int) -> int:
    """Backup retention Azure accepts: fewer than 7 days are raised to 7 (its minimum)."""
    return max(MIN_RETENTION_DAYS, requested)


class PostgresDatabaseArgs(BaseModel):
    """Arguments of an Azure Database for PostgreSQL flexible server with one database."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$",
                      description="Logical name, e.g. `mlflow`; part of every resource name.")
    prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$",
                        description="Name prefix, e.g. `hml-prod`.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(description="Protect the server, database, vault, key, the key's "
                          "identity and role assignment, and put a CanNotDelete management "
                          "lock on the server.")
    high_availability: bool = Field(description="Zone-redundant standby in another availability "
                                    "zone of the location (synchronous, automatic failover).")
    backup_retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, description=(
        "Days automated backups (point-in-time restore) are kept; Azure's minimum is 7, so "
        "fewer days are raised to 7."))
    storage_gb: int = Field(ge=1, le=STORAGE_SIZES_GB[-1], description=(
        "Storage in GiB, rounded up to a size Azure offers (32, 64, 128, ... GiB); storage "
        "grows automatically beyond it when nearly full."))
    database: str = Field(default="mlflow", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="Name of the database created on the server.")
    username: str = Field(default="mlflow", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="Administrator login of the server (owner of `database`).")
    subscription_id: str = Field(description="Subscription that holds the server.")
    tenant_id: str = Field(description="Entra ID tenant of the Key Vaults.")
    location: str = Field(description="Azure location of the server, e.g. `westeurope`.")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group of the server, its vault, identity and DNS zone.")
    delegated_subnet_id: str | pulumi.Output[str] = Field(description=(
        "Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers "
        "(`Network.subnet_ids['postgres']`)."))
    vnet_id: str | pulumi.Output[str] = Field(
        description="VNet of that subnet; the private DNS zone is linked to it.")
    sku_name: str = Field(default="Standard_D2ds_v5", description=(
        "Compute size, General Purpose (`Standard_D...`) or Memory Optimized (`Standard_E...`); "
        "Burstable sizes support neither customer-managed keys nor high availability."))
    postgres_version: Literal["16", "17"] = Field(
        default="17", description="PostgreSQL major version.")
    key_size: Literal[2048, 3072, 4096] = Field(
        default=4096, description="RSA key size of the customer-managed key (4096 recommended).")
    geo_backup_location: str | None = Field(default=None, description=(
        "The location's paired region, where Azure keeps geo-redundant backups; enables them "
        "with a key vault, key and identity of their own there. None: backups stay in "
        "`location` (zone-redundant where the location has zones), the data never leaves it."))

    @field_validator("username")
    @classmethod
    def _login_allowed(cls, value: str) -> str:
        if value in _RESERVED_LOGINS or value.startswith("pg_"):
            raise ValueError(f"{value!r} is reserved by Azure as an administrator login")
        return value

    @field_validator("sku_name")
    @classmethod
    def _sku_supports_cmk(cls, value: str) -> str:
        match = _SKU.match(value)
        if match is None or match["family"] not in _SKU_TIERS:
            raise ValueError(f"{value!r}: use a General Purpose (Standard_D...) or Memory "
                             "Optimized (Standard_E...) size; Burstable sizes cannot use a "
                             "customer-managed key")
        return value

    @model_validator(mode="after")
    def _geo_elsewhere(self) -> PostgresDatabaseArgs:
        if self.geo_backup_location is not None and self.geo_backup_location == self.location:
            raise ValueError("geo_backup_location must be the paired region, not the location")
        if len(f"psql-{self.prefix}-{self.name}-000000") > 63:
            raise ValueError("prefix and name are too long for a server name (63 characters)")
        return self

    @property
    def tier(self) -> str:
        match = _SKU.match(self.sku_name)
        assert match is not None  # checked by the validator
        return _SKU_TIERS[match["family"]]


class PostgresDatabase(pulumi.ComponentResource):
    """A VNet-integrated PostgreSQL flexible server with one database.

    Creates a user-assigned identity, a purge-protected, firewalled, RBAC-only Key Vault
    (premium, 90-day soft delete) with an RSA-HSM key that rotates yearly, the identity's
    "Key Vault Crypto Service Encryption User" grant on that key, a private DNS zone
    `<prefix>-<name>.private.postgres.database.azure.com` linked to the VNet, the server,
    its `require_secure_transport` parameter, the database and (with `protect`) a
    CanNotDelete management lock.

    Guarantees: no public endpoint (VNet-integrated in the delegated subnet, public network
    access disabled); data, logs and backups encrypted with the customer-managed key, which
    the server follows to each new key version by itself (versionless key URI); TLS required
    on every connection; automated backups kept `backup_retention_days` (at least 7), geo-
    redundant only with `geo_backup_location`; a zone-redundant standby with
    `high_availability`; the administrator password generated (32 characters) and kept a
    secret; `protect` on server, database, vault, key, the key's identity and its grant (the
    server turns Inaccessible without them), plus the lock, since Azure has no
    deletion-protection flag for flexible servers. The database is created after the server
    parameters: a flexible server refuses a second operation while one is running.

    Caller opts: providers=[the Azure provider of `location`, the random provider].
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: str
    username: str
    password: pulumi.Output[str]
    sslmode: str
    server_id: pulumi.Output[str]
    server_name: pulumi.Output[str]
    key_vault_id: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresDatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:PostgresDatabase", name, None, opts)
        tags = azure_tags(args.tags)
        password = generated_password(name, self, length=32, min_each=2)
        # Server and vault names are global; a random suffix keeps them unique.
        suffix = random_suffix(f"{name}-suffix", self)
        # Secret on every path (the engine marks `result` secret; say it here too, so nothing
        # depends on that).
        secret_password = pulumi.Output.secret(password.result)
        stem = naming.azure_compact(args.prefix, args.name, 14)
        primary = create_customer_key(
            _customer_key_args(name, "cmk", args, args.location, f"kv{stem}p", suffix, tags), self)
        geo = None
        if args.geo_backup_location is not None:
            # Azure wants the geo-backup key in the paired region, reached by another identity.
            geo = create_customer_key(_customer_key_args(
                f"{name}-geo", "geo-cmk", args, args.geo_backup_location, f"kv{stem}g", suffix,
                tags), self)
        zone, link = _private_dns(name, args, tags, self)
        server = _server(name, args, suffix, secret_password, primary, geo, zone, link, tags,
                         self)
        db = _database(name, args, server, self)
        if args.protect:
            _delete_lock(name, server, self)

        # The FQDN Azure gives every server; inside the VNet it resolves (through the linked
        # zone) to the server's private address.
        self.host = pulumi.Output.concat(server.name, ".postgres.database.azure.com")
        # Known at preview, yet whoever uses it waits for the database to exist.
        self.port = db.urn.apply(lambda _: POSTGRES_PORT)
        self.database = args.database
        self.username = args.username
        self.password = secret_password
        self.sslmode = "require"
        self.server_id = server.id
        self.server_name = server.name
        self.key_vault_id = primary.vault.id
        self.register_outputs({
            **connection_outputs(self),
            "server_id": self.server_id,
            "server_name": self.server_name,
            "key_vault_id": self.key_vault_id,
        })


def _customer_key_args(name: str, role: str, args: PostgresDatabaseArgs, location: str,
                       vault_stem: str, suffix: random.RandomString,
                       tags: dict[str, str]) -> CustomerKeyArgs:
    """A vault with one key in `location`, and an identity allowed to wrap with it.

    The identity and its grant are as vital as the key: without them the server cannot
    unwrap its data key and turns Inaccessible, so they are protected like the key. The grant
    is on the key, not the vault. The flexible server is a trusted service and bypasses the
    vault's firewall. The key's versions expire two years after they were made; a new one
    comes after one year and the server moves to it, so the key in use never expires.
    """
    return CustomerKeyArgs(
        names=CustomerKeyNames.for_role(name, role),
        identity_name=f"id-{args.prefix}-{args.name}-pg-{role}",
        vault_name=pulumi.Output.concat(vault_stem, suffix.result),
        key_name=f"postgres-{role}",
        key_size=args.key_size,
        subscription_id=args.subscription_id,
        tenant_id=args.tenant_id,
        location=location,
        resource_group_name=args.resource_group_name,
        tags=tags,
        protect=args.protect,
        grant_scope="key",
        protect_identity=args.protect,
    )


def private_zone_name(prefix: str, name: str) -> str:
    """The server's private DNS zone (a flexible server needs one ending in this suffix)."""
    return f"{prefix}-{name}.private.postgres.database.azure.com"


def _private_dns(name: str, args: PostgresDatabaseArgs, tags: dict[str, str],
                 parent: pulumi.Resource
                 ) -> tuple[azure.privatedns.PrivateZone, azure.privatedns.VirtualNetworkLink]:
    """The server's private DNS zone, linked to the VNet."""
    child = pulumi.ResourceOptions(parent=parent)
    zone = azure.privatedns.PrivateZone(
        f"{name}-dns-zone",
        private_zone_name=private_zone_name(args.prefix, args.name),
        resource_group_name=args.resource_group_name,
        # Private DNS zones are global resources; Azure refuses any other location.
        location="global",
        tags=tags,
        opts=child,
    )
    link = azure.privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        virtual_network_link_name=f"{args.prefix}-{args.name}-vnet",
        private_zone_name=zone.name,
        resource_group_name=args.resource_group_name,
        location="global",
        virtual_network={"id": args.vnet_id},
        # The server registers its own record; VMs of the VNet must not.
        registration_enabled=False,
        tags=tags,
        opts=child,
    )
    return zone, link


def data_encryption(primary: CustomerKey, geo: CustomerKey | None) -> dict[str, pulumi.Input[str]]:
    """The server's data encryption: the primary key, plus the geo-backup key when given."""
    settings: dict[str, pulumi.Input[str]] = {
        "type": "AzureKeyVault",
        # Versionless: the server adopts each new key version the rotation policy creates.
        "primary_key_uri": primary.key.key_uri,
        "primary_user_assigned_identity_id": primary.identity.id,
    }
    if geo is not None:
        settings["geo_backup_key_uri"] = geo.key.key_uri
        settings["geo_backup_user_assigned_identity_id"] = geo.identity.id
    return settings


def backup_settings(retention: int, geo_redundant: bool) -> dict[str, Any]:
    """Automated backups kept `retention` days (raised to Azure's minimum), geo-redundant or not."""
    return {
        "backup_retention_days": retention_days(retention),
        "geo_redundant_backup": "Enabled" if geo_redundant else "Disabled",
    }


#: Sunday 02:00 UTC: patches land in a quiet hour, not at a random one.
MAINTENANCE_WINDOW = {"custom_window": "Enabled", "day_of_week": 0, "start_hour": 2,
                      "start_minute": 0}


def _server(name: str, args: PostgresDatabaseArgs, suffix: random.RandomString,
            password: pulumi.Output[str], primary: CustomerKey, geo: CustomerKey | None,
            zone: azure.privatedns.PrivateZone, link: azure.privatedns.VirtualNetworkLink,
            tags: dict[str, str], parent: pulumi.Resource) -> azure.dbforpostgresql.Server:
    keys = [primary, *([geo] if geo is not None else [])]
    return azure.dbforpostgresql.Server(
        f"{name}-server",
        server_name=pulumi.Output.concat("psql-", args.prefix, "-", args.name, "-",
                                         suffix.result),
        resource_group_name=args.resource_group_name,
        location=args.location,
        create_mode="Create",
        version=args.postgres_version,
        sku={"name": args.sku_name, "tier": args.tier},
        storage={"storage_size_gb": storage_size_gb(args.storage_gb), "auto_grow": "Enabled",
                 "type": "Premium_LRS"},
        administrator_login=args.username,
        administrator_login_password=password,
        auth_config={"password_auth": "Enabled", "active_directory_auth": "Disabled"},
        network={
            "delegated_subnet_resource_id": args.delegated_subnet_id,
            "private_dns_zone_arm_resource_id": zone.id,
            "public_network_access": "Disabled",
        },
        identity=pulumi.Output.all(*[k.identity.id for k in keys]).apply(
            lambda ids: {"type": "UserAssigned",
                         "user_assigned_identities": {i: {} for i in ids}}),
        data_encryption=data_encryption(primary, geo),
        backup=backup_settings(args.backup_retention_days, geo is not None),
        high_availability={"mode": "ZoneRedundant" if args.high_availability else "Disabled"},
        maintenance_window=MAINTENANCE_WINDOW,
        tags=tags,
        # Without the key grants the server cannot reach its key and creation fails;
        # without the VNet link its name would not resolve inside the VNet.
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect,
                                    depends_on=[*(k.grant for k in keys), link]),
    )


def _database(name: str, args: PostgresDatabaseArgs, server: azure.dbforpostgresql.Server,
              parent: pulumi.Resource) -> azure.dbforpostgresql.Database:
    """`require_secure_transport`, then the database (one operation at a time on a server)."""
    # On by default today; set explicitly so a console change shows up as drift.
    require_tls = azure.dbforpostgresql.Configuration(
        f"{name}-require-tls",
        resource_group_name=args.resource_group_name,
        server_name=server.name,
        configuration_name="require_secure_transport",
        value="on",
        source="user-override",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return azure.dbforpostgresql.Database(
        f"{name}-database",
        resource_group_name=args.resource_group_name,
        server_name=server.name,
        database_name=args.database,
        charset="UTF8",
        collation="en_US.utf8",
        # One operation at a time on a flexible server: after the parameter change.
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect,
                                    depends_on=[require_tls]),
    )


def _delete_lock(name: str, server: azure.dbforpostgresql.Server,
                 parent: pulumi.Resource) -> None:
    """CanNotDelete on the server: Azure has no deletion-protection flag for flexible servers."""
    azure.authorization.ManagementLockByScope(
        f"{name}-delete-lock",
        scope=server.id,
        lock_name="do-not-delete",
        level="CanNotDelete",
        notes="Holds the MLflow backend store; remove this lock on purpose before "
              "deleting the server.",
        opts=pulumi.ResourceOptions(parent=parent),
    )
