"""The platform picture as data: groups (sites, clusters), nodes and edges (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    id: str
    #: The first line is the title; the others are details.
    lines: tuple[str, ...]
    #: net | vpn | system | gpu | store | svc | team
    kind: str


@dataclass
class Group:
    """A site (data centre or cloud region) or a cluster inside one."""

    id: str
    label: str
    kind: str  # site | cluster
    nodes: list[Node] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    #: vpn | data | monitoring | replication | failover
    kind: str
    both_ways: bool = False


@dataclass
class PlatformGraph:
    stack: str
    groups: list[Group] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def walk(self) -> list[tuple[Group, Group | None]]:
        """Every group with its parent, outermost first."""
        out: list[tuple[Group, Group | None]] = []

        def visit(group: Group, parent: Group | None) -> None:
            out.append((group, parent))
            for child in group.groups:
                visit(child, group)

        for g in self.groups:
            visit(g, None)
        return out

    def nodes(self) -> list[Node]:
        return [n for g, _ in self.walk() for n in g.nodes]


class Ids:
    """Safe, unique node ids (letters, digits, `_`) from logical keys."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, ...], str] = {}
        self._taken: set[str] = set()

    def __call__(self, *key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        base = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(key)).strip("_")
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        self._by_key[key] = candidate
        return candidate
