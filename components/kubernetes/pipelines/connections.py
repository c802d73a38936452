"""What Airflow's environment Secret holds, built from Pulumi secrets: the OIDC client secret,
each team's git connection (repository + read-only deploy key) and, on-prem, the log store's
connection with its key pair. Values are Outputs marked secret; none reaches the chart values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.kubernetes.pipelines.webserver_config import CLIENT_SECRET_ENV

#: Airflow's connection id of the on-prem log store.
LOG_CONNECTION = "hybridml_logs"


@dataclass(frozen=True)
class GitSource:
    """One team's DAG repository and its deploy key (a Pulumi secret)."""

    conn_id: str
    repo_url: str
    deploy_key: Any


@dataclass(frozen=True)
class S3Logs:
    """The on-prem S3-compatible log store (static keys: no workload identity on-prem)."""

    endpoint_url: str
    region: str
    access_key_id: Any
    secret_access_key: Any


def conn_env(conn_id: str) -> str:
    """Airflow reads connection `conn_id` from the variable `AIRFLOW_CONN_<CONN_ID>`."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def git_connection(repo_url: str, key: str) -> str:
    """The git provider's connection (JSON form): host is the repository, the key inline;
    host keys pinned on first use (`accept-new`)."""
    return json.dumps({"conn_type": "git", "host": repo_url,
                       "extra": {"private_key": key, "strict_host_key_checking": "accept-new"}})


def s3_connection(endpoint_url: str, region: str, key_id: str, secret: str) -> str:
    """The Amazon provider's connection to an S3-compatible endpoint, with a key pair."""
    return json.dumps({"conn_type": "aws", "login": key_id, "password": secret,
                       "extra": {"endpoint_url": endpoint_url, "region_name": region}})


def site_env_data(site_connections: Mapping[str, Any]) -> Mapping[str, pulumi.Output[str]]:
    """The remote sites' Kubernetes connections (by connection id) as environment values; a
    Secret of their own (their tokens are known only once the remote clusters made them)."""
    return {conn_env(conn_id): pulumi.Output.secret(conn) for conn_id, conn in site_connections.items()}


def env_data(client_secret: Any, sources: tuple[GitSource, ...],
             logs: S3Logs | None) -> Mapping[str, pulumi.Output[str]]:
    """The environment Secret's data, variable name -> secret value."""
    data: dict[str, pulumi.Output[str]] = {CLIENT_SECRET_ENV: pulumi.Output.secret(client_secret)}
    for s in sources:
        data[conn_env(s.conn_id)] = pulumi.Output.secret(
            pulumi.Output.from_input(s.deploy_key).apply(lambda k, url=s.repo_url: git_connection(url, k)))
    if logs is not None:
        data[conn_env(LOG_CONNECTION)] = pulumi.Output.secret(pulumi.Output.all(
            logs.access_key_id, logs.secret_access_key).apply(
            lambda v: s3_connection(logs.endpoint_url, logs.region, v[0], v[1])))
    return data
