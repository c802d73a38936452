"""Azure Database for PostgreSQL flexible server: private, CMK-encrypted, backed up, locked."""

from __future__ import annotations

import re
from typing import Literal

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import naming
from components.tags import StandardTags, azure_tags

#: Built-in role "Key Vault Crypto Service Encryption User" (get, wrap and unwrap a key): what
#: the flexible server's identity needs on its key (Microsoft's "preferred" RBAC setup).
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
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
        child = pulumi.ResourceOptions(parent=self)
        tags = azure_tags(args.tags)
        group, loc = args.resource_group_name, args.location

        password = random.RandomPassword(
            f"{name}-password", length=32, special=False, min_lower=2, min_upper=2,
            min_numeric=2, opts=child,
        )
        # Server and vault names are global; a random suffix keeps them unique.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, special=False, upper=False, numeric=True, lower=True,
            opts=child,
        )
        # Secret on every path (the engine marks `result` secret; say it here too, so nothing
        # depends on that).
        secret_password = pulumi.Output.secret(password.result)
        stem = naming.azure_compact(args.prefix, args.name, 14)

        primary = self._key_access(name, "cmk", args, loc, f"kv{stem}p", suffix, tags)
        keys = [primary]
        geo = None
        if args.geo_backup_location is not None:
            # Azure wants the geo-backup key in the paired region, reached by another identity.
            geo = self._key_access(f"{name}-geo", "geo-cmk", args, args.geo_backup_location,
                                   f"kv{stem}g", suffix, tags)
            keys.append(geo)

        zone_name = f"{args.prefix}-{args.name}.private.postgres.database.azure.com"
        zone = azure.privatedns.PrivateZone(
            f"{name}-dns-zone",
            private_zone_name=zone_name,
            resource_group_name=group,
            # Private DNS zones are global resources; Azure refuses any other location.
            location="global",
            tags=tags,
            opts=child,
        )
        link = azure.privatedns.VirtualNetworkLink(
            f"{name}-dns-link",
            virtual_network_link_name=f"{args.prefix}-{args.name}-vnet",
            private_zone_name=zone.name,
            resource_group_name=group,
            location="global",
            virtual_network={"id": args.vnet_id},
            # The server registers its own record; VMs of the VNet must not.
            registration_enabled=False,
            tags=tags,
            opts=child,
        )

        data_encryption: dict[str, pulumi.Input[str]] = {
            "type": "AzureKeyVault",
            # Versionless: the server adopts each new key version the rotation policy creates.
            "primary_key_uri": primary.key.key_uri,
            "primary_user_assigned_identity_id": primary.identity.id,
        }
        if geo is not None:
            data_encryption["geo_backup_key_uri"] = geo.key.key_uri
            data_encryption["geo_backup_user_assigned_identity_id"] = geo.identity.id
        server_name = pulumi.Output.concat("psql-", args.prefix, "-", args.name, "-",
                                           suffix.result)
        server = azure.dbforpostgresql.Server(
            f"{name}-server",
            server_name=server_name,
            resource_group_name=group,
            location=loc,
            create_mode="Create",
            version=args.postgres_version,
            sku={"name": args.sku_name, "tier": args.tier},
            storage={"storage_size_gb": storage_size_gb(args.storage_gb), "auto_grow": "Enabled",
                     "type": "Premium_LRS"},
            administrator_login=args.username,
            administrator_login_password=secret_password,
            auth_config={"password_auth": "Enabled", "active_directory_auth": "Disabled"},
            network={
                "delegated_subnet_resource_id": args.delegated_subnet_id,
                "private_dns_zone_arm_resource_id": zone.id,
                "public_network_access": "Disabled",
            },
            identity=pulumi.Output.all(*[k.identity.id for k in keys]).apply(
                lambda ids: {"type": "UserAssigned",
                             "user_assigned_identities": {i: {} for i in ids}}),
            data_encryption=data_encryption,
            backup={
                "backup_retention_days": retention_days(args.backup_retention_days),
                "geo_redundant_backup": "Enabled" if geo is not None else "Disabled",
            },
            high_availability={"mode": "ZoneRedundant" if args.high_availability else "Disabled"},
            # Sunday 02:00 UTC: patches land in a quiet hour, not at a random one.
            maintenance_window={"custom_window": "Enabled", "day_of_week": 0, "start_hour": 2,
                                "start_minute": 0},
            tags=tags,
            # Without the key grants the server cannot reach its key and creation fails;
            # without the VNet link its name would not resolve inside the VNet.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[*(k.grant for k in keys), link]),
        )
        # On by default today; set explicitly so a console change shows up as drift.
        require_tls = azure.dbforpostgresql.Configuration(
            f"{name}-require-tls",
            resource_group_name=group,
            server_name=server.name,
            configuration_name="require_secure_transport",
            value="on",
            source="user-override",
            opts=child,
        )
        db = azure.dbforpostgresql.Database(
            f"{name}-database",
            resource_group_name=group,
            server_name=server.name,
            database_name=args.database,
            charset="UTF8",
            collation="en_US.utf8",
            # One operation at a time on a flexible server: after the parameter change.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[require_tls]),
        )
        if args.protect:
            azure.authorization.ManagementLockByScope(
                f"{name}-delete-lock",
                scope=server.id,
                lock_name="do-not-delete",
                level="CanNotDelete",
                notes="Holds the MLflow backend store; remove this lock on purpose before "
                      "deleting the server.",
                opts=child,
            )

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
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "password": self.password,
            "sslmode": self.sslmode,
            "server_id": self.server_id,
            "server_name": self.server_name,
            "key_vault_id": self.key_vault_id,
        })

    def _key_access(self, name: str, role: str, args: PostgresDatabaseArgs, location: str,
                    vault_stem: str, suffix: random.RandomString,
                    tags: dict[str, str]) -> _KeyAccess:
        """A vault with one key in `location`, and an identity allowed to wrap with it."""
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        group = args.resource_group_name
        # The identity and its grant are as vital as the key: without them the server cannot
        # unwrap its data key and turns Inaccessible, so they are protected like the key.
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-{role}-identity", resource_group_name=group, location=location,
            resource_name_=f"id-{args.prefix}-{args.name}-pg-{role}", tags=tags, opts=keep,
        )
        vault = azure.keyvault.Vault(
            f"{name}-{role}-vault",
            vault_name=pulumi.Output.concat(vault_stem, suffix.result),
            resource_group_name=group,
            location=location,
            properties={
                "tenant_id": args.tenant_id,
                "sku": {"family": "A", "name": "premium"},
                "enable_rbac_authorization": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 90,
                "enable_purge_protection": True,
                # The flexible server is a trusted service and bypasses the firewall.
                "public_network_access": "Disabled",
                "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
            },
            tags=tags,
            opts=keep,
        )
        key = azure.keyvault.Key(
            f"{name}-{role}-key",
            resource_group_name=group,
            vault_name=vault.name,
            key_name=f"postgres-{role}",
            properties={
                "kty": "RSA-HSM",
                "key_size": args.key_size,
                "key_ops": ["wrapKey", "unwrapKey"],
                # A version expires two years after it was made; a new one comes after one
                # year, and the server moves to it, so the key in use never expires.
                "rotation_policy": {
                    "attributes": {"expiry_time": "P2Y"},
                    "lifetime_actions": [
                        {"action": {"type": "rotate"}, "trigger": {"time_after_create": "P1Y"}},
                        {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
                    ],
                },
            },
            tags=tags,
            opts=keep,
        )
        grant = azure.authorization.RoleAssignment(
            f"{name}-{role}-grant",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=(f"/subscriptions/{args.subscription_id}/providers/"
                                f"Microsoft.Authorization/roleDefinitions/"
                                f"{CRYPTO_SERVICE_ENCRYPTION_USER}"),
            scope=key.id,
            opts=keep,
        )
        return _KeyAccess(identity=identity, vault=vault, key=key, grant=grant)


class _KeyAccess:
    """A customer-managed key with the identity that may use it and that identity's grant."""

    def __init__(self, *, identity: azure.managedidentity.UserAssignedIdentity,
                 vault: azure.keyvault.Vault, key: azure.keyvault.Key,
                 grant: azure.authorization.RoleAssignment):
        self.identity, self.vault, self.key, self.grant = identity, vault, key, grant
