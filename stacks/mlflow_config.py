"""Config of the mlflow service (skeleton; filled in by the mlflow work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from stacks.config_base import ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem


class Mlflow(ConfigModel):
    """The mlflow service."""

    clusters: list[str] = Field(default_factory=list)
    """Clusters it runs on (`onprem` or `<cloud>/<region>`)."""


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    return []


def secret_keys(cfg: PlatformConfig) -> list[str]:
    return []
