"""The service flags of `hybrid-ml team add` (`--notebooks`, `--pipelines` with its DAG source)
and what `team remove` says stays behind (MLflow workspace, home volumes, DAG history)."""

from __future__ import annotations

import argparse
from typing import Any

from stacks.config.teams import team_namespace

#: Flags that only mean something with `--pipelines`.
_DAG_FLAGS = (("dag_repo", "--dag-repo"), ("dag_branch", "--dag-branch"),
              ("dag_deploy_key_key", "--dag-deploy-key-key"))


def add_service_options(add: argparse.ArgumentParser) -> None:
    """`--notebooks`, `--pipelines`, `--dag-repo`, `--dag-branch`, `--dag-deploy-key-key`."""
    add.add_argument("--notebooks", action="store_true",
                     help="JupyterHub profiles for the team (needs services.notebooks)")
    add.add_argument("--pipelines", action="store_true",
                     help="Airflow DAGs of the team (needs services.pipelines, --dag-repo and "
                          "--dag-deploy-key-key)")
    add.add_argument("--dag-repo", metavar="URL",
                     help="the team's DAG repository (ssh), e.g. git@git.example.com:fraud/dags.git")
    add.add_argument("--dag-branch", metavar="B", help="branch Airflow follows (default main)")
    add.add_argument("--dag-deploy-key-key", metavar="KEY",
                     help="secret config key holding the repository's read-only deploy key "
                          "(`pulumi config set --secret KEY < key`)")


def option_problems(args: argparse.Namespace) -> list[str]:
    """Flag combinations that cannot be written (said before anything is validated)."""
    if args.pipelines:
        return [f"--pipelines needs {flag}" for attr, flag in _DAG_FLAGS[::2]
                if not getattr(args, attr)]
    return [f"{flag} only goes with --pipelines" for attr, flag in _DAG_FLAGS
            if getattr(args, attr)]


def service_entry(args: argparse.Namespace) -> dict[str, Any]:
    """The team entry's `notebooks` and `pipelines` keys (only what was asked for)."""
    entry: dict[str, Any] = {}
    if args.notebooks:
        entry["notebooks"] = True
    if args.pipelines:
        pipelines = {"dagRepo": args.dag_repo, "deployKeyKey": args.dag_deploy_key_key}
        if args.dag_branch:
            pipelines["dagBranch"] = args.dag_branch
        entry["pipelines"] = pipelines
    return entry


def removal_notes(cfg: Any, name: str) -> list[str]:
    """What is not a Pulumi resource of the team and stays when it is removed."""
    team = next(t for t in cfg.teams if t.name == name)
    ns = team_namespace(name)
    out = []
    m = cfg.services.mlflow
    mlflow_sites = [ref for ref in team.sites if m is not None and ref in m.clusters]
    if mlflow_sites:
        # Not a Pulumi resource: MLflow's own data, kept like any other.
        out.append(f"Its MLflow workspace {ns} (on {', '.join(mlflow_sites)}) stays, with its "
                   "experiments and models, closed to everyone but MLflow admins "
                   "(runbooks/onboard-team.md, Offboarding).")
    n = cfg.services.notebooks
    hubs = [ref for ref in team.sites if team.notebooks and n is not None and ref in n.clusters]
    if hubs:
        out.append(f"Its members' notebook home volumes (PVCs home-* in {ns}, on "
                   f"{', '.join(hubs)}) go with the namespace: copy what must stay first "
                   "(runbooks/notebooks.md, Offboarding); their hub users stay, without profiles.")
    p = cfg.services.pipelines
    if team.pipelines is not None and p is not None:
        out.append(f"Its DAG runs' history stays in Airflow's database (on {', '.join(p.clusters)}); "
                   f"the DAG repository {team.pipelines.dag_repo} is not touched.")
    return out
