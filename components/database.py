"""What every PostgreSQL component (RDS, Cloud SQL, Azure Flexible Server, CloudNativePG) offers
its clients, and the generated password they all start from."""

from __future__ import annotations

from typing import Any, Protocol

import pulumi
import pulumi_random as random


class Database(Protocol):
    """A PostgreSQL database a client connects to (MLflow's backend store)."""

    host: pulumi.Output[str]
    port: Any
    database: Any
    username: Any
    #: Always a Pulumi secret.
    password: pulumi.Output[str]
    #: `verify-full` where the server's CA is public, `require` where it is the operator's own.
    sslmode: str


def connection_outputs(db: Database) -> dict[str, Any]:
    """The connection outputs every database component registers."""
    return {"host": db.host, "port": db.port, "database": db.database, "username": db.username,
            "password": db.password, "sslmode": db.sslmode}


def generated_password(name: str, parent: pulumi.Resource, length: int,
                       min_each: int) -> random.RandomPassword:
    """`<name>-password`: letters and digits only (nothing a connection URI or an ini file must
    escape), at least `min_each` lower, upper and digit characters."""
    return random.RandomPassword(
        f"{name}-password", length=length, special=False, min_lower=min_each,
        min_upper=min_each, min_numeric=min_each, opts=pulumi.ResourceOptions(parent=parent))
