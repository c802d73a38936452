"""Task placement for the platform's DAGs: `place(task, site)` (shipped to Airflow as-is).

The platform mounts this module and `sites.json` (stacks.plan.pipelines.site_table) into
Airflow's plugins folder. A DAG calls `place(task, "aws/eu-west-1")` on a KubernetesJobOperator:
the task's Job then runs in the team's namespace on that site, labelled with the team's Kueue
queue (Kueue admits batch/Jobs), reached through the site's connection when the site is not
the one Airflow runs on.
A site the team's data classification does not allow raises `PlacementRefused` while the DAG
is parsed, so the DAG shows as an import error and never runs (`AirflowDagImportErrors`).

The team is the DAG bundle the file was read from (`team-<name>`, a folder of the DAG's path),
never an argument: a DAG cannot place tasks for another team.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SITES_FILE_ENV = "HYBRIDML_SITES_FILE"
#: Team namespaces enforce Pod Security `restricted`: a task that sets no security context
#: gets these (one that sets its own keeps it, and the namespace judges it).
POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


class PlacementRefused(ValueError):
    """The task's site is not allowed for its team (or the team is unknown)."""


def load_sites(path: str | None = None) -> dict[str, Any]:
    """The site table the platform wrote (`sites.json`)."""
    where = path or os.environ.get(SITES_FILE_ENV)
    if not where:
        raise PlacementRefused(f"{SITES_FILE_ENV} is not set: not on the platform's Airflow")
    return json.loads(Path(where).read_text())


def team_of(fileloc: str, table: dict[str, Any]) -> str:
    """The team whose bundle holds `fileloc` (a path folder named like a team)."""
    parts = set(Path(fileloc).parts)
    found = [t for t in table["teams"] if t in parts]
    if len(found) != 1:
        raise PlacementRefused(f"{fileloc} is in no team's DAG bundle ({', '.join(table['teams'])})")
    return found[0]


def place(task: Any, site: str, table: dict[str, Any] | None = None) -> Any:
    """Put `task` (a KubernetesJobOperator) on `site`; returns the task."""
    table = table if table is not None else load_sites()
    team = team_of(task.dag.fileloc, table)
    entry = table["teams"][team]
    if site not in entry["sites"]:
        allowed = ", ".join(entry["sites"]) or "none"
        raise PlacementRefused(f"task {task.task_id!r} of {team}: site {site!r} is not allowed for "
                               f"the team's data; allowed: {allowed}")
    conn = entry["sites"][site]
    task.namespace = entry["namespace"]
    task.labels = {**(task.labels or {}), table["queueLabel"]: entry["queue"],
                   "hybridml.io/site": site.replace("/", "_")}
    task.in_cluster = conn is None
    if not task.security_context:
        task.security_context = dict(POD_SECURITY)
    if not task.container_security_context:
        task.container_security_context = dict(CONTAINER_SECURITY)
    if conn is not None:
        task.kubernetes_conn_id = conn
    return task


def allowed_sites(fileloc: str, table: dict[str, Any] | None = None) -> list[str]:
    """The sites the team of `fileloc` may place tasks on."""
    table = table if table is not None else load_sites()
    return list(table["teams"][team_of(fileloc, table)]["sites"])
