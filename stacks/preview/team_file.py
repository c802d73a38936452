"""Edit the `teams` list of a stack file in place, keeping its comments, order and quoting."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from stacks.config.platform import CONFIG_KEY
from stacks.preview.stack_file import StackFileError, refuse_duplicate_keys


def _yaml() -> YAML:
    y = YAML()  # round-trip: comments, key order, flow lists and quotes survive
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    return y


class TeamFile:
    """A stack file loaded for editing; `text()` is what would be written back."""

    def __init__(self, path: Path, project: str):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise StackFileError(f"{path}: cannot read it ({err})") from None
        refuse_duplicate_keys(text, path)  # the same rule as the preview's reader
        try:
            self.doc = _yaml().load(text)
        except YAMLError as err:
            raise StackFileError(f"{path}: cannot read it as YAML ({err})") from None
        config = self.doc.get("config") if isinstance(self.doc, dict) else None
        key = f"{project}:{CONFIG_KEY}"
        if not isinstance(config, dict) or not isinstance(config.get(key), dict):
            raise StackFileError(f"{path}: no `config.{key}` mapping to add teams to")
        self.platform: CommentedMap = config[key]

    def teams(self) -> list[Any]:
        teams = self.platform.get("teams")
        return list(teams) if isinstance(teams, list) else []

    def add(self, entry: dict[str, Any]) -> None:
        """Append a team (a plain mapping; lists of scalars are written in flow style)."""
        team = CommentedMap()
        for key, value in entry.items():
            if isinstance(value, list) and all(not isinstance(v, dict) for v in value):
                seq = CommentedSeq(value)
                seq.fa.set_flow_style()
                team[key] = seq
            elif isinstance(value, list):
                team[key] = CommentedSeq([CommentedMap(v) for v in value])
            else:
                team[key] = value
        if not isinstance(self.platform.get("teams"), list):
            self.platform["teams"] = CommentedSeq()
        self.platform["teams"].append(team)

    def remove(self, name: str) -> bool:
        teams = self.platform.get("teams")
        if not isinstance(teams, list):
            return False
        for i, team in enumerate(teams):
            if isinstance(team, dict) and team.get("name") == name:
                del teams[i]
                if not teams and list(self.platform)[-1] == "teams":
                    # `add` put the key last when it made it: without teams the file reads as
                    # it did before the first add. A `teams` key written elsewhere (with its
                    # comments) is the file's own and stays, as `teams: []`.
                    del self.platform["teams"]
                return True
        return False

    def plain(self) -> Any:
        """The platform config as plain Python values (what the program would read)."""
        return _plain(self.platform)

    def text(self) -> str:
        out = io.StringIO()
        _yaml().dump(self.doc, out)
        return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
