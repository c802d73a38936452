"""Reading `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the Pulumi CLI does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class StackFileError(Exception):
    """A project or stack file is missing or unreadable (a usage error)."""


@dataclass(frozen=True)
class StackFile:
    """What the CLI would pass to the program: plain config values and secret keys."""

    project: str
    stack: str
    #: Namespaced key (`project:key`) -> value; objects stay Python objects.
    config: dict[str, Any]
    #: Namespaced keys whose values are `secure:` ciphertexts in the stack file.
    secure_keys: frozenset[str]


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise StackFileError(f"{path}: no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise StackFileError(f"{path}: not valid YAML ({err})") from None


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def read_stack(project_dir: Path, stack: str) -> StackFile:
    """Read the project name and the stack's config from `project_dir`."""
    project_doc = _load_yaml(project_dir / "Pulumi.yaml")
    if not isinstance(project_doc, dict) or not isinstance(project_doc.get("name"), str):
        raise StackFileError(f"{project_dir / 'Pulumi.yaml'}: needs a `name`")
    project = project_doc["name"]
    stack_doc = _load_yaml(project_dir / f"Pulumi.{stack}.yaml") or {}
    if not isinstance(stack_doc, dict):
        raise StackFileError(f"{project_dir / f'Pulumi.{stack}.yaml'}: must be a mapping")
    raw = stack_doc.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{project_dir / f'Pulumi.{stack}.yaml'}: `config` must be a mapping")
    config: dict[str, Any] = {}
    secure: set[str] = set()
    for key, value in raw.items():
        full = _namespaced(project, str(key))
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(full)
        else:
            config[full] = value
    return StackFile(project=project, stack=stack, config=config, secure_keys=frozenset(secure))
