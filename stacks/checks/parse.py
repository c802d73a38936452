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
from stacks.checks.messages import plain_message
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
            problems.append(ConfigProblem(key_path(loc), e.get("input"), plain_message(e)))
    return problems


#: Stand-ins for a team entry's required keys whose values are malformed, so that the entry's
#: other keys can still be judged; a stand-in's own problems are never shown.
_TEAM_STAND_INS = {"name": "zz-malformed-team-entry", "owner": "malformed", "costCenter": "XX-000"}


def _meaning_problems(cfg: PlatformConfig, service_checks: ServiceChecks) -> list[ConfigProblem]:
    problems = residency_problems(cfg) + network_problems(cfg) + cluster_problems(cfg)
    if not problems:  # services and teams refer to clusters; judge them once those are sound
        problems = service_checks(cfg) + team_problems(cfg)
    return problems


def _teams_despite(raw: dict[str, Any], err: ValidationError,
                   service_checks: ServiceChecks) -> list[ConfigProblem]:
    """The team checks of meaning (a missing role, a site outside the residency plan, ...) even
    when some team keys are malformed, so that one run (one `team add`) shows every problem of
    an entry. Only when nothing outside `teams` is wrong: the teams' meaning needs the rest."""
    teams = raw.get("teams")
    bad: dict[int, set[str]] = {}
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        if len(loc) < 3 or loc[0] != "teams" or not isinstance(loc[1], int):
            return []
        bad.setdefault(loc[1], set()).add(str(loc[2]))
    if not isinstance(teams, list):
        return []
    fixed = list(teams)
    for i, keys in bad.items():
        if not isinstance(teams[i], dict):
            return []
        entry = dict(teams[i])
        for key in keys:
            entry.pop(key, None)  # optional keys fall back to their defaults
            if key in _TEAM_STAND_INS:
                entry[key] = _TEAM_STAND_INS[key]
        fixed[i] = entry
    try:
        cfg = PlatformConfig.model_validate({**raw, "teams": fixed})
    except ValidationError:
        return []  # e.g. a required key such as `sites` is malformed: judged once it is not
    judged = {key_path(("teams", i, key)) for i, keys in bad.items() for key in keys}
    # A stand-in's problems (or a default's) are not the user's: drop every one under a bad key.
    return [p for p in _meaning_problems(cfg, service_checks)
            if not any(p.path == j or p.path.startswith((j + ".", j + "[")) for j in judged)]


def check_platform(raw: Any, service_checks: ServiceChecks) -> PlatformConfig:
    """Validate raw config (the `platform` object) or raise `ConfigError`.

    `service_checks` are the registered services' checks (`stacks.program.services`); they and
    the team checks run once the structure, residency, network and clusters are sound. Team
    entries are judged for meaning even when some of their keys are malformed.
    """
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(ROOT_PATH, raw, "must be a mapping (the platform config)")])
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_from_pydantic(err) + _teams_despite(raw, err, service_checks)) from None

    problems = _meaning_problems(cfg, service_checks)
    if problems:
        raise ConfigError(problems)
    return cfg
