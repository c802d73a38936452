"""`hybrid-ml secrets STACK`: the secret config keys a stack needs, as the commands that set them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stacks.checks.problems import ConfigError
from stacks.cli.status import EXIT_OK, EXIT_POLICY, EXIT_USAGE
from stacks.preview.run import load_platform
from stacks.preview.stack_file import StackFileError, read_stack
from stacks.program.secrets import required_secrets


def secret_lines(stack: str, project: str, secure_keys: frozenset[str], cfg: Any) -> list[str]:
    """One `pulumi config set --secret` line per key, each marked set or missing."""
    lines = []
    for s in required_secrets(cfg):
        value = "< KUBECONFIG_FILE" if s.from_file else "'<value>'"
        state = "set" if f"{project}:{s.key}" in secure_keys else "MISSING"
        lines.append(f"pulumi config set --stack {stack} --secret {s.key} {value}"
                     f"   # {state}: {s.used_by}")
    return lines


def secrets(args: argparse.Namespace) -> int:
    try:
        stack_file = read_stack(Path(args.cwd), args.stack)
        cfg = load_platform(stack_file)
    except (StackFileError, ConfigError) as err:
        print(f"error: invalid stack config (Pulumi.{args.stack}.yaml):\n{err}", file=sys.stderr)
        return EXIT_USAGE
    lines = secret_lines(args.stack, stack_file.project, stack_file.secure_keys, cfg)
    print(f"# The secret config keys stack '{args.stack}' reads; `pulumi config set --secret` "
          "encrypts each with the stack's secrets provider.")
    print("\n".join(lines) if lines else "# none")
    missing = [line for line in lines if "# MISSING" in line]
    return EXIT_POLICY if missing and args.check else EXIT_OK


def add_parser(sub: Any) -> None:
    p = sub.add_parser("secrets", help="list the secret config keys a stack needs, as the "
                                       "`pulumi config set --secret` commands that set them")
    p.add_argument("stack", help="stack name; reads Pulumi.STACK.yaml")
    p.add_argument("-C", "--cwd", default=".", metavar="DIR",
                   help="project directory holding Pulumi.yaml (default .)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a key is not set in the stack file yet")
    p.set_defaults(func=secrets)
