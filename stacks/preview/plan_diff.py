"""What changed between two offline plans, like `pulumi preview --diff` (pure: no Pulumi).

Resources are keyed by URN. A resource in both plans is changed when an input (compared
path by path: `spec.template.spec.containers[0].image`), its `protect` flag, its provider,
its parent or another resource option differs. Plans hold no secret values, only `[secret]`:
two secrets compare equal (opaque), and a value that became or stopped being a secret is
reported as "secret changed?" without either value. `[unknown]` (known only after apply)
compares equal to `[unknown]` and is shown as "(known after apply)".

Whether a change updates in place or replaces is the provider's decision, which only a real
`pulumi preview` can ask; a change is marked as a replacement only where the plan itself says
so (a `replaceOnChanges` option naming a changed input), and a provider change as a possible one.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.preview.plan_file import SECRET_TEXT, UNKNOWN_TEXT

#: How the terminal shows a value that a real preview knows only after apply.
KNOWN_AFTER_APPLY = "(known after apply)"
SECRET_CHANGED = "secret changed?"
#: Resource options compared besides the plan's top-level protect/provider/parent.
# Not aliasURNs: an alias names where the resource was, which is no change to it.
_OPTIONS = ("deleteBeforeReplace", "retainOnDelete", "ignoreChanges", "replaceOnChanges",
            "additionalSecretOutputs", "providers", "deletedWith", "import",
            "version", "customTimeouts")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()


_SHOWN_CHARS = 160
_SHOWN_LINES = 40


class PlanFileError(Exception):
    """A plan file that cannot be read or is not a plan (a usage error)."""


@dataclass(frozen=True)
class Change:
    """One value that differs. `op`: add, delete, update or secret (values hidden)."""

    path: str
    op: str
    old: Any = None
    new: Any = None

    def as_json(self) -> dict[str, Any]:
        if self.op == "secret":
            return {"path": self.path, "op": self.op, "note": SECRET_CHANGED}
        out: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op in ("delete", "update"):
            out["old"] = self.old
        if self.op in ("add", "update"):
            out["new"] = self.new
        return out


@dataclass
class ResourceChange:
    urn: str
    type: str
    name: str
    inputs: list[Change] = field(default_factory=list)
    #: protect, provider, parent and resource options (deleteBeforeReplace, ignoreChanges, ...).
    options: list[Change] = field(default_factory=list)
    #: Why this change replaces the resource, where the plan says so (empty: the provider decides).
    replace: list[str] = field(default_factory=list)
    #: Why it may replace (e.g. a different provider: the engine asks the new one).
    may_replace: list[str] = field(default_factory=list)


@dataclass
class PlanDiff:
    old_path: str
    project: str
    stack: str
    added: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    #: Resources found under a new URN through their aliases: (old URN, new URN).
    renamed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    #: Stack outputs (`pulumi stack output`) that differ.
    outputs: list[Change] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        return {"add": len(self.added), "change": len(self.changed),
                "delete": len(self.deleted), "unchanged": self.unchanged}


def load_plan(path: Path, project: str | None = None, stack: str | None = None) -> dict[str, Any]:
    """A plan.json written by `hybrid-ml preview`, checked to be one (and of this project/stack)."""
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such file (write one with `hybrid-ml preview STACK --out DIR`)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanFileError(f"{path}: cannot read it ({err})") from None
    except json.JSONDecodeError as err:
        raise PlanFileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
        raise PlanFileError(f"{path}: not a plan.json of `hybrid-ml preview` (no `resources` list)")
    for i, r in enumerate(plan["resources"]):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("urn", "type", "name")):
            raise PlanFileError(f"{path}: resources[{i}] needs string `urn`, `type` and `name`")
        if not isinstance(r.get("inputs", {}), dict):
            raise PlanFileError(f"{path}: resources[{i}].inputs must be an object")
    # URNs name the project and the stack: a plan of another one shares no resource.
    for key, want in (("project", project), ("stack", stack)):
        if want is not None and plan.get(key) != want:
            raise PlanFileError(f"{path}: a plan of {key} {plan.get(key)!r}, not {want!r}; resources "
                                f"are matched by URN, which names the {key}")
    return plan


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _has_secret(value: Any) -> bool:
    if value == SECRET_TEXT:
        return True
    if isinstance(value, dict):
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


def _same(old: Any, new: Any) -> bool:
    # As JSON, not Python equality: 1 == True and {"a": 0} == {"a": False} in Python.
    return old == new and json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)


def diff_values(old: Any, new: Any, path: str = "") -> list[Change]:
    """The differences between two plan values, path by path (dicts by key, lists by index)."""
    if old is _MISSING and new is _MISSING:
        return []
    if old is _MISSING:
        return [Change(path, "add", new=new)]
    if new is _MISSING:
        return [Change(path, "delete", old=old)]
    if _same(old, new):
        # Also [secret] == [secret] (opaque: a rotated secret cannot be seen in a plan) and
        # [unknown] == [unknown] (what it becomes is decided at apply, by what it depends on).
        return []
    if old == SECRET_TEXT or new == SECRET_TEXT:
        # The wrapper differs: a value became a secret, stopped being one, or a secret took the
        # place of a structure holding secrets. Neither side is shown.
        return [Change(path, "secret")]
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in list(old) + [k for k in new if k not in old]:
            out += diff_values(old.get(key, _MISSING), new.get(key, _MISSING), _join(path, key))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            out += diff_values(old[i] if i < len(old) else _MISSING,
                               new[i] if i < len(new) else _MISSING, _join(path, i))
        return out
    if _has_secret(old) or _has_secret(new):
        return [Change(path, "secret")]
    return [Change(path, "update", old=old, new=new)]


def _identity(r: dict[str, Any]) -> dict[str, str]:
    return {"urn": r["urn"], "type": r["type"], "name": r["name"]}


def _matches(pattern: str, path: str) -> bool:
    if pattern == "*" or path == pattern:
        return True
    return path.startswith(pattern) and path[len(pattern)] in ".["


def _resource_change(old: dict[str, Any], new: dict[str, Any],
                     renamed: dict[str, str]) -> ResourceChange:
    change = ResourceChange(urn=new["urn"], type=new["type"], name=new["name"])
    change.inputs = diff_values(old.get("inputs") or {}, new.get("inputs") or {})
    for key in ("protect", "provider", "parent"):
        # A parent or provider that moved to a new URN through its aliases is the same one.
        if renamed.get(old.get(key), old.get(key)) != new.get(key):
            change.options.append(Change(key, "update", old=old.get(key), new=new.get(key)))
    old_opts, new_opts = old.get("options") or {}, new.get("options") or {}
    for key in _OPTIONS:
        if old_opts.get(key) != new_opts.get(key):
            change.options += diff_values(old_opts.get(key, _MISSING), new_opts.get(key, _MISSING), key)
    changed_paths = [c.path for c in change.inputs]
    for pattern in new_opts.get("replaceOnChanges") or []:
        hits = [p for p in changed_paths if _matches(pattern, p)]
        if hits:
            change.replace.append(f"replaceOnChanges {pattern!r}: {', '.join(hits)}")
    if old.get("provider") != new.get("provider"):
        change.may_replace.append("its provider changed: the engine asks the new provider "
                                  "whether the resource must be replaced")
    return change


def diff_plans(old: dict[str, Any], new: dict[str, Any], old_path: str = "") -> PlanDiff:
    """What `new` adds, deletes and changes against `old`, by URN or, as the engine matches a
    renamed resource, by one of its aliases (`options.aliasURNs`)."""
    old_by_urn = {r["urn"]: r for r in old["resources"]}
    diff = PlanDiff(old_path=old_path, project=new.get("project", ""), stack=new.get("stack", ""))
    matched: dict[str, dict[str, Any]] = {}  # new URN -> the old resource it is
    renamed: dict[str, str] = {}  # old URN -> new URN
    for r in new["resources"]:
        if r["urn"] in old_by_urn:
            matched[r["urn"]] = old_by_urn[r["urn"]]
            continue
        former = next((a for a in (r.get("options") or {}).get("aliasURNs") or []
                       if a in old_by_urn and a not in renamed), None)
        if former is not None:
            matched[r["urn"]] = old_by_urn[former]
            renamed[former] = r["urn"]
    for r in new["resources"]:
        before = matched.get(r["urn"])
        if before is None:
            diff.added.append(_identity(r))
            continue
        change = _resource_change(before, r, renamed)
        if change.inputs or change.options:
            diff.changed.append(change)
        else:
            diff.unchanged += 1
    diff.renamed = list(renamed.items())
    kept = {r["urn"] for r in matched.values()}
    diff.deleted = [_identity(r) for r in old["resources"] if r["urn"] not in kept]
    diff.outputs = diff_values(old.get("outputs") or {}, new.get("outputs") or {})
    return diff


def diff_json(diff: PlanDiff) -> dict[str, Any]:
    """The diff as `diff.json`: values as in plan.json (`[secret]`, `[unknown]`)."""
    return {
        "old": diff.old_path, "project": diff.project, "stack": diff.stack,
        "summary": diff.summary,
        "add": diff.added,
        "change": [{
            "urn": c.urn, "type": c.type, "name": c.name,
            "replace": c.replace, "mayReplace": c.may_replace,
            "inputs": [i.as_json() for i in c.inputs],
            "options": [o.as_json() for o in c.options],
        } for c in diff.changed],
        "delete": diff.deleted,
        "rename": [{"old": old, "new": new} for old, new in diff.renamed],
        "outputs": [o.as_json() for o in diff.outputs],
    }


def write_diff(diff: PlanDiff, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "diff.json"
    path.write_text(json.dumps(diff_json(diff), indent=2) + "\n", encoding="utf-8")
    return path


def _shown(value: Any) -> str:
    """A plan value for the terminal: unknowns as "(known after apply)", long values cut."""
    if value == UNKNOWN_TEXT:
        return KNOWN_AFTER_APPLY
    if isinstance(value, str) and value != SECRET_TEXT:
        text = json.dumps(value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(", ", ": ")).replace(json.dumps(UNKNOWN_TEXT), KNOWN_AFTER_APPLY)
    else:
        text = SECRET_TEXT if value == SECRET_TEXT else json.dumps(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 1] + "…"


def _change_lines(change: Change, indent: str) -> list[str]:
    if change.op == "secret":
        return [f"{indent}~ {change.path}: [secret] ({SECRET_CHANGED} the value is not shown)"]
    if change.op == "add":
        return [f"{indent}+ {change.path}: {_shown(change.new)}"]
    if change.op == "delete":
        return [f"{indent}- {change.path}: {_shown(change.old)}"]
    old, new = change.old, change.new
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        # Multi-line text (scripts, manifests, config files): a line diff says more.
        lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
        more = len(lines) - _SHOWN_LINES
        body = [f"{indent}    {line}" for line in lines[:_SHOWN_LINES]]
        if more > 0:
            body.append(f"{indent}    … {more} more lines (see diff.json)")
        return [f"{indent}~ {change.path}:", *body]
    return [f"{indent}~ {change.path}: {_shown(old)} → {_shown(new)}"]


def diff_lines(diff: PlanDiff) -> list[str]:
    """The diff for the terminal, like `pulumi preview --diff`; ends with the summary line."""
    lines = [f"Changes against {diff.old_path or 'the old plan'}:"]
    for r in diff.added:
        lines.append(f"  + {r['type']} {r['name']} (create)")
    for c in diff.changed:
        symbol, kind = ("+-", "replace") if c.replace else ("~", "update")
        lines.append(f"  {symbol} {c.type} {c.name} ({kind})")
        lines.append(f"      [urn={c.urn}]")
        lines += [f"      {reason}" for reason in c.replace]
        lines += [f"      may replace: {reason}" for reason in c.may_replace]
        for change in c.options + c.inputs:
            lines += _change_lines(change, "      ")
    for r in diff.deleted:
        lines.append(f"  - {r['type']} {r['name']} (delete)")
    for old, new in diff.renamed:
        lines.append(f"  = {new} (renamed through an alias from {old})")
    if diff.outputs:
        lines.append("  Outputs:")
        for change in diff.outputs:
            lines += _change_lines(change, "      ")
    if len(lines) == 1:
        lines.append("  no changes")
    s = diff.summary
    renames = f", {len(diff.renamed)} renamed through aliases" if diff.renamed else ""
    lines.append(f"{s['add']} to add, {s['change']} to change, {s['delete']} to delete, "
                 f"{s['unchanged']} unchanged{renames}")
    return lines
