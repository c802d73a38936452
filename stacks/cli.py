"""`hybrid-ml`: the offline preview and helpers for platform engineers.

Exit codes: 0 success; 1 mandatory policy violations; 2 invalid config or
usage; 3 the program failed (a bug, or something only a live cloud can answer).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stacks.config import PlatformConfig
from stacks.offline import Captured
from stacks.plan import write_plan
from stacks.preview import PreviewError, run_preview
from stacks.render import summary_lines, tree_lines
from stacks.stackfile import StackFileError
from stacks.validation import ConfigError

EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_PROGRAM = 0, 1, 2, 3


class _Progress:
    """Counts registrations on stderr while the program runs (only on a terminal)."""

    def __init__(self) -> None:
        self.count = 0
        self.live = sys.stderr.isatty()

    def __call__(self, record: Captured) -> None:
        self.count += 1
        if self.live:
            sys.stderr.write(f"\r  registering resources: {self.count} ({record.type})\x1b[K")
            sys.stderr.flush()

    def done(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")
        sys.stderr.write(f"  registered {self.count} resources\n")


def _preview(args: argparse.Namespace) -> int:
    project_dir = Path(args.cwd)
    out_dir = Path(args.out) if args.out else project_dir / "build" / args.stack
    print(f"Previewing stack '{args.stack}' offline (Pulumi SDK mock runtime, no cloud calls)",
          file=sys.stderr)
    progress = _Progress()
    try:
        result = run_preview(project_dir, args.stack, on_register=progress)
    except (ConfigError, StackFileError) as err:
        print(f"error: invalid stack config (Pulumi.{args.stack}.yaml):", file=sys.stderr)
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except PreviewError as err:
        print(f"error: the engine would refuse this program:\n{err}", file=sys.stderr)
        return EXIT_PROGRAM
    except Exception as err:  # noqa: BLE001 - report the program's failure without a traceback
        if args.debug:
            raise
        print(f"error: the program failed: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_PROGRAM
    progress.done()
    for line in result.diagnostics:
        print(line, file=sys.stderr)
    print("\n".join(tree_lines(result.plan)))
    print()
    print("\n".join(summary_lines(result.plan)))
    path = write_plan(result.plan, out_dir)
    print(f"\nPlan written to {path}")
    return EXIT_OK


def _schema(_: argparse.Namespace) -> int:
    print(json.dumps(PlatformConfig.model_json_schema(by_alias=True), indent=2))
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybrid-ml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    preview = sub.add_parser("preview", help="preview a stack offline and write its plan")
    preview.add_argument("stack", help="stack name; reads Pulumi.STACK.yaml")
    preview.add_argument("--out", metavar="DIR", help="output directory (default build/STACK)")
    preview.add_argument("-C", "--cwd", default=".", metavar="DIR",
                         help="project directory holding Pulumi.yaml (default .)")
    preview.add_argument("--debug", action="store_true", help="show tracebacks of program errors")
    preview.set_defaults(func=_preview)
    schema = sub.add_parser("schema", help="print the JSON Schema of the platform config")
    schema.set_defaults(func=_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
