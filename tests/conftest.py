"""Shared fixtures: the project directory, raw stack configs and their previews."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG_KEY = "hybrid-ml-platform:platform"


def stack_platform(stack: str) -> dict[str, Any]:
    """A fresh copy of the `platform` object of `Pulumi.<stack>.yaml`."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(doc["config"][CONFIG_KEY])


def write_stack(tmp: Path, stack: str, platform: dict[str, Any], extra: dict | None = None) -> Path:
    """A project dir in `tmp` with Pulumi.yaml and a stack file holding `platform`."""
    (tmp / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    config = {"pulumi:disable-default-providers": ["*"], CONFIG_KEY: platform, **(extra or {})}
    (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return tmp


@pytest.fixture(scope="session")
def prod_plan() -> dict[str, Any]:
    from stacks.preview import run_preview

    return run_preview(ROOT, "prod").plan


@pytest.fixture(scope="session")
def dev_plan() -> dict[str, Any]:
    from stacks.preview import run_preview

    return run_preview(ROOT, "dev").plan
