"""Terminal output of a preview: the resource tree and the summary, like `pulumi preview`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

#: The widest tree line; longer types are shortened, then cut in the middle.
WIDTH = 120
#: Room the Name column keeps however long the types are.
_MIN_NAME_COLUMN = 30
_LEAD = " +   "
_GAP = 2


def short_type(token: str) -> str:
    """`aws:s3/bucketPolicy:BucketPolicy` -> `aws:s3:BucketPolicy`: the module's member repeats the type."""
    parts = token.split(":")
    if len(parts) == 3:
        package, module, name = parts
        head, _, member = module.rpartition("/")
        if head and member.lower() == name.lower():
            return f"{package}:{head}:{name}"
    return token


def _cut(text: str, width: int) -> str:
    """`text` in `width` characters: the middle replaced by `…` (its two ends tell most)."""
    if len(text) <= width:
        return text
    if width < 3:
        return text[:max(width, 0)]
    tail = (width - 1) // 2
    return f"{text[:width - 1 - tail]}…{text[len(text) - tail:]}"


def _fit_type(token: str, width: int) -> str:
    """A type token in `width` characters: shortened, then its module cut, then the whole cut."""
    if len(token) <= width:
        return token
    token = short_type(token)
    parts = token.split(":")
    if len(token) > width and len(parts) == 3:
        package, module, name = parts
        room = width - len(package) - len(name) - 2
        if room >= 3:  # package and type name whole: they are what a reader looks for
            return f"{package}:{_cut(module, room)}:{name}"
    return _cut(token, width)


def _cuts(rows: list[tuple[str, str, str]], width: int) -> int:
    """What a Type column of `width` would cut: rows with a cut type, and twice those with a cut
    name (a name is what a reader looks for; a type is still recognisable shortened)."""
    name_room = WIDTH - len(_LEAD) - width - _GAP
    return sum((len(tree) + len(type_) > width) + 2 * (len(name) > name_room) for tree, type_, name in rows)


def tree_lines(plan: dict[str, Any]) -> list[str]:
    """The tree in `WIDTH` columns, split between Type and Name where it cuts the fewest rows."""
    resources = plan["resources"]
    children: dict[str | None, list[dict]] = defaultdict(list)
    for r in resources:
        children[r["parent"]].append(r)
    rows: list[tuple[str, str, str]] = []

    def walk(node: dict, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        flag = "  [protect]" if node["protect"] else ""
        rows.append((f"{prefix}{branch}", node["type"], f"{node['name']}{flag}"))
        kids = sorted(children.get(node["urn"], []), key=lambda r: (r["type"], r["name"]))
        inner = prefix if depth == 0 else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, depth + 1)

    for root in children.get(None, []):
        walk(root, "", True, 0)
    widest = max((len(tree) + len(type_) for tree, type_, _ in rows), default=4)
    # Widest column first among equals, so a tree that fits keeps its types whole.
    width = min(range(min(widest, WIDTH - len(_LEAD) - _GAP - _MIN_NAME_COLUMN), 3, -1),
                key=lambda w: _cuts(rows, w), default=4)
    name_room = WIDTH - len(_LEAD) - width - _GAP
    lines = [f"{' ' * len(_LEAD)}{'Type':<{width + _GAP}}Name"]
    for tree, type_, name in rows:
        room = width - len(tree)
        # A tree too deep for the column: the whole label is cut (the type's end stays visible).
        label = tree + _fit_type(type_, room) if room >= 8 else _cut(tree + short_type(type_), width)
        lines.append(f"{_LEAD}{label:<{width + _GAP}}{_cut(name, name_room)}")
    return lines


def summary_lines(plan: dict[str, Any]) -> list[str]:
    total = len(plan["resources"])
    protected = sum(1 for r in plan["resources"] if r["protect"])
    lines = ["Resources:", f"    + {total} to create"]
    if protected:
        lines.append(f"    ({protected} protected)")
    return lines
