"""`hybrid-ml`: the offline preview and helpers for platform engineers.

Exit codes: 0 success; 1 mandatory policy violations; 2 invalid config or
usage; 3 the program failed (a bug, or something only a live cloud can answer);
130 interrupted (Ctrl-C); 141 the reader of stdout went away (`| head`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import sys
from pathlib import Path

from stacks.checks.examples import example_values
from stacks.checks.problems import ConfigError
from stacks.cli.documents import add_parsers as add_document_parsers
from stacks.cli.options import PROJECT_DIR_HELP
from stacks.cli.out_dir import OutDirError, StagedOutput, check_out_dir
from stacks.cli.progress import Phase, Progress
from stacks.cli.secrets import add_parser as add_secrets_parser
from stacks.cli.status import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OK, EXIT_POLICY, EXIT_PROGRAM, EXIT_USAGE
from stacks.cli.team import add_parsers as add_team_parsers
from stacks.config.platform import CONFIG_KEY
from stacks.plan.policy_config import drift_note, policy_config_text
from stacks.preview.analyzer_client import PolicyConfigError, PolicyPackError, run_policy_pack
from stacks.preview.manifests import write_manifests
from stacks.preview.plan_diff import PlanFileError, diff_lines, diff_plans, load_plan, write_diff
from stacks.preview.plan_file import write_plan
from stacks.preview.policy_report import build_report, report_lines, write_reports
from stacks.preview.run import PreviewError, PreviewResult, load_platform, run_preview
from stacks.preview.stack_file import StackFileError, read_stack
from stacks.program.network import ONPREM_OUTPUT
from stacks.render.onprem import OnPremConfigError, write_onprem
from stacks.render.tree import summary_lines, tree_lines


def _enforce(args: argparse.Namespace, plan: dict, staged: StagedOutput, pack_dir: Path) -> int:
    """Run a policy pack over the plan as `pulumi preview --policy-pack` would; 1 on violations.

    The reports go into `staged` beside the plan they judge; on any other exit code they are not
    written (and the caller keeps the previous output).
    """
    config_path = Path(args.policy_config) if args.policy_config else (
        pack_dir / f"config.{args.stack}.json")
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        print(f"error: {pack_dir} is not a policy pack (no PulumiPolicy.yaml)", file=sys.stderr)
        return EXIT_USAGE
    try:
        policy_config = json.loads(config_path.read_text()) if config_path.is_file() else None
    except json.JSONDecodeError as err:
        print(f"error: {config_path}: not valid JSON ({err})", file=sys.stderr)
        return EXIT_USAGE
    print(f"Running policy pack {pack_dir} with "
          f"{config_path if policy_config is not None else 'its default config'}", file=sys.stderr)
    if policy_config is not None:
        _warn_stale_policy_config(args, config_path, policy_config)
    try:
        with Phase("policy pack"):
            result = run_policy_pack(pack_dir, plan["resources"], policy_config,
                                     analyze_all_resources=True)
    except PolicyConfigError as err:
        print(f"error: invalid policy config {config_path}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyPackError as err:
        print(f"error: the policy pack failed: {err}", file=sys.stderr)
        return EXIT_PROGRAM
    report = build_report(result, args.stack)
    stack_file = f"Pulumi.{args.stack}.yaml"
    json_path, sarif_path = write_reports(report, staged.dir, stack_file, Path(args.cwd))
    print()
    print("\n".join(report_lines(report)))
    print(f"Policy report written to {staged.shown(json_path)} and {staged.shown(sarif_path)}")
    return EXIT_POLICY if report["summary"]["mandatoryViolations"] else EXIT_OK


def _run(project_dir: Path, stack: str, progress: Progress):
    """The preview with its progress, stopped however the run ends."""
    try:
        result = run_preview(project_dir, stack, on_register=progress)
    finally:
        progress.stop()
    progress.done()
    examples = example_values(result.stack_file.config.get(f"{result.stack_file.project}:{CONFIG_KEY}"))
    if examples:
        print(f"warning: Pulumi.{stack}.yaml still holds documentation-only values; replace them "
              "before a real `pulumi up` (README, First deployment):", file=sys.stderr)
        print("\n".join(f"  {e}" for e in examples), file=sys.stderr)
    return result


def _last_size(out_dir: Path) -> int | None:
    """How many resources the last preview into `out_dir` had: what progress counts towards."""
    try:
        return len(json.loads((out_dir / "plan.json").read_text())["resources"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _old_plan(args: argparse.Namespace, project_dir: Path) -> dict:
    """The plan `--diff` compares against, read before the new plan may overwrite it."""
    try:
        project = read_stack(project_dir, args.stack).project
    except StackFileError:
        project = None  # the preview reports the stack file itself
    return load_plan(Path(args.diff), project=project, stack=args.stack)


def _judge_plan(args: argparse.Namespace, out_dir: Path) -> int:
    """`policy --plan FILE`: the reports go beside a copy of the plan they judged."""
    plan_path = Path(args.plan)
    try:
        plan = json.loads(plan_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        print(f"error: cannot read plan {args.plan}: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        same = json.loads((out_dir / "plan.json").read_text()) == plan
    except (OSError, ValueError):
        same = False
    with StagedOutput(out_dir) as staged:
        if not same:  # the out folder's other files describe another plan: they go
            shutil.copyfile(plan_path, staged.dir / "plan.json")
        code = _enforce(args, plan, staged, Path(args.pack))
        return _commit(staged, code, keep=("plan.json", "diff.json", "manifests", "onprem") if same else ())


def _commit(staged: StagedOutput, code: int, keep: tuple[str, ...] = ()) -> int:
    """Move a run's files into place if it completed (exit 0 or 1), else keep the previous ones."""
    if code not in (EXIT_OK, EXIT_POLICY):
        print(f"{staged.target} left as the last complete run wrote it", file=sys.stderr)
        return code
    try:
        staged.commit(keep)
    except OutDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_PROGRAM
    return code


def _preview(args: argparse.Namespace) -> int:
    project_dir = Path(args.cwd)
    out_dir = Path(args.out) if args.out else project_dir / "build" / args.stack
    try:
        check_out_dir(out_dir, project_dir, Path.cwd())
    except OutDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    args.interrupt_note = f"; {out_dir} is as the last complete run left it"
    old_plan = None
    if getattr(args, "diff", None):
        try:
            old_plan = _old_plan(args, project_dir)
        except PlanFileError as err:
            print(f"error: --diff: {err}", file=sys.stderr)
            return EXIT_USAGE
    if getattr(args, "plan", None):
        return _judge_plan(args, out_dir)
    print(f"Previewing stack '{args.stack}' offline (Pulumi SDK mock runtime, no cloud calls)",
          file=sys.stderr)
    progress = Progress(expected=_last_size(out_dir))
    try:
        result = _run(project_dir, args.stack, progress)
    except (ConfigError, StackFileError) as err:
        print(f"error: invalid stack config (Pulumi.{args.stack}.yaml):", file=sys.stderr)
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except PreviewError as err:
        print(f"error: the engine would refuse this program:\n{err}", file=sys.stderr)
        return EXIT_PROGRAM
    except Exception as err:  # report the program's failure without a traceback
        if args.debug:
            raise
        print(f"error: the program failed: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_PROGRAM
    for line in result.diagnostics:
        print(line, file=sys.stderr)
    with StagedOutput(out_dir) as staged:
        code, diff_total = _write_outputs(args, result, old_plan, staged)
        if code == EXIT_OK and not args.no_policy:
            pack_dir = Path(args.pack) if getattr(args, "pack", None) else project_dir / "policies"
            code = _enforce(args, result.plan, staged, pack_dir)
        code = _commit(staged, code)
    if diff_total is not None:
        # Last, so neither the tree nor the policy report pushes it out of sight.
        print(f"\n{diff_total}")
    return code


def _write_outputs(args: argparse.Namespace, result: PreviewResult, old_plan: dict | None,
                   staged: StagedOutput) -> tuple[int, str | None]:
    """Plan, manifests, on-prem files and diff into `staged`; the exit code and the diff's totals."""
    if not args.summary:
        print("\n".join(tree_lines(result.plan)))
        print()
    print("\n".join(summary_lines(result.plan)))
    path = write_plan(result.plan, staged.dir)
    print(f"\nPlan written to {staged.shown(path)}")
    if result.plan["helmReleases"] or result.schema_check.validated:
        with Phase("manifests"):
            root = write_manifests(result.plan, staged.dir)
        check = result.schema_check
        print(f"Kubernetes manifests written to {staged.shown(root)}/: {check.validated} objects "
              f"schema-valid, {check.custom} custom resources (no bundled schema), "
              f"{len(result.plan['helmReleases'])} Helm releases listed")
    onprem = result.plan["outputs"].get(ONPREM_OUTPUT)
    if onprem is not None:
        try:
            root = write_onprem(onprem, args.stack, staged.dir)
        except OnPremConfigError as err:
            print(f"error: cannot render the on-prem VPN config: {err}", file=sys.stderr)
            return EXIT_PROGRAM, None
        print(f"On-prem VPN device config written to {staged.shown(root)}/")
    if old_plan is None:
        return EXIT_OK, None
    diff = diff_plans(old_plan, result.plan, args.diff)
    *details, totals = diff_lines(diff)
    if not args.summary:
        print()
        print("\n".join(details))
    print(f"Diff written to {staged.shown(write_diff(diff, staged.dir))}")
    return EXIT_OK, f"{details[0].removesuffix(':')}: {totals}"


def _policy_config(args: argparse.Namespace) -> int:
    project_dir = Path(args.cwd)
    try:
        cfg = load_platform(read_stack(project_dir, args.stack))
    except (ConfigError, StackFileError) as err:
        print(f"error: invalid stack config (Pulumi.{args.stack}.yaml):\n{err}", file=sys.stderr)
        return EXIT_USAGE
    text = policy_config_text(cfg)
    if args.write:
        path = project_dir / "policies" / f"config.{args.stack}.json"
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            print(f"{path} is up to date", file=sys.stderr)
            return EXIT_OK
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _warn_stale_policy_config(args: argparse.Namespace, config_path: Path, committed: dict) -> None:
    """A stack change not carried into its policies/config.STACK.json shows up as violations; say why."""
    project_dir = Path(args.cwd)
    if config_path.resolve() != (project_dir / "policies" / f"config.{args.stack}.json").resolve():
        return
    try:
        note = drift_note(committed, load_platform(read_stack(project_dir, args.stack)), args.stack)
    except (ConfigError, StackFileError):
        return  # the preview reports the stack file itself
    if note:
        print(f"warning: {note}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hybrid-ml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    preview = sub.add_parser("preview", help="preview a stack offline and write its plan")
    preview.add_argument("stack", help="stack name; reads Pulumi.STACK.yaml")
    preview.add_argument("--out", metavar="DIR", help="output directory (default build/STACK)")
    preview.add_argument("-C", "--cwd", default=None, metavar="DIR",
                         help=PROJECT_DIR_HELP)
    preview.add_argument("--debug", action="store_true", help="show tracebacks of program errors")
    preview.add_argument("--policy-config", metavar="FILE",
                         help="policy config (default: policies/config.STACK.json)")
    preview.add_argument("--no-policy", action="store_true",
                         help="skip the policy pack (and write no policy report)")
    preview.add_argument("--summary", action="store_true",
                         help="no resource tree: only the counts, the diff's totals and the policy report")
    preview.add_argument("--diff", metavar="OLD_PLAN",
                         help="also show what changed against an earlier plan.json (added, "
                              "deleted, changed input by input) and write diff.json next to "
                              "plan.json; OLD_PLAN may be the plan.json this run replaces")
    preview.set_defaults(func=_preview)
    policy = sub.add_parser("policy", parents=[], help="preview a stack and run any policy pack on it")
    policy.add_argument("stack", help="stack name; reads Pulumi.STACK.yaml")
    policy.add_argument("--pack", required=True, metavar="DIR", help="policy pack directory")
    policy.add_argument("--policy-config", metavar="FILE",
                        help="policy config (default: DIR/config.STACK.json)")
    policy.add_argument("--plan", metavar="FILE",
                        help="judge an existing plan.json instead of previewing the stack")
    policy.add_argument("--out", metavar="DIR", help="output directory (default build/STACK)")
    policy.add_argument("-C", "--cwd", default=None, metavar="DIR",
                        help=PROJECT_DIR_HELP)
    policy.add_argument("--debug", action="store_true", help="show tracebacks of program errors")
    policy.add_argument("--summary", action="store_true",
                        help="no resource tree: only the counts and the policy report")
    policy.set_defaults(func=_preview, no_policy=False)
    pcfg = sub.add_parser("policy-config",
                          help="print (or --write) policies/config.STACK.json from the stack config")
    pcfg.add_argument("stack")
    pcfg.add_argument("--write", action="store_true", help="write policies/config.STACK.json")
    pcfg.add_argument("-C", "--cwd", default=None, metavar="DIR", help=PROJECT_DIR_HELP)
    pcfg.set_defaults(func=_policy_config)
    add_team_parsers(sub)
    add_secrets_parser(sub)
    add_document_parsers(sub)
    return parser


def _find_project(start: Path) -> Path | None:
    """The nearest folder from `start` up that holds Pulumi.yaml, as the `pulumi` CLI finds it."""
    return next((d for d in (start, *start.parents) if (d / "Pulumi.yaml").is_file()), None)


def _stack_problem(project_dir: Path, stack: str) -> str | None:
    """Why `stack` cannot be read from `project_dir`, naming the stacks that exist; None if it can."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if path.is_file():
        return None
    stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
    if not stacks:
        return f"{path}: no such file; {project_dir} has no stack files (Pulumi.STACK.yaml)"
    close = difflib.get_close_matches(stack, stacks, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{path}: no such file; stacks there: {', '.join(stacks)}{hint}"


def _locate(args: argparse.Namespace) -> str | None:
    """Fill in the project folder (-C) and check the stack exists; the error, if any."""
    if not hasattr(args, "cwd"):
        return None
    if args.cwd is None:
        found = _find_project(Path.cwd())
        if found is None:
            return (f"no Pulumi.yaml in {Path.cwd()} or any folder above it; run hybrid-ml inside "
                    "the project or give -C PROJECT_DIR")
        args.cwd = os.path.relpath(found)  # paths in messages stay as short as the user's
    stack = getattr(args, "stack", None)
    if stack is None or not (Path(args.cwd) / "Pulumi.yaml").is_file():
        return None  # the command reports a missing Pulumi.yaml itself
    return _stack_problem(Path(args.cwd), stack)


def _run_command(argv: list[str] | None, args_seen: list[argparse.Namespace]) -> int:
    args = _parser().parse_args(argv)
    args_seen.append(args)
    problem = _locate(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    code = args.func(args)
    sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    return code


def main(argv: list[str] | None = None) -> int:
    args_seen: list[argparse.Namespace] = []
    try:
        return _run_command(argv, args_seen)
    except KeyboardInterrupt:
        note = getattr(args_seen[0], "interrupt_note", "") if args_seen else ""
        # On a terminal the line may hold progress or `^C`: start a fresh one.
        fresh = "\n" if sys.stderr.isatty() else ""
        print(f"{fresh}hybrid-ml: interrupted{note}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`hybrid-ml schema | head`): nothing more to say, and nothing to flush
        # at exit either, so stdout goes to /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
