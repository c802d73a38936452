"""Turn raw stack config into a `PlatformConfig`, or into one clear line per problem.

Structural problems come from pydantic; problems of meaning (regions outside
the residency plan, unknown classifications, stores on disabled sites) are
checked here, after the structure is sound. Either way the caller gets a
`ConfigError` listing every problem with its YAML key path, the bad value and
what is allowed.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from stacks.checks.clusters import cluster_problems
from stacks.checks.network import network_problems
from stacks.checks.problems import MISSING, ROOT_PATH, ConfigError, ConfigProblem, key_path
from stacks.checks.residency import residency_problems
from stacks.checks.teams import problems as team_problems
from stacks.config.platform import PlatformConfig

#: Checks of meaning over the whole validated config.
ServiceChecks = Callable[[PlatformConfig], list[ConfigProblem]]


def _unwrap(annotation: Any) -> Any:
    """The model class behind Optional[...] / list[...] / dict[str, ...], if any."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (list, dict):
        return _unwrap(typing.get_args(annotation)[-1])
    return annotation


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = PlatformConfig
    for part in loc:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next(
            (f for n, f in model.model_fields.items() if part in (n, f.alias)), None
        )
        if field is None:
            continue  # a dict key such as a classification name
        model = _unwrap(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _from_pydantic(err: ValidationError) -> list[ConfigProblem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            keys = ", ".join(_allowed_keys(loc[:-1]))
            # The value of an unknown key is not echoed: it could be anything, even a secret.
            problems.append(ConfigProblem(key_path(loc), "<unknown key>", f"allowed keys here: {keys}"))
        elif e["type"] == "missing":
            problems.append(ConfigProblem(key_path(loc), MISSING, "this key is required"))
        else:
            problems.append(ConfigProblem(key_path(loc), e.get("input"), e["msg"]))
    return problems


def check_platform(raw: Any, service_checks: ServiceChecks) -> PlatformConfig:
    """Validate raw config (the `platform` object) or raise `ConfigError`.

    `service_checks` are the registered services' checks (`stacks.program.services`); they and
    the team checks run only once the structure, residency, network and clusters are sound.
    """
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(ROOT_PATH, raw, "must be a mapping (the platform config)")])
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_from_pydantic(err)) from None

    problems = residency_problems(cfg) + network_problems(cfg) + cluster_problems(cfg)
    if not problems:  # services refer to clusters; judge them only once those are sound
        problems = service_checks(cfg)
    if not problems:  # teams refer to clusters and services
        problems = team_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
