"""Drawing the platform graph: Mermaid (renders in GitHub), Graphviz DOT, and SVG/PNG via `dot`."""

from __future__ import annotations

import itertools
import shutil
import subprocess

from stacks.render.graph_model import Group, Node, PlatformGraph

FORMATS = ("mermaid", "dot", "svg", "png")
DOT_NOT_FOUND = "Graphviz `dot` not found; use --format mermaid or install graphviz"

#: Mermaid node shapes by kind: (opening, closing) around the quoted label.
_MERMAID_SHAPES = {
    "net": ("[", "]"), "vpn": ("{{", "}}"), "system": ("[", "]"),
    "gpu": ("[[", "]]"), "store": ("[(", ")]"), "svc": ("(", ")"), "team": ("([", "])"),
}
_MERMAID_ARROWS = {"vpn": "<==>", "data": "-->", "monitoring": "-.->", "replication": "-.->",
                   "failover": "-.->"}
#: Fill and stroke per kind, shared by both formats.
_COLOURS = {
    "site": ("#f6f8fa", "#57606a"), "cluster": ("#ddf4ff", "#0969da"),
    "net": ("#fff8c5", "#9a6700"), "vpn": ("#fff8c5", "#9a6700"), "system": ("#ffffff", "#57606a"),
    "gpu": ("#dafbe1", "#1a7f37"), "store": ("#fbefff", "#8250df"), "svc": ("#ffebe9", "#cf222e"),
    "team": ("#fff1e5", "#bc4c00"),
}
_DOT_SHAPES = {"net": "box", "vpn": "hexagon", "system": "box", "gpu": "box3d", "store": "cylinder",
               "svc": "box", "team": "box"}
_DOT_EDGES = {"vpn": 'dir=both, penwidth=2', "data": "", "monitoring": "style=dashed",
              "replication": "style=dashed", "failover": "style=dashed"}


class GraphvizError(Exception):
    """`dot` ran and failed."""


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for what Mermaid would parse."""
    return (text.replace("#", "#35;").replace('"', "#quot;")
            .replace("<", "#lt;").replace(">", "#gt;"))


def _mermaid_label(lines: tuple[str, ...] | list[str]) -> str:
    return '"' + "<br/>".join(_mermaid_text(line) for line in lines) + '"'


def _mermaid_node(node: Node) -> str:
    opening, closing = _MERMAID_SHAPES.get(node.kind, ("[", "]"))
    return f"{node.id}{opening}{_mermaid_label(node.lines)}{closing}"


def to_mermaid(graph: PlatformGraph) -> str:
    """A Mermaid `flowchart LR`: one subgraph per site, nested subgraphs per cluster."""
    out = ["flowchart LR", f"  %% The platform of stack {graph.stack}: `hybrid-ml graph {graph.stack}`"]

    def group(g: Group, depth: int) -> None:
        pad = "  " * depth
        out.append(f"{pad}subgraph {g.id}[{_mermaid_label([g.label])}]")
        out.extend(f"{pad}  {_mermaid_node(n)}" for n in g.nodes)
        for child in g.groups:
            group(child, depth + 1)
        out.append(f"{pad}end")

    for g in graph.groups:
        group(g, 1)
    # Invisible links lay each site out as one row (left to right: network, VPN devices,
    # stores, then its cluster); without them dagre piles unlinked nodes into one column.
    for g in graph.groups:
        row = [n.id for n in g.nodes] + [n.id for c in g.groups for n in c.nodes]
        out.extend(f"  {a} ~~~ {b}" for a, b in itertools.pairwise(row))
    for e in graph.edges:
        arrow = _MERMAID_ARROWS.get(e.kind, "-->")
        if e.both_ways and not arrow.startswith("<"):
            arrow = "<" + arrow
        out.append(f"  {e.source} {arrow}|{_mermaid_label([e.label])}| {e.target}")
    by_kind: dict[str, list[str]] = {}
    for g, _ in graph.walk():
        by_kind.setdefault(g.kind, []).append(g.id)
    for n in graph.nodes():
        by_kind.setdefault(n.kind, []).append(n.id)
    for kind, ids in by_kind.items():
        fill, stroke = _COLOURS.get(kind, ("#ffffff", "#57606a"))
        out.append(f"  classDef {kind} fill:{fill},stroke:{stroke},color:#1f2328")
        out.append(f"  class {','.join(ids)} {kind}")
    return "\n".join(out) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_label(lines: tuple[str, ...] | list[str]) -> str:
    return '"' + "\\n".join(_dot_text(line) for line in lines) + '"'


def to_dot(graph: PlatformGraph) -> str:
    """Graphviz DOT: sites and clusters as nested `cluster_` subgraphs."""
    title = _dot_label([f"hybrid-ml graph {graph.stack}"])
    out = [f"digraph {_dot_label([f'platform-{graph.stack}'])} {{",
           f'  graph [rankdir=LR, compound=true, fontname="Helvetica", fontsize=12, label={title}];',
           '  node [fontname="Helvetica", fontsize=10, style="filled,rounded"];',
           '  edge [fontname="Helvetica", fontsize=9];']

    def group(g: Group, depth: int) -> None:
        pad = "  " * depth
        fill, stroke = _COLOURS[g.kind]
        out.append(f'{pad}subgraph "cluster_{g.id}" {{')
        out.append(f'{pad}  label={_dot_label([g.label])}; style="rounded,filled"; '
                   f'fillcolor="{fill}"; color="{stroke}";')
        for n in g.nodes:
            n_fill, n_stroke = _COLOURS.get(n.kind, ("#ffffff", "#57606a"))
            out.append(f'{pad}  "{n.id}" [label={_dot_label(n.lines)}, '
                       f'shape={_DOT_SHAPES.get(n.kind, "box")}, fillcolor="{n_fill}", color="{n_stroke}"];')
        for child in g.groups:
            group(child, depth + 1)
        out.append(f"{pad}}}")

    for g in graph.groups:
        group(g, 1)
    for e in graph.edges:
        attrs = ", ".join(a for a in (f"label={_dot_label([e.label])}", _DOT_EDGES.get(e.kind, ""),
                                      "dir=both" if e.both_ways and e.kind != "vpn" else "") if a)
        out.append(f'  "{e.source}" -> "{e.target}" [{attrs}];')
    out.append("}")
    return "\n".join(out) + "\n"


def graphviz() -> str | None:
    """The `dot` binary on PATH, if Graphviz is installed."""
    return shutil.which("dot")


def render_graphviz(dot_source: str, fmt: str, dot_binary: str) -> bytes:
    """SVG or PNG bytes of a DOT document, drawn by Graphviz."""
    result = subprocess.run([dot_binary, f"-T{fmt}"], input=dot_source.encode("utf-8"),
                            capture_output=True, check=False, timeout=120)
    if result.returncode != 0:
        raise GraphvizError(result.stderr.decode("utf-8", "replace").strip()
                            or f"exit code {result.returncode}")
    return result.stdout
