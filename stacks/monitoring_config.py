"""Config of the monitoring service (skeleton; filled in by the monitoring work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from stacks.config_base import ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.validation import ConfigProblem


class Monitoring(ConfigModel):
    """The monitoring service."""

    clusters: list[str] = Field(default_factory=list)
    """Clusters it runs on (`onprem` or `<cloud>/<region>`)."""


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    return []


def secret_keys(cfg: PlatformConfig) -> list[str]:
    return []
