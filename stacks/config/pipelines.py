"""Config of the pipelines (`services.pipelines`): Airflow 3, and each team's DAG source.

Skeleton of issue 18 (the fields are completed with the service): where Airflow runs and
where a team's DAGs come from.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import ClusterRef, ConfigModel


class Pipelines(ConfigModel):
    """Airflow 3 as the platform's scheduler, for the teams with `teams[].pipelines`."""

    clusters: list[ClusterRef] = Field(default_factory=lambda: ["onprem"], min_length=1)
    """Clusters Airflow runs on (default: on-prem)."""


class TeamPipelines(ConfigModel):
    """Where a team's DAGs come from."""

    dag_repo: str = Field(pattern=r"^(ssh://[^\s]+|git@[A-Za-z0-9.-]+:[^\s]+)$")
    """The team's DAG repository (ssh), e.g. git@git.example.com:fraud/dags.git."""
    dag_branch: str = Field(default="main", pattern=r"^[A-Za-z0-9._/-]{1,200}$")
    """Branch Airflow follows."""
    deploy_key_key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    """Name of the secret config key holding the repository's read-only deploy key
    (`pulumi config set --secret <name> < key`)."""
