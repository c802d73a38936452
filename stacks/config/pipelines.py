"""Config of the pipelines (`services.pipelines`): Airflow 3, and each team's DAG source.

Airflow runs on the clusters listed (default: on-prem). Its metadata database is the site's
managed PostgreSQL (like MLflow's backend store), task logs go to the site's object store, and
sign-in is the platform IdP's OIDC through Airflow's FAB auth manager: the IdP's groups become
Airflow roles, one per team, that see and run only that team's DAGs.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import HTTPS_URL, SECRET_KEY_NAME, Cidr, ClusterRef, ConfigModel, DatabaseDefaults
from stacks.config.mlflow import MlflowDatabase, MlflowOnPremArtifacts


class PipelinesOidc(ConfigModel):
    """Sign-in to Airflow's UI and API through the platform IdP (FAB auth manager, OAuth)."""

    issuer_url: str = Field(pattern=HTTPS_URL)
    """OIDC issuer of the IdP (https); Airflow reads `<issuer>/.well-known/openid-configuration`."""
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:/@-]+$")
    """OIDC client id registered for Airflow at the IdP."""
    client_secret_key: str = Field(default="airflowOidcClientSecret", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the client secret."""
    group_claim: str = Field(default="groups", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """The claim listing the user's groups (matched against `teams[].group` and
    `teams[].azureGroupObjectId`, and adminGroups)."""
    admin_groups: list[str] = Field(default_factory=list, max_length=16)
    """Groups whose members are Airflow admins (every DAG, connections, users)."""


class PipelinesOnPrem(ConfigModel):
    """What only an on-prem Airflow needs."""

    logs: MlflowOnPremArtifacts
    """The S3-compatible bucket task logs go to (objects under `airflow-logs/`); the one static
    key pair of the platform, as for MLflow's on-prem artifacts."""
    volume_snapshot_class: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """VolumeSnapshotClass the metadata database is backed up with. Required in prod."""


class Pipelines(DatabaseDefaults, ConfigModel):
    """Airflow 3 as the platform's scheduler, for the teams with `teams[].pipelines`."""

    clusters: list[ClusterRef] = Field(default_factory=lambda: ["onprem"], min_length=1)
    """Clusters Airflow runs on: `onprem` (the default and, in this version, the only one);
    tasks reach the cloud sites over the VPN."""
    namespace: str = "airflow"
    """Platform namespace (one of `kubernetes.namespaces`) Airflow's own pods run in; tasks run
    in the team's namespace."""
    git_cidrs: list[Cidr] = Field(default_factory=list, max_length=16)
    """Private address ranges of the teams' git servers (public ones are reached already):
    Airflow's egress admits ssh (22, or the port of an ssh:// repository) to them."""
    database: MlflowDatabase = Field(default_factory=MlflowDatabase)
    """The metadata database's sizing and protection (one per cluster)."""
    oidc: PipelinesOidc
    """Sign-in through the platform IdP."""
    onprem: PipelinesOnPrem | None = None
    """On-prem task logs and backups; required when `onprem` is in clusters."""



class TeamPipelines(ConfigModel):
    """Where a team's DAGs come from, and where its tasks may run."""

    dag_repo: str = Field(pattern=r"^(ssh://[^\s]+|git@[A-Za-z0-9.-]+:[^\s]+)$")
    """The team's DAG repository (ssh), e.g. git@git.example.com:fraud/dags.git."""
    dag_branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,200}$")
    """Branch Airflow follows."""
    deploy_key_key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    """Name of the secret config key holding the repository's read-only deploy key
    (`pulumi config set --secret <name> < key`)."""
    sites: list[ClusterRef] | None = None
    """Sites the team's tasks may be placed on (among `teams[].sites`, each allowed for the
    team's data classification); default: every site of the team its classification allows."""
