"""Per-team MLflow permissions: the `authorization_function` of MLflow's basic-auth app.

This file runs INSIDE the MLflow server image (MLflow 3.18 with `mlflow[auth,azure]`, which
brings PyJWT and cryptography); the platform mounts it from a ConfigMap and puts its folder on
PYTHONPATH. It imports nothing of the platform.

Who a caller is comes from a bearer JWT of the platform's IdP: API clients send their own, and
the Gateway forwards a signed-in browser's access token (Envoy Gateway OIDC
`forwardAccessToken`). The token is verified here against the IdP's JWKS (signature, issuer,
audience, expiry), not taken on trust from the Gateway: pods of client namespaces reach the
server without passing the Gateway. One claim (`usernameClaim`) names the MLflow user.
`Authorization: Basic` is accepted for the break-glass admin only (MLflow's own password
check), and not through the Gateway; every other basic-auth user is refused, so no IdP
identity can be shadowed by a password user of the same name. `GET /metrics` without
credentials is Prometheus's scrape (see `authenticate`).

What a caller may do is MLflow's own RBAC with workspaces enabled
(`mlflow server --enable-workspaces`): each team has the workspace `team-<name>` with the role
`team-members`, whose grants the platform's workspace Job keeps equal to the team's tier
(`reconcile`): EDIT (create, read and change everything in the workspace; delete and manage
what one created) or MANAGE (workspace admin). This function keeps the caller's role
assignments equal to the groups in their token on every request: a member of a team's group holds
that team's role, a member of an admin group is an MLflow admin, everyone else holds nothing
(with workspaces enabled, no grant is no access). Whatever a user holds in a `team-` workspace
their token no longer supports is removed at their next request: the team role, the MANAGE
MLflow gave them on what they created there, roles and grants given in MLflow; so access to a
team's workspace comes only from its group. A removed team's workspace is kept (its
experiments and models are data).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
import urllib.request
from typing import Any

import jwt
from flask import g, make_response, request
from mlflow.entities.workspace import Workspace
from mlflow.exceptions import MlflowException
from mlflow.server.workspace_helpers import _get_workspace_store
from werkzeug.datastructures import Authorization

_log = logging.getLogger("hybridml.mlflow.auth")

MAPPING_ENV = "HYBRIDML_MLFLOW_TEAMS"
DEFAULT_MAPPING_PATH = "/etc/mlflow/teams/teams.json"
#: Workspaces whose role assignments this function owns: one exists only while a token says so.
TEAM_PREFIX = "team-"
#: The role of a team's members in its workspace.
ROLE = "team-members"
#: What the role grants, per tier. EDIT: the workspace-wide USE slot (access and create) plus
#: EDIT on every experiment, registered model and prompt (runs, versions and artifacts follow
#: their parent); what a member creates they also MANAGE (MLflow grants it to creators).
TIERS = {
    "EDIT": {("workspace", "*"): "USE", ("experiment", "*"): "EDIT",
             ("registered_model", "*"): "EDIT", ("prompt", "*"): "EDIT"},
    "MANAGE": {("workspace", "*"): "MANAGE"},
}
#: The IdP's keys are fetched again after this long (a removed key stops verifying then), and
#: at once for a token whose key id is unknown (at most every JWKS_MISS_SECONDS).
JWKS_REFRESH_SECONDS = int(os.environ.get("HYBRIDML_JWKS_REFRESH_SECONDS", "300"))
JWKS_MISS_SECONDS = min(30, JWKS_REFRESH_SECONDS)
#: While the IdP cannot be reached, the last keys fetched keep verifying for this long; then
#: every bearer token is refused (fail closed).
JWKS_STALE_SECONDS = 3600
JWKS_TIMEOUT_SECONDS = 3
#: Headers the Gateway's Envoy adds: a request carrying one came through the Gateway.
_PROXIED = ("X-Forwarded-For", "X-Envoy-External-Address")
#: Clock skew allowed on `exp`/`nbf`/`iat`.
LEEWAY_SECONDS = 30
#: Asymmetric algorithms only: a shared-secret (HS*) token cannot be checked against a JWKS.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

#: Served by `--expose-prometheus`; scraped by Prometheus without credentials.
METRICS_PATH = "/metrics"

_lock = threading.Lock()
_state: dict[str, Any] = {"mtime": None, "mapping": None, "keys": None, "keys_uri": None,
                          "keys_at": 0.0, "keys_tried": 0.0}


def _mapping() -> dict[str, Any]:
    """The current mapping; re-read when the file changed."""
    path = os.environ.get(MAPPING_ENV, DEFAULT_MAPPING_PATH)
    mtime = os.stat(path).st_mtime_ns
    with _lock:
        if _state["mtime"] == mtime and _state["mapping"] is not None:
            return _state["mapping"]
    with open(path, encoding="utf-8") as f:
        mapping = json.load(f)
    for name, team in mapping.get("workspaces", {}).items():
        if not name.startswith(TEAM_PREFIX) or team.get("permission") not in TIERS:
            raise ValueError(f"{path}: workspace {name!r} is not a team- workspace with "
                             f"permission {' or '.join(TIERS)}")
    with _lock:
        _state.update(mtime=mtime, mapping=mapping)
    return mapping


def _fetch_keys(uri: str) -> dict[str, Any]:
    with urllib.request.urlopen(uri, timeout=JWKS_TIMEOUT_SECONDS) as r:
        doc = json.load(r)
    keys = {}
    for jwk in doc.get("keys", []):
        try:
            key = jwt.PyJWK.from_dict(jwk)
        except jwt.PyJWTError:
            continue  # a key type or algorithm this side does not use
        if key.key_id and jwk.get("use", "sig") == "sig":
            keys[key.key_id] = key
    return keys


def _signing_key(token: str, mapping: dict[str, Any]) -> Any:
    """The IdP key that signed `token`: from the cached key set, fetched again when it is old
    or lacks the token's key id; the last good set serves through an IdP outage for
    JWKS_STALE_SECONDS, never longer."""
    kid = jwt.get_unverified_header(token).get("kid")
    uri = mapping["jwksUri"]
    now = time.monotonic()
    with _lock:
        keys = _state["keys"] if _state["keys_uri"] == uri else None
        age, tried = now - _state["keys_at"], now - _state["keys_tried"]
    stale = keys is None or age > JWKS_REFRESH_SECONDS
    if stale or (kid not in keys and tried > JWKS_MISS_SECONDS):
        with _lock:
            _state["keys_tried"] = now
        try:
            fresh = _fetch_keys(uri)
        except (OSError, ValueError) as exc:
            if keys is None or age > JWKS_STALE_SECONDS:
                raise jwt.PyJWKClientConnectionError(f"cannot fetch the IdP's keys: {exc}") from exc
            _log.warning("hybridml-auth: cannot refresh the IdP's keys (%s); using the last ones", exc)
        else:
            keys = fresh
            with _lock:
                _state.update(keys=fresh, keys_uri=uri, keys_at=now)
    if kid not in keys:
        raise jwt.PyJWKClientError(f"no key {kid!r} in the IdP's key set")
    return keys[kid]


def reconcile(tracking_uri: str) -> list[str]:
    """Create the mapping's workspaces and `team-members` roles, and set each role's grants to
    its team's tier; returns what changed.

    Run by the platform's workspace Job at deploy time, not by the server: MLflow resolves a
    request's workspace before any authorization function runs, so a workspace has to exist
    before its first request. Workspaces of removed teams are left alone (their data stays).
    """
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    mapping = _mapping()
    workspaces = _get_workspace_store(tracking_uri=tracking_uri)
    auth = SqlAlchemyStore()
    auth.init_db(tracking_uri)
    existing = {w.name for w in workspaces.list_workspaces()}
    changed = []
    for name, team in sorted(mapping.get("workspaces", {}).items()):
        if name not in existing:
            _create(workspaces.create_workspace,
                    Workspace(name=name, description=team.get("description")))
            changed.append(f"workspace {name}")
        try:
            role = auth.get_role_by_name(name, ROLE)
        except MlflowException:
            role = (_create(auth.create_role, ROLE, name, f"Members of {name}")
                    or auth.get_role_by_name(name, ROLE))
            changed.append(f"role {name}/{ROLE}")
        want = TIERS[team["permission"]]
        have = {(p.resource_type, p.resource_pattern): p for p in auth.list_role_permissions(role.id)}
        for key, perm in want.items():
            if key not in have:
                auth.add_role_permission(role.id, key[0], key[1], perm)
            elif have[key].permission != perm:
                auth.update_role_permission(have[key].id, perm)
            else:
                continue
            changed.append(f"grant {name}/{ROLE} {key[0]}:{key[1]}={perm}")
        for key in have.keys() - want.keys():
            auth.remove_role_permission(have[key].id)
            changed.append(f"revoke {name}/{ROLE} {key[0]}:{key[1]}")
    return changed


def _create(make, *args):
    """`make(*args)`, or None when a concurrent run created the same thing first."""
    try:
        return make(*args)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return None


def _claims(token: str, mapping: dict[str, Any]) -> dict[str, Any]:
    key = _signing_key(token, mapping)
    return jwt.decode(
        token, key.key, algorithms=ALGORITHMS, audience=mapping["audiences"],
        issuer=mapping["issuer"], leeway=LEEWAY_SECONDS,
        options={"require": ["exp", "iss", "aud"]})


def _identity(claims: dict[str, Any], mapping: dict[str, Any]) -> tuple[str | None, frozenset[str]]:
    # One claim names every user: with a fallback, a token without the first claim could be
    # named like someone else by the second (a service principal's `sub` equal to a user name).
    value = claims.get(mapping.get("usernameClaim", "sub"))
    username = value if isinstance(value, str) and value else None
    groups: set[str] = set()
    for c in mapping.get("groupClaims", ["groups"]):
        value = claims.get(c)
        if isinstance(value, str):
            groups.add(value)
        elif isinstance(value, list):
            groups.update(v for v in value if isinstance(v, str))
    return username, frozenset(groups)


def desired_roles(groups: frozenset[str], mapping: dict[str, Any]) -> tuple[bool, set[str]]:
    """(admin?, the team workspaces whose role `groups` entitle to)."""
    admin = bool(groups & set(mapping.get("adminGroups", [])))
    teams = {name for name, team in mapping.get("workspaces", {}).items()
             if groups & set(team.get("groups", []))}
    return admin, teams


def _sync(username: str, groups: frozenset[str], mapping: dict[str, Any]) -> None:
    """Make the user's MLflow state what `groups` entitle to. Runs on every request (one read
    of the user and their roles; writes only for a difference), so no replica or worker ever
    trusts another's stale view. Concurrent requests of one user may make the same change at
    once: a change someone else made first counts as done."""
    from mlflow.server import auth as mlflow_auth

    store = mlflow_auth.store
    admin, teams = desired_roles(groups, mapping)
    if not store.has_user(username):
        # Unusable password: IdP users never log in with basic auth (refused below anyway).
        _tolerate(store.create_user, username, secrets.token_urlsafe(48), admin)
    user = store.get_user(username)
    if user.is_admin != admin:
        store.update_user(username, is_admin=admin)
    roles = [r for r in store.list_user_roles(user.id) if r.workspace.startswith(TEAM_PREFIX)]
    members = {r.workspace for r in roles if r.name == ROLE}
    for ws in teams - members:
        try:
            role = store.get_role_by_name(ws, ROLE)
        except MlflowException:
            _log.warning("hybridml-auth: no role %s in workspace %s: has the workspace Job run?",
                         ROLE, ws)
            continue
        try:
            store.assign_role_to_user(user.id, role.id)
        except MlflowException:
            # A concurrent request assigned it (the unique constraint surfaces as BAD_REQUEST).
            if role.id not in {r.id for r in store.list_user_roles(user.id)}:
                raise
    # Outside their teams a user holds nothing in a team workspace: not the team role, not the
    # MANAGE MLflow gives creators on what they created (held in the user's own per-workspace
    # role), not roles or grants someone gave them in MLflow.
    for role in roles:
        if role.workspace in teams:
            continue
        if store._is_synthetic_role_name(role.name):
            _tolerate(store.delete_role, role.id)
        else:
            _tolerate(store.unassign_role_from_user, user.id, role.id)


def _tolerate(change, *args) -> None:
    """`change(*args)`; already done by a concurrent request is fine."""
    try:
        change(*args)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"):
            raise


def _refuse(reason: str):
    # The reason only, never the credentials.
    _log.warning("hybridml-auth: refused %s %s: %s", request.method, request.path, reason)
    res = make_response("Not authenticated: send a bearer token of the platform's identity provider.")
    res.status_code = 401
    res.headers["WWW-Authenticate"] = 'Bearer realm="mlflow"'
    return res


def authenticate():
    """MLflow's `authorization_function`: an `Authorization` naming the caller, or a 401."""
    from mlflow.server import auth as mlflow_auth

    cached = getattr(g, "hybridml_authorization", None)
    if cached is not None:
        return cached
    mapping = _mapping()
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    admin_name = mlflow_auth.auth_config.admin_username
    if not header and request.method == "GET" and request.path == METRICS_PATH:
        # Prometheus scrapes without credentials. The auth app fails closed on routes it has
        # no rule for (/metrics is one), so the scrape runs as the admin, for this path only.
        return Authorization("basic", {"username": admin_name})
    if scheme.lower() == "basic":
        basic = request.authorization
        if basic is None or basic.username != admin_name:
            return _refuse("basic auth is for the break-glass admin only")
        if any(h in request.headers for h in _PROXIED):
            # The Gateway refuses it too; the break-glass admin is for port-forwards only.
            return _refuse("basic auth through the Gateway")
        result = mlflow_auth.authenticate_request_basic_auth()
    elif scheme.lower() == "bearer" and credentials.strip():
        try:
            claims = _claims(credentials.strip(), mapping)
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            return _refuse(f"invalid token: {exc}")
        username, groups = _identity(claims, mapping)
        if not username:
            return _refuse("the token lacks the usernameClaim")
        if username == admin_name:
            return _refuse(f"{username!r} is the break-glass admin's name, not an IdP user")
        _sync(username, groups, mapping)
        result = Authorization("bearer", {"username": username})
    else:
        return _refuse("no credentials")
    if isinstance(result, Authorization):
        g.hybridml_authorization = result
    return result
