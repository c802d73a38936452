"""Shared fixtures: the project directory, raw stack configs and their previews."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

# Property tests judge behaviour, never speed (that is benchmarks/): no per-example deadline,
# which a loaded CI machine running tests on every core would otherwise trip at random.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")

ROOT = Path(__file__).resolve().parent.parent
CONFIG_KEY = "hybrid-ml-platform:platform"


def stack_platform(stack: str) -> dict[str, Any]:
    """A fresh copy of the `platform` object of `Pulumi.<stack>.yaml`."""
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(doc["config"][CONFIG_KEY])


def config_problems(platform: dict[str, Any]) -> list[str]:
    """The problems validation finds in `platform` (one line each); it must find some."""
    from stacks.checks.problems import ConfigError
    from stacks.program.validate import parse_platform

    with pytest.raises(ConfigError) as info:
        parse_platform(platform)
    return [str(p) for p in info.value.problems]


def write_stack(tmp: Path, stack: str, platform: dict[str, Any], extra: dict | None = None) -> Path:
    """A project dir in `tmp` with Pulumi.yaml and a stack file holding `platform`."""
    (tmp / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    config = {"pulumi:disable-default-providers": ["*"], CONFIG_KEY: platform, **(extra or {})}
    (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return tmp


@pytest.fixture(scope="session")
def prod_preview():
    """The committed prod stack's preview, once per test run: read it, never change it."""
    from stacks.preview.run import run_preview

    return run_preview(ROOT, "prod")


@pytest.fixture(scope="session")
def dev_preview():
    """The committed dev stack's preview, once per test run: read it, never change it."""
    from stacks.preview.run import run_preview

    return run_preview(ROOT, "dev")


@pytest.fixture(scope="session")
def prod_plan(prod_preview) -> dict[str, Any]:
    return prod_preview.plan


@pytest.fixture(scope="session")
def dev_plan(dev_preview) -> dict[str, Any]:
    return dev_preview.plan


@pytest.fixture(scope="session")
def prod_canary_preview():
    """Prod previewed with every generated secret a known canary (see `canary_mocks`), once."""
    from stacks.preview.run import run_preview

    return run_preview(ROOT, "prod", resource_mocks=canary_mocks())


# --- Components under the offline preview ----------------------------------------------------------

#: A stand-in for generated keys, to follow them through everything the preview writes.
CANARY = "CanaryKey0123456789abcdefghijklmnopqrstuvwxyzAB"


def canary_mocks():
    """The preview's engine stand-in, except that every RandomPassword result is known (a canary).

    A real preview never knows a generated key, which would make leak checks vacuous.
    """
    from stacks.preview.offline import PreviewMocks

    class CanaryMocks(PreviewMocks):
        def new_resource(self, args):
            rid, outputs = super().new_resource(args)
            if args.typ == "random:index/randomPassword:RandomPassword":
                outputs = {**outputs, "result": f"{CANARY}-{args.name}"}
            return rid, outputs

    return CanaryMocks()


def component_plan(program, resource_mocks=None) -> dict[str, Any]:
    """Preview `program` as a prod stack would run it (default providers disabled) and plan it."""
    from stacks.preview.offline import run_program
    from stacks.preview.plan_file import build_plan

    cap = run_program(program, "hybrid-ml-platform", "prod",
                      {"pulumi:disable-default-providers": ["*"]}, {}, resource_mocks=resource_mocks)
    assert cap.diagnostics == []  # no deprecation or other engine warnings
    return build_plan(cap)


def resources_of(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]
