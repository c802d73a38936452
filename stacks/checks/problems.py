"""A config problem (YAML key path, bad value, what is allowed) and the error that lists them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stacks.config.platform import CONFIG_KEY, PROJECT

ROOT_PATH = f"{PROJECT}:{CONFIG_KEY}"


MISSING = object()


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid config value."""

    path: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        # One line per problem, whatever characters the config itself contains.
        if self.value is MISSING:
            line = f"{self.path}: missing; {self.allowed}"
        else:
            line = f"{self.path}: bad value {_show(self.value)}; {self.allowed}"
        return line.replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(Exception):
    """The stack config is invalid; `problems` says where and why."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def key_path(loc: tuple[Any, ...]) -> str:
    out = ROOT_PATH
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
