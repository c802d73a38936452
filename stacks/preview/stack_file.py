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


def _lines(numbers: list[int]) -> str:
    text = ", ".join(str(n) for n in numbers[:-1])
    return f"{text} and {numbers[-1]}"


def _repeats(node: yaml.Node, path: str, seen: set[int], out: list[str]) -> None:
    if id(node) in seen:  # an alias: its anchor was walked already
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _repeats(item, f"{path}[{i}]", seen, out)
    elif isinstance(node, yaml.MappingNode):
        at: dict[str, list[int]] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
            if name is None or key.tag == "tag:yaml.org,2002:merge":
                continue
            at.setdefault(name, []).append(key.start_mark.line + 1)
            _repeats(value, f"{path}.{name}" if path else name, seen, out)
        out += [f"duplicate key `{path + '.' if path else ''}{name}` at lines {_lines(lines)}"
                for name, lines in at.items() if len(lines) > 1]


def refuse_duplicate_keys(text: str, path: Path) -> None:
    """`StackFileError` naming every repeated mapping key (its path and lines), if any.

    YAML loaders keep the last of repeated keys silently, so a badly resolved merge that
    repeats `zones:` or a whole `tags:` block would change what is deployed unnoticed.
    Every reader of a stack file calls this first.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise StackFileError(f"{path}: not valid YAML ({err})") from None
    found: list[str] = []
    if root is not None:
        _repeats(root, "", set(), found)
    if found:
        raise StackFileError("\n".join(
            f"{path}: {line}; YAML would silently use only the last, so keep just one"
            for line in found))


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise StackFileError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    refuse_duplicate_keys(text, path)
    try:
        return yaml.safe_load(text)
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
