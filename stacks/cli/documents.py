"""The commands that render documents from a stack: the platform graph, the config schema and
reference, and the on-prem VPN device config from real stack outputs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from stacks.checks.problems import ConfigError
from stacks.cli.options import PROJECT_DIR_HELP
from stacks.cli.status import EXIT_OK, EXIT_PROGRAM, EXIT_USAGE
from stacks.config.platform import PlatformConfig
from stacks.preview.run import load_platform
from stacks.preview.stack_file import StackFileError, read_stack
from stacks.program.network import ONPREM_OUTPUT
from stacks.render.config_reference import REFERENCE_DOC, config_reference, refresh_reference
from stacks.render.graph import build_graph
from stacks.render.graph_mermaid import (
    DOT_NOT_FOUND,
    FORMATS,
    GraphvizError,
    graphviz,
    render_graphviz,
    to_dot,
    to_mermaid,
)
from stacks.render.onprem import OnPremConfigError, write_onprem


def onprem_config_command(args: argparse.Namespace) -> int:
    try:
        outputs = json.loads(Path(args.outputs).read_text())
    except (OSError, json.JSONDecodeError) as err:
        print(f"error: cannot read stack outputs {args.outputs}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(outputs, dict) or ONPREM_OUTPUT not in outputs:
        print(f"error: {args.outputs} has no {ONPREM_OUTPUT!r} output; is this "
              f"`pulumi stack output --stack {args.stack} --json` of a stack with on-prem VPNs?",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        root = write_onprem(outputs[ONPREM_OUTPUT], args.stack, Path(args.out))
    except OnPremConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"On-prem VPN device config written to {root}/", file=sys.stderr)
    return EXIT_OK


def graph_command(args: argparse.Namespace) -> int:
    project_dir = Path(args.cwd)
    binary = graphviz() if args.format in ("svg", "png") else None
    if args.format in ("svg", "png") and binary is None:
        print(f"error: {DOT_NOT_FOUND}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "png" and not args.out and sys.stdout.isatty():
        print("error: a PNG is not for the terminal; give --out FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        cfg = load_platform(read_stack(project_dir, args.stack))
    except (ConfigError, StackFileError) as err:
        print(f"error: invalid stack config (Pulumi.{args.stack}.yaml):\n{err}", file=sys.stderr)
        return EXIT_USAGE
    graph = build_graph(cfg, args.stack)
    if args.format == "mermaid":
        text = to_mermaid(graph)
        if args.out and args.out.endswith(".md"):
            text = f"```mermaid\n{text}```\n"
        data = text.encode("utf-8")
    elif args.format == "dot":
        data = to_dot(graph).encode("utf-8")
    else:
        try:
            data = render_graphviz(to_dot(graph), args.format, binary)
        except (GraphvizError, OSError, subprocess.TimeoutExpired) as err:
            print(f"error: Graphviz failed to draw the {args.format}: {err}", file=sys.stderr)
            return EXIT_PROGRAM
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        print(f"{args.format} of stack '{args.stack}' written to {out}", file=sys.stderr)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def schema_command(args: argparse.Namespace) -> int:
    if args.write:
        try:
            changed = refresh_reference(Path(args.write))
        except (OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{args.write}: config reference {'updated' if changed else 'unchanged'}",
              file=sys.stderr)
        return EXIT_OK
    if args.markdown:
        sys.stdout.write(config_reference())
        return EXIT_OK
    print(json.dumps(PlatformConfig.model_json_schema(by_alias=True), indent=2))
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    onprem = sub.add_parser(
        "onprem-config",
        help="render the on-prem VPN device config from `pulumi stack output --json`")
    onprem.add_argument("stack")
    onprem.add_argument("--outputs", required=True, metavar="FILE",
                        help="the JSON of `pulumi stack output --stack STACK --json` (no secrets needed)")
    onprem.add_argument("--out", required=True, metavar="DIR", help="writes DIR/onprem/")
    onprem.set_defaults(func=onprem_config_command)
    graph = sub.add_parser(
        "graph",
        help="draw the platform (sites, networks, VPN links, clusters, GPU pools, artifact "
             "stores, services, teams) from the stack config; no preview needed",
        description="Draw the platform from Pulumi.STACK.yaml alone (validated, nothing is "
                    "previewed): Mermaid for GitHub, Graphviz DOT, or SVG/PNG drawn by Graphviz.")
    graph.add_argument("stack", help="stack name; reads Pulumi.STACK.yaml")
    graph.add_argument("-C", "--cwd", default=None, metavar="DIR",
                       help=PROJECT_DIR_HELP)
    graph.add_argument("--format", choices=FORMATS, default="mermaid",
                       help="mermaid (default; a .md --out gets a ```mermaid fence), dot, or "
                            "svg/png (need Graphviz `dot` on PATH)")
    graph.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    graph.set_defaults(func=graph_command)
    schema = sub.add_parser("schema", help="print the JSON Schema of the platform config")
    schema.add_argument("--markdown", action="store_true",
                        help="print it as the config reference table (Markdown) instead")
    # --readme is the flag's first name, from when the reference lived in the README.
    schema.add_argument("--write", "--readme", dest="write", nargs="?", const=str(REFERENCE_DOC),
                        metavar="FILE",
                        help="rewrite the config reference between its markers in FILE "
                             f"(default {REFERENCE_DOC})")
    schema.set_defaults(func=schema_command)
