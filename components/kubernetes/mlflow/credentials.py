"""What the server's Secrets hold: the backend store URI, MLflow's auth config with the admin
password and CSRF key, the OIDC client secret, and (on-prem only) the S3 key pair. Every value
is a Pulumi secret; none of it ever goes into a pod spec, a command line or a plain output."""

from __future__ import annotations

from urllib.parse import quote

import pulumi

from components.inputs import StrInput
from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow.args import ArtifactTarget, DatabaseConnection, OidcAuth
from components.kubernetes.mlflow.names import (
    ARTIFACT_KEY_NAMES,
    AUTH_ADMIN_PASSWORD_KEY,
    AUTH_CSRF_KEY,
    BACKEND_ENV,
    OIDC_SECRET_KEY,
)


def backend_store_uri(db: DatabaseConnection) -> pulumi.Output[str]:
    """`postgresql+psycopg2://user:password@host:port/db?sslmode=...`, the password URL-encoded;
    a Pulumi secret."""
    uri = pulumi.Output.all(db.host, db.port, db.password).apply(
        lambda v: f"postgresql+psycopg2://{quote(db.username, safe='')}:{quote(str(v[2]), safe='')}"
                  f"@{v[0]}:{v[1]}/{db.database}?sslmode={db.sslmode}")
    return pulumi.Output.secret(uri)


def backend_secret_data(db: DatabaseConnection) -> dict[str, pulumi.Output[str]]:
    """The backend store Secret: the URI under the variable name the pods read it as."""
    return {BACKEND_ENV: backend_store_uri(db)}


def oidc_secret_data(oidc: OidcAuth) -> dict[str, pulumi.Output[str]]:
    """The OIDC client secret, under the key Envoy Gateway reads."""
    return {OIDC_SECRET_KEY: pulumi.Output.secret(oidc.client_secret)}


def auth_secret_data(db: DatabaseConnection, admin_password: StrInput,
                     csrf_key: StrInput) -> dict[str, pulumi.Output[str]]:
    """MLflow's auth: its config file (it names the database, password included), the
    break-glass admin's password and the CSRF key every worker shares."""
    return {
        mlflow_auth.AUTH_CONFIG_FILE: pulumi.Output.secret(
            backend_store_uri(db).apply(mlflow_auth.auth_ini)),
        AUTH_ADMIN_PASSWORD_KEY: pulumi.Output.secret(admin_password),
        AUTH_CSRF_KEY: pulumi.Output.secret(csrf_key),
    }


def artifact_credentials_data(artifacts: ArtifactTarget) -> dict[str, pulumi.Output[str]]:
    """The on-prem object store's static key pair (no workload identity there)."""
    assert artifacts.access_key_id is not None and artifacts.secret_access_key is not None
    access_key_name, secret_key_name = ARTIFACT_KEY_NAMES
    return {access_key_name: pulumi.Output.secret(artifacts.access_key_id),
            secret_key_name: pulumi.Output.secret(artifacts.secret_access_key)}
