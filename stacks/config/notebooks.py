"""Config of the team notebooks (`services.notebooks`): JupyterHub.

Skeleton of issue 18 (the fields are completed with the service): where JupyterHub runs.
"""

from __future__ import annotations

from pydantic import Field

from stacks.config.base import ClusterRef, ConfigModel


class Notebooks(ConfigModel):
    """JupyterHub for the teams that ask for notebooks (`teams[].notebooks`)."""

    clusters: list[ClusterRef] = Field(default_factory=lambda: ["onprem"], min_length=1)
    """Clusters JupyterHub runs on (default: on-prem, next to the sensitive data)."""
