"""Plumbing shared by the rule modules: unknown-aware reads, findings, config and type helpers.

Unknown values. pulumi_policy wraps a resource's inputs in a proxy that raises
``UnknownValueError`` as soon as a policy reads a value that is not known at
preview; the SDK then turns the whole (policy, resource) verdict into a
"can't run policy ... during preview" diagnostic, which the CLI shows as a
warning and our offline ``stacks.preview.analyzer_client`` records as *undecided*.

That is the right outcome for one check, but a raw read aborts everything
after it: in a stack policy one unknown bucket name would hide every other
bucket's verdict. So rules read through :func:`lookup`, which looks at the
values *without* tripping the proxy and returns an :class:`Unknown` marker.
A rule that meets one skips just that check and tells its :class:`Findings`;
when the rule is done, :meth:`Findings.settle` raises the SDK's own
``UnknownValueError`` for it. Net effect: every decidable violation is
reported, and an undecidable check still ends in the SDK's normal
"can't run policy" path -- it never passes silently. Rules never catch
``UnknownValueError`` themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


@dataclass(frozen=True)
class Unknown:
    """A value that cannot be known at preview; ``path`` is where it sits in the inputs."""

    sentinel: str
    path: tuple[str, ...]

    def __bool__(self) -> bool:
        # Unknown is neither truthy nor falsy in meaning; make accidental `if value:` visible
        # in tests instead of silently deciding a check.
        raise TypeError(f"unknown value at .{'.'.join(self.path)} used as a boolean")


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def _raw(container: Any) -> Any:
    """The plain dict/list behind an SDK proxy (the SDK's own serializer uses "__target")."""
    if isinstance(container, (dict, list, str)) or container is None:
        return container
    if isinstance(container, (Mapping, Sequence)):
        try:
            return container["__target"]
        except (KeyError, TypeError, IndexError):
            return container
    return container


def lookup(container: Any, *path: str | int, base: tuple[str, ...] = ()) -> Any:
    """Walk ``path`` into ``container`` without tripping the unknown-checking proxy.

    Returns the value (nested dicts/lists stay SDK proxies), ``None`` when any step is
    missing, or an :class:`Unknown` when a step is unknown at preview.
    """
    where = base
    cur = container
    if isinstance(cur, str) and cur in _SENTINELS:
        return Unknown(cur, where)
    for key in path:
        where = (*where, str(key))
        raw = _raw(cur)
        if isinstance(raw, Mapping) and isinstance(key, str):
            value = raw.get(key)
        elif isinstance(raw, Sequence) and not isinstance(raw, str) and isinstance(key, int):
            value = raw[key] if -len(raw) <= key < len(raw) else None
        else:
            return None
        if isinstance(value, str) and value in _SENTINELS:
            return Unknown(value, where)
        cur = value
    return cur


def keys(container: Any) -> list[str]:
    """The keys of a mapping (reading keys never reads a value, so never trips the proxy)."""
    raw = _raw(container)
    return list(raw.keys()) if isinstance(raw, Mapping) else []


def elements(container: Any, base: tuple[str, ...] = ()) -> Iterator[Any]:
    """The items of a list, each as :func:`lookup` would return it (unknowns as Unknown)."""
    raw = _raw(container)
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        for i in range(len(raw)):
            yield lookup(container, i, base=base)


def entries(container: Any, base: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs of a mapping, unknown values as Unknown."""
    for key in keys(container):
        yield key, lookup(container, key, base=base)


def is_mapping(value: Any) -> bool:
    return isinstance(_raw(value), Mapping)


def is_sequence(value: Any) -> bool:
    raw = _raw(value)
    return isinstance(raw, Sequence) and not isinstance(raw, str)


def plain(value: Any, base: tuple[str, ...] = ()) -> Any:
    """A plain-Python copy of a value (proxies unwrapped; unknowns become Unknown at their path)."""
    if is_mapping(value):
        return {k: plain(v, (*base, k)) for k, v in entries(value, base)}
    if is_sequence(value):
        return [plain(v, (*base, str(i))) for i, v in enumerate(elements(value, base))]
    return value


def truthy(value: Any) -> bool:
    """True for the boolean true and its string forms (some providers type flags as strings)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def parse_json_input(value: Any) -> Any:
    """Provider inputs reach policies as the engine holds them: nested values are JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return plain(value)


@dataclass
class Findings:
    """Violations and undecided checks of one policy run over one resource or one stack."""

    report: ReportViolation
    undecided: list[Unknown] = field(default_factory=list)

    def violation(self, message: str, urn: str | None = None) -> None:
        self.report(message, urn)

    def unknown(self, value: Unknown, prefix: str = "") -> None:
        """Record a check that could not be decided; ``prefix`` names the resource in stack policies."""
        self.undecided.append(
            Unknown(value.sentinel, (prefix, *value.path) if prefix else value.path)
        )

    def unknown_verdicts(self, verdicts: Iterable[tuple[Any, Any]]) -> bool:
        """Record each Unknown among (verdict, holder resource) pairs under the holder's name.

        For stack policies that judge an owner by its companions; True when any verdict was unknown.
        """
        found = False
        for verdict, holder in verdicts:
            if is_unknown(verdict):
                self.unknown(verdict, holder.name)
                found = True
        return found

    def settle(self) -> None:
        """Raise the SDK's UnknownValueError for undecided checks, after every decided violation."""
        if not self.undecided:
            return
        first, rest = self.undecided[0], self.undecided[1:]
        error = UnknownValueError(first.sentinel, list(first.path))
        if rest:
            more = ", ".join("." + ".".join(u.path) for u in rest[:5])
            error.message += f" (also undecided: {more}{', ...' if len(rest) > 5 else ''})"
        raise error


#: A resource policy's check: (type token, inputs, findings) -> why the resource fails (or []).
ResourceCheck = Callable[[str, Any, Findings], list[str]]
#: The same for a check of one kind of resource: (inputs, findings) -> why it fails.
PropsCheck = Callable[[Any, Findings], list[str]]
ResourceValidation = Callable[[ResourceValidationArgs, ReportViolation], None]


def validate_each(check: ResourceCheck) -> ResourceValidation:
    """A ResourceValidationPolicy ``validate``: one violation "<name>: <why>" per problem ``check``
    finds, then the undecided checks settled (the SDK's "can't run policy" path)."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        f = Findings(report)
        for why in check(args.resource_type, args.props, f):
            f.violation(f"{args.name}: {why}")
        f.settle()

    return validate


def only_types(types: Collection[str], check: PropsCheck) -> ResourceCheck:
    """``check`` for resources of ``types`` (one type token or several); any other one passes."""
    wanted = frozenset((types,) if isinstance(types, str) else types)

    def by_type(resource_type: str, props: Any, f: Findings) -> list[str]:
        return check(props, f) if resource_type in wanted else []

    return by_type


def config_value(cfg: Mapping[str, Any] | None, key: str, default: Any) -> Any:
    """A policy config property; the CLI fills schema defaults, this covers direct callers."""
    value = (cfg or {}).get(key)
    return default if value is None else value


def cloud_of(resource_type: str) -> str | None:
    """The target of a Pulumi type token: aws, gcp, azure or kubernetes; None for anything else."""
    package = resource_type.split(":", 1)[0]
    return {"aws": "aws", "gcp": "gcp", "azure-native": "azure", "kubernetes": "kubernetes"}.get(
        package
    )


_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+[0-9]+)-[a-z]$")


def normalize_region(cloud: str, region: str) -> str:
    """Regions compared lower-case; GCP zones reduced to their region; Azure display names squashed."""
    value = region.strip().lower()
    if cloud == "gcp":
        match = _GCP_ZONE.match(value)
        return match.group(1) if match else value
    if cloud == "azure":
        return value.replace(" ", "")
    return value
