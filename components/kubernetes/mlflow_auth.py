"""Per-team MLflow permissions: what the tracking server is given to enforce them.

MLflow runs its basic-auth app with workspaces (`SERVER_FLAGS`) and the platform's
authorization function (mlflow_plugin/hybridml_team_auth.py, mounted from a ConfigMap): a
caller is whoever their IdP token names, and may do what their groups grant in `teams.json`,
the mapping built here (team workspace -> groups and permission, admin groups). Everything
else (users, grants, workspaces) MLflow keeps in its own tables, in the tracking database.

This module holds the pure parts (mapping, auth config, environment) so the same values are
used by the component and by tests/program/services/test_mlflow_team_auth.py, which runs them on a real server.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The authorization function, its module file, and where it is mounted in the pod.
PLUGIN_FILE = "hybridml_team_auth.py"
PLUGIN_DIR = "/etc/mlflow/plugins"
AUTHORIZATION_FUNCTION = "hybridml_team_auth:authenticate"
MAPPING_DIR = "/etc/mlflow/teams"
MAPPING_FILE = "teams.json"
AUTH_CONFIG_DIR = "/etc/mlflow/auth"
AUTH_CONFIG_FILE = "basic_auth.ini"
#: The break-glass admin of MLflow's auth app (basic auth; its password in a Secret).
ADMIN_USERNAME = "admin"
#: `mlflow server` flags: the auth app, and workspaces (one per team).
SERVER_FLAGS = ("--app-name", "basic-auth", "--enable-workspaces")
#: Workspaces of teams are the team's namespace name, `team-<name>`.
WORKSPACE_PREFIX = "team-"

_SOURCE = Path(__file__).with_name("mlflow_plugin") / PLUGIN_FILE


class TeamGrant(BaseModel):
    """One team's MLflow workspace and who may use it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace: str = Field(pattern=r"^team-[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63,
                           description="Workspace name: the team's namespace, `team-<name>`.")
    groups: tuple[str, ...] = Field(min_length=1, description="IdP group claim values of members.")
    permission: Literal["EDIT", "MANAGE"] = Field(
        description="EDIT: members create, read and change everything in the workspace, and delete "
        "and manage what they created; MANAGE: members are the workspace's admins (delete "
        "anything, grant access).")
    description: str | None = Field(default=None, max_length=256, description="Shown in MLflow.")


class TeamAuthSettings(BaseModel):
    """How callers are identified: the IdP that signs their tokens and the claims to read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(description="`iss` of accepted tokens.")
    audiences: tuple[str, ...] = Field(min_length=1, description="Accepted `aud` values.")
    jwks_uri: str = Field(description="The IdP's signing keys.")
    username_claim: str = Field(default="sub", min_length=1,
                                description="The claim naming the user (one, never a fallback).")
    group_claims: tuple[str, ...] = Field(
        default=("groups", "roles"), min_length=1,
        description="Claims listing the caller's groups (app roles count too).")
    admin_groups: tuple[str, ...] = Field(default=(), description="Groups whose members are MLflow admins.")


def teams_json(settings: TeamAuthSettings, teams: list[TeamGrant]) -> str:
    """The mapping the authorization function reads; stable (sorted) so an unchanged team list
    is an unchanged ConfigMap."""
    doc = {
        "issuer": settings.issuer,
        "audiences": list(settings.audiences),
        "jwksUri": settings.jwks_uri,
        "usernameClaim": settings.username_claim,
        "groupClaims": list(settings.group_claims),
        "adminGroups": sorted(settings.admin_groups),
        "workspaces": {
            t.workspace: {"groups": sorted(t.groups), "permission": t.permission,
                          "description": t.description}
            for t in sorted(teams, key=lambda t: t.workspace)
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def auth_ini(database_uri: str) -> str:
    """MLflow's auth config. It names the database (with its password: it goes into a Secret)
    and is read with configparser's interpolation, so `%` (URL-encoded password bytes) is doubled.
    No admin password here: it comes from MLFLOW_AUTH_ADMIN_PASSWORD.

    With workspaces enabled an absent grant is a denial whatever `default_permission` says
    (MLflow 3.18, `_role_permission_for`); NO_PERMISSIONS states it anyway, and
    `grant_default_workspace_access = false` keeps the `default` workspace to admins."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        f"authorization_function = {AUTHORIZATION_FUNCTION}\n"
        "grant_default_workspace_access = false\n"
    )


def server_env(auth_config_path: str, plugin_dir: str, mapping_path: str) -> dict[str, str]:
    """Environment of the server for the auth app and the authorization function."""
    return {"MLFLOW_AUTH_CONFIG_PATH": auth_config_path, "PYTHONPATH": plugin_dir,
            "HYBRIDML_MLFLOW_TEAMS": mapping_path}


#: The workspace Job: creates the mapping's workspaces and team roles and sets the roles'
#: grants (the plugin folder on PYTHONPATH, the database URI in the environment, never in argv).
WORKSPACES_SCRIPT = """\
import os
import hybridml_team_auth
changed = hybridml_team_auth.reconcile(os.environ["MLFLOW_BACKEND_STORE_URI"])
print("changed:", "; ".join(changed) or "nothing", flush=True)
"""


def job_env(plugin_dir: str, mapping_path: str) -> dict[str, str]:
    """Environment of the workspace Job (besides the database URI)."""
    return {"PYTHONPATH": plugin_dir, "HYBRIDML_MLFLOW_TEAMS": mapping_path,
            "MLFLOW_ENABLE_WORKSPACES": "true"}


@functools.cache
def plugin_source() -> str:
    return _SOURCE.read_text(encoding="utf-8")


def plugin_checksum() -> str:
    """Changes with the authorization function's code: a pod annotation, so new code rolls the
    servers (a changed mapping does not need that: it is re-read)."""
    return hashlib.sha256(plugin_source().encode()).hexdigest()[:16]
