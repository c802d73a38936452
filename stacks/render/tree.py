"""Terminal output of a preview: the resource tree and the summary, like `pulumi preview`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def tree_lines(plan: dict[str, Any]) -> list[str]:
    resources = plan["resources"]
    children: dict[str | None, list[dict]] = defaultdict(list)
    for r in resources:
        children[r["parent"]].append(r)
    rows: list[tuple[str, str]] = []

    def walk(node: dict, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        flag = "  [protect]" if node["protect"] else ""
        rows.append((f"{prefix}{branch}{node['type']}", f"{node['name']}{flag}"))
        kids = sorted(children.get(node["urn"], []), key=lambda r: (r["type"], r["name"]))
        inner = prefix if depth == 0 else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, depth + 1)

    for root in children.get(None, []):
        walk(root, "", True, 0)
    width = max((len(label) for label, _ in rows), default=4) + 2
    return [f"     {'Type':<{width}}Name"] + [f" +   {label:<{width}}{name}" for label, name in rows]


def summary_lines(plan: dict[str, Any]) -> list[str]:
    total = len(plan["resources"])
    protected = sum(1 for r in plan["resources"] if r["protect"])
    lines = ["Resources:", f"    + {total} to create"]
    if protected:
        lines.append(f"    ({protected} protected)")
    return lines
