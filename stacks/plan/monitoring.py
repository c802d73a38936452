"""Monitoring derivations: durations in seconds, secret keys."""

from __future__ import annotations

import re

from stacks.config.platform import PlatformConfig

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def duration_seconds(value: str) -> float:
    """A Prometheus duration (validated by the model's pattern) in seconds."""
    if value == "0":
        return 0.0
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", value))


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """The alert receiver's URL, when alerting is configured. The Grafana admin and
    remote-write passwords are generated, not configured."""
    mon = cfg.services.monitoring
    if mon is None or mon.alerting is None:
        return []
    return [mon.alerting.webhook_url_key]
