"""`hybrid-ml team add|list|remove`: a team's environment as a small, validated stack-file change.

`add` validates the request with the whole stack config (the same checks as a preview: clusters,
residency, GPU capacity, Kafka), writes it into `Pulumi.STACK.yaml` keeping comments and order,
then previews the stack before and after and prints what the team gets. Nothing is written
when the request is invalid. `remove` refuses while the team owns protected stateful resources.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from components.tags import canonical_cost_center, canonical_owner
from stacks.checks.problems import ConfigError, ConfigProblem, key_path
from stacks.cli import team_services
from stacks.cli.options import PROJECT_DIR_HELP
from stacks.cli.status import EXIT_OK, EXIT_PROGRAM, EXIT_USAGE
from stacks.config.teams import team_namespace
from stacks.plan.clusters import planned_clusters
from stacks.preview.plan_diff import diff_lines, diff_plans
from stacks.preview.run import load_platform, run_preview
from stacks.preview.stack_file import StackFileError, read_stack
from stacks.preview.team_file import TeamFile
from stacks.program.validate import parse_platform
from stacks.render.team_summary import queue_settings, team_summary

TEAM_TYPE = "hybridml:teams:Team"
#: What holds data (or the keys to it), by the input that names it: shown before a team is
#: removed. Removal is refused for every owned resource that is protected, whatever its type.
STATEFUL_TYPES = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:kms/key:Key": "description",
    "gcp:storage/bucket:Bucket": "name",
    "gcp:kms/keyRing:KeyRing": "name",
    "gcp:kms/cryptoKey:CryptoKey": "name",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:keyvault:Key": "keyName",
    "kubernetes:kafka.strimzi.io/v1:KafkaTopic": "metadata",
}


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _gpu_types(values: list[str] | None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """`--gpu-type TYPE=N` flags as `queue.gpus`, and the malformed ones with what is wrong."""
    out: dict[str, int] = {}
    bad: list[tuple[str, str]] = []
    for value in values or []:
        gpu_type, sep, count = value.partition("=")
        gpu_type, count = gpu_type.strip(), count.strip()
        if not sep or not gpu_type or not count.isdigit():
            bad.append((value, "like nvidia-l4=2: a GPU type, `=`, and a whole number of GPUs "
                               "(0 or more) guaranteed of that type"))
        elif gpu_type in out:
            bad.append((value, f"each GPU type once ({gpu_type} is already {out[gpu_type]})"))
        else:
            out[gpu_type] = int(count)
    return out, bad


def _flow(values: list[str]) -> CommentedSeq:
    """A list written `[a, b]`, like the entry's `sites`."""
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _default_sites(cfg: Any, classification: str | None) -> list[str]:
    """Every cluster of the stack where data of the team's classification may live."""
    cls = cfg.residency.classifications.get(classification or cfg.residency.default_classification)
    cloud_ok = cls is not None and not cls.on_prem_required
    return [c.ref for c in planned_clusters(cfg)
            if c.site == "onprem" or (cloud_ok and c.region in cls.allowed_regions)]


def _entry(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    # Written in the canonical form the stack reads them in (`cc-4242` is stored `CC-4242`).
    entry: dict[str, Any] = {"name": args.name,
                             "owner": canonical_owner(args.owner) or args.owner,
                             "costCenter": canonical_cost_center(args.cost_center) or args.cost_center}
    if args.group:
        entry["group"] = args.group
    if args.aws_role_arn:
        entry["awsRoleArn"] = args.aws_role_arn
    if args.azure_group_object_id:
        entry["azureGroupObjectId"] = args.azure_group_object_id
    if args.google_group:
        entry["googleGroup"] = args.google_group
    entry["sites"] = _csv(args.sites) or _default_sites(cfg, args.data_classification)
    if args.data_classification:
        entry["dataClassification"] = args.data_classification
    if args.gpus:
        entry["gpus"] = args.gpus
    topics = _csv(args.topics)
    if topics:
        entry["topics"] = [{"name": t} for t in topics]
    if args.mlflow_permission:
        entry["mlflowPermission"] = args.mlflow_permission
    # Only what was asked for: the queue's defaults live in the model, not in every entry.
    queue: dict[str, Any] = {}
    gpus, _ = _gpu_types(args.gpu_type)
    if gpus:
        queue["gpus"] = gpus
    if args.borrow_gpus is not None:
        queue["borrowGpus"] = args.borrow_gpus
    burst = _csv(args.burst_to)
    if burst:
        queue["burstTo"] = _flow(burst)
    if queue:
        entry["queue"] = queue
    return {**entry, **team_services.service_entry(args)}


def _load(args: argparse.Namespace) -> tuple[Path, Any, TeamFile] | int:
    project_dir = Path(args.cwd)
    try:
        stack_file = read_stack(project_dir, args.stack)
        cfg = load_platform(stack_file)
        edit = TeamFile(project_dir / f"Pulumi.{args.stack}.yaml", stack_file.project)
    except (ConfigError, StackFileError) as err:
        _err(f"error: invalid stack config (Pulumi.{args.stack}.yaml):\n{err}")
        return EXIT_USAGE
    return project_dir, cfg, edit


def _preview_plan(project_dir: Path, stack: str) -> dict[str, Any]:
    return run_preview(project_dir, stack).plan


def team_add(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    project_dir, cfg, edit = loaded
    if any(t.name == args.name for t in cfg.teams):
        _err(f"error: team {args.name!r} already exists in Pulumi.{args.stack}.yaml "
             "(`hybrid-ml team list`); remove it first or pick another name")
        return EXIT_USAGE
    if team_services.option_problems(args):
        _err("error: " + "; ".join(team_services.option_problems(args)) + "; nothing was written")
        return EXIT_USAGE
    entry = _entry(args, cfg)
    edit.add(entry)
    index = len(cfg.teams)
    _, malformed = _gpu_types(args.gpu_type)
    mine = [ConfigProblem(f"{key_path(('teams', index, 'queue', 'gpus'))} (--gpu-type)", value,
                          allowed) for value, allowed in malformed]
    try:
        new_cfg = parse_platform(edit.plain())
    except ConfigError as err:
        # Only the new entry's problems matter here (the file was valid before).
        mine += [_flag(p, index) for p in err.problems if _of_entry(p, index)] or err.problems
    if mine:
        _err(f"error: team {args.name!r} cannot be added to stack {args.stack!r}; "
             "nothing was written:")
        _err("\n".join(str(p) for p in mine))
        return EXIT_USAGE
    path = edit.path
    before = path.read_text(encoding="utf-8")
    old_plan = None
    if not args.no_preview:
        _err(f"Previewing stack '{args.stack}' before the change (offline)...")
        try:
            old_plan = _preview_plan(project_dir, args.stack)
        except Exception as err:  # the stack must preview before we touch it
            _err(f"error: stack {args.stack!r} does not preview as it is ({type(err).__name__}: "
                 f"{err}); nothing was written")
            return EXIT_PROGRAM
    path.write_text(edit.text(), encoding="utf-8")
    _err(f"Team {args.name!r} added to {path} (sites: {', '.join(entry['sites'])})")
    summary = team_summary(new_cfg, new_cfg.teams[index])
    if old_plan is None:
        print("\n".join(summary))
        return EXIT_OK
    _err("Previewing it after the change (offline)...")
    try:
        new_plan = _preview_plan(project_dir, args.stack)
    except Exception as err:
        path.write_text(before, encoding="utf-8")
        _err(f"error: the stack no longer previews with the team ({type(err).__name__}: {err}); "
             f"{path} was restored")
        return EXIT_PROGRAM
    print("\n".join(diff_lines(diff_plans(old_plan, new_plan, f"stack {args.stack} before"))))
    print("\n" + "\n".join(summary))
    print(f"\nNext: `hybrid-ml preview {args.stack}` (policy pack), commit Pulumi.{args.stack}.yaml "
          f"in a pull request; `pulumi up --stack {args.stack}` after review.")
    return EXIT_OK


def _of_entry(problem: ConfigProblem, index: int) -> bool:
    # `teams[1]` is not `teams[10]`: the entry's own path ends there or goes on with a key.
    head = f".teams[{index}]"
    at = problem.path.find(head)
    return at >= 0 and problem.path[at + len(head):at + len(head) + 1] in ("", ".", "[", " ")


def _flag(problem: ConfigProblem, index: int) -> ConfigProblem:
    # The key path names the list entry; the user typed a flag: say which.
    flags = {"sites": "--sites", "gpus": "--gpus", "dataClassification": "--data-classification",
             "owner": "--owner", "costCenter": "--cost-center", "name": "NAME",
             "group": "--group", "topics": "--topics", "awsRoleArn": "--aws-role-arn",
             "azureGroupObjectId": "--azure-group-object-id",
             "mlflowPermission": "--mlflow-permission", "googleGroup": "--google-group",
             "queue.gpus": "--gpu-type", "queue.borrowGpus": "--borrow-gpus",
             "queue.burstTo": "--burst-to"}
    for key, flag in flags.items():
        if f".teams[{index}].{key}" in problem.path:
            return ConfigProblem(f"{problem.path} ({flag})", problem.value, problem.allowed)
    return problem


def team_list(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    _, cfg, _ = loaded
    if not cfg.teams:
        print(f"No teams in stack {args.stack!r}; add one with `hybrid-ml team add NAME "
              f"--stack {args.stack} --owner ... --cost-center ...`")
        return EXIT_OK
    rows = [("TEAM", "NAMESPACE", "OWNER", "COST CENTER", "CLASS", "GPUS", "MLFLOW", "SITES",
             "QUEUE")]
    for t in cfg.teams:
        rows.append((t.name, team_namespace(t.name), t.owner, t.cost_center,
                     t.data_classification or cfg.residency.default_classification,
                     str(t.gpus), t.mlflow_permission, ", ".join(t.sites), queue_settings(t)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return EXIT_OK


def owned_resources(plan: dict[str, Any], team: str) -> list[dict[str, Any]]:
    """Every resource under the team's `Team` component in a plan."""
    root = next((r["urn"] for r in plan["resources"]
                 if r["type"] == TEAM_TYPE and r["name"] == f"team-{team}"), None)
    if root is None:
        return []
    parents = {r["urn"]: r.get("parent") for r in plan["resources"]}
    out = []
    for r in plan["resources"]:
        up = r.get("parent")
        while up is not None and up != root:
            up = parents.get(up)
        if up == root:
            out.append(r)
    return out


def _what(r: dict[str, Any]) -> str:
    """`type name (where)`: the physical name where the preview knows it, else the resource's."""
    key = STATEFUL_TYPES.get(r["type"])
    inputs = r.get("inputs") or {}
    value = inputs.get(key) if key else None
    if key == "metadata" and isinstance(value, dict):
        value = f"{value.get('namespace')}/{value.get('name')}"
    if not isinstance(value, str) or not value or value.startswith("["):  # unknown at preview
        value = r["name"]
    where = (r.get("provider") or "").rsplit("::", 1)[-1]
    return f"{r['type']} {value}" + (f" (provider {where})" if where else "")


def _steps(stack: str, held: list[dict[str, Any]]) -> list[str]:
    lines = ["Before removing it:",
             "  1. export the data (see runbooks/onboard-team.md, 'Offboarding'), e.g.",
             "       aws s3 sync s3://BUCKET ./export/BUCKET        (S3)",
             "       gcloud storage cp -r gs://BUCKET ./export/      (Cloud Storage)",
             "       azcopy copy 'https://ACCOUNT.blob.core.windows.net/CONTAINER' ./export "
             "--recursive (Blob)",
             "  2. lift the protection of each resource:"]
    lines += [f"       pulumi state unprotect --stack {stack} --yes '{r['urn']}'" for r in held]
    # The config still asks for protection (the preview cannot see the state), so the second
    # run needs --force; `pulumi up` then deletes what the state no longer protects.
    lines.append(f"  3. run `hybrid-ml team remove NAME --stack {stack} --force`, then "
                 f"`pulumi up --stack {stack}`.")
    return lines


def team_remove(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, int):
        return loaded
    project_dir, cfg, edit = loaded
    if not any(t.name == args.name for t in cfg.teams):
        names = ", ".join(t.name for t in cfg.teams) or "none"
        _err(f"error: no team {args.name!r} in stack {args.stack!r}; teams: {names}")
        return EXIT_USAGE
    try:
        plan = _preview_plan(project_dir, args.stack)
    except Exception as err:  # as for add: the program's failure, without a traceback
        _err(f"error: stack {args.stack!r} does not preview ({type(err).__name__}: {err}); "
             "nothing was changed")
        return EXIT_PROGRAM
    owned = owned_resources(plan, args.name)
    stateful = [r for r in owned if r["type"] in STATEFUL_TYPES]
    held = [r for r in owned if r.get("protect")]
    if held and not args.force:
        _err(f"error: team {args.name!r} owns {len(held)} protected stateful resource(s) in "
             f"stack {args.stack!r}; nothing was changed:")
        _err("\n".join(f"  - {_what(r)}" for r in held))
        _err("\n".join(_steps(args.stack, held)).replace("NAME", args.name))
        return EXIT_USAGE
    if held:
        _err(f"WARNING: --force: removing team {args.name!r} although it owns {len(held)} "
             "protected resource(s). `pulumi up` will refuse to delete them until each is "
             "unprotected, and once unprotected their data is gone for good:")
        _err("\n".join(f"  - {_what(r)}" for r in held))
    elif stateful:
        _err(f"Warning: `pulumi up` will delete {len(stateful)} stateful resource(s) of team "
             f"{args.name!r} (not protected in this stack); export their data first:")
        _err("\n".join(f"  - {_what(r)}" for r in stateful))
    edit.remove(args.name)
    try:
        parse_platform(edit.plain())
    except ConfigError as err:
        _err(f"error: the stack would be invalid without team {args.name!r}:\n{err}")
        return EXIT_USAGE
    edit.path.write_text(edit.text(), encoding="utf-8")
    _err(f"Team {args.name!r} removed from {edit.path}: {len(owned)} resource(s) go at the next "
         f"`pulumi up --stack {args.stack}`.")
    for note in team_services.removal_notes(cfg, args.name):
        _err(note)
    return EXIT_OK


def add_parsers(sub: Any) -> None:
    team = sub.add_parser("team", help="add, list or remove a team's environment in a stack")
    tsub = team.add_subparsers(dest="team_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", required=True, help="stack name; edits Pulumi.STACK.yaml")
        p.add_argument("-C", "--cwd", default=None, metavar="DIR", help=PROJECT_DIR_HELP)

    add = tsub.add_parser("add", help="validate a team and write it into Pulumi.STACK.yaml, "
                                      "then show the preview diff of what it gets")
    add.add_argument("name", help="team name (3-30 lowercase letters and digits in words "
                                   "joined by single -, e.g. fraud-detection)")
    common(add)
    add.add_argument("--owner", required=True, help="owner tag of the team's resources: a "
                     "handle such as fraud-team (no @ or .: the same value on every cloud)")
    add.add_argument("--cost-center", required=True, help="cost centre tag, e.g. ML-4200 (any case)")
    add.add_argument("--gpus", type=int, default=0, help="GPUs the namespace may request on "
                                                         "each site (default 0)")
    add.add_argument("--sites", help="comma-separated clusters (onprem, aws/eu-west-1, ...); "
                                     "default: every cluster the classification may use")
    add.add_argument("--data-classification", help="classification of the team's data "
                                                   "(default: the stack's default)")
    add.add_argument("--group", help="identity-provider group bound to the team-member Role (default team-NAME)")
    add.add_argument("--aws-role-arn", help="IAM role the members assume (needed on EKS sites)")
    add.add_argument("--azure-group-object-id",
                     help="the team's Entra group object id (needed on AKS sites)")
    add.add_argument("--google-group",
                     help="the team's Google group e-mail (needed on GKE sites; the cluster "
                          "needs securityGroup, Google Groups for RBAC)")
    add.add_argument("--topics", help="comma-separated Kafka topics (named NAME-<topic>)")
    add.add_argument("--mlflow-permission", choices=("EDIT", "MANAGE"),
                     help="what the group may do in the team's MLflow workspace: EDIT (default: "
                          "create, read and change everything, delete one's own) or MANAGE "
                          "(also delete anything and grant access)")
    add.add_argument("--gpu-type", action="append", metavar="TYPE=N",
                     help="GPUs of one type guaranteed on each of its clusters that have it, "
                          "e.g. nvidia-l4=2 (repeatable; other types get --gpus)")
    add.add_argument("--borrow-gpus", type=int, metavar="N",
                     help="GPUs per flavor the team may borrow while other teams leave theirs "
                          "idle (default: its guarantee)")
    add.add_argument("--burst-to", metavar="CLUSTERS",
                     help="comma-separated cloud clusters (among --sites) its `burst` queue "
                          "on-prem dispatches to (needs services.workQueues.burst)")
    team_services.add_service_options(add)
    add.add_argument("--no-preview", action="store_true",
                     help="only validate and write; skip the before/after preview")
    add.set_defaults(func=team_add)
    lst = tsub.add_parser("list", help="list the teams of a stack")
    common(lst)
    lst.set_defaults(func=team_list)
    rm = tsub.add_parser("remove", help="remove a team from Pulumi.STACK.yaml (refuses while "
                                        "it owns protected stateful resources)")
    rm.add_argument("name")
    common(rm)
    rm.add_argument("--force", action="store_true",
                    help="remove even though it owns protected resources (their data is lost "
                         "once they are unprotected and `pulumi up` runs)")
    rm.set_defaults(func=team_remove)
