"""Validate a stack's platform config: the structure and core checks, then every registered
service's checks, then the teams'."""

from __future__ import annotations

from typing import Any

from stacks.checks.parse import check_platform
from stacks.config.platform import PlatformConfig
from stacks.program.services import service_problems


def parse_platform(raw: Any) -> PlatformConfig:
    """Validate raw config (the `platform` object) or raise `ConfigError` listing every problem."""
    return check_platform(raw, service_problems)
