"""Building blocks of the stack config models: the base model and address types."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _text(value: object) -> object:
    # pydantic would read an integer (or true) as an address; a typo must not become 0.0.0.1/32.
    if not isinstance(value, (str, IPv4Address, IPv4Network)):
        raise ValueError("must be written as text, e.g. 10.0.0.0/16 or 198.51.100.10")
    return value


Cidr = Annotated[IPv4Network, BeforeValidator(_text)]
Ipv4 = Annotated[IPv4Address, BeforeValidator(_text)]


class ConfigModel(BaseModel):
    """Base of every config model."""

    # camelCase in YAML like every Pulumi config; unknown keys are errors.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        use_attribute_docstrings=True,
    )


#: The name of a secret config key (`pulumi config set --secret <name> ...`).
SECRET_KEY_NAME = r"^[A-Za-z][A-Za-z0-9_-]*$"
#: An https URL: host, optional port and path (IdP issuers, endpoints, receivers).
HTTPS_URL = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"


#: A cluster of the stack: `onprem` or `<cloud>/<region>` (`aws/eu-west-1`); whether the stack
#: has that cluster is checked against `kubernetes` (stacks/checks).
CLUSTER_REF = r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$"
ClusterRef = Annotated[str, Field(pattern=CLUSTER_REF)]


#: Backup retention (days) of a service's database when `database.backupRetentionDays` is not
#: set, by environment.
DEFAULT_BACKUP_RETENTION = {"prod": 14, "staging": 7, "dev": 7}


class DatabaseDefaults:
    """What a service's `database.highAvailability` and `database.backupRetentionDays` mean
    when unset, in one place for every service with a database (MLflow, notebooks, pipelines):
    high availability in prod only; backups by DEFAULT_BACKUP_RETENTION. Mixed into the
    service's model, whose `database` holds the two fields."""

    def high_availability(self, environment: str) -> bool:
        ha = self.database.high_availability  # type: ignore[attr-defined]
        return environment == "prod" if ha is None else ha

    def backup_retention_days(self, environment: str) -> int:
        days = self.database.backup_retention_days  # type: ignore[attr-defined]
        return DEFAULT_BACKUP_RETENTION.get(environment, 7) if days is None else days
