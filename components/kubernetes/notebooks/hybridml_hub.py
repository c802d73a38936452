"""The hub's per-team logic, shipped into the hub pod (a ConfigMap mounted next to
`jupyterhub_config.py`) and loaded by the chart's `hub.extraConfig`; standard library only.

`configure(c, settings)` turns the settings the platform renders (`hub_settings.json`: the IdP,
the teams with their groups and profiles) into JupyterHub configuration:

- sign-in: GenericOAuthenticator with the endpoints of the issuer's discovery document, the
  username from one claim, the groups from the union of the group claims (`manage_groups`);
- admission: members of a notebook team's groups and admins, nobody else (no local passwords);
- profiles: a user sees the profiles of their teams (an admin: every team's); a server always
  starts in the chosen profile's team namespace, never in the hub's.

It imports nothing outside the standard library, so the tests load the exact file the hub runs.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Where the rendered settings and this module are mounted in the hub pod.
MOUNT_PATH = "/usr/local/etc/jupyterhub/hybridml"
SETTINGS_FILE = "hub_settings.json"
#: Environment variable holding the OIDC client secret (GenericOAuthenticator's default).
CLIENT_SECRET_ENV = "OAUTH_CLIENT_SECRET"


class NoProfiles(PermissionError):
    """The user belongs to no team with notebooks (and is no admin): nothing may be spawned."""


def discover(issuer: str, fetch: Callable[[str], bytes] | None = None) -> dict[str, str]:
    """The issuer's authorization, token and userinfo endpoints from its discovery document."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    raw = (fetch or _get)(url)
    doc = json.loads(raw)
    if doc.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise ValueError(f"discovery document of {issuer} names issuer {doc.get('issuer')!r}")
    return {"authorize_url": doc["authorization_endpoint"], "token_url": doc["token_endpoint"],
            "userdata_url": doc["userinfo_endpoint"]}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (https issuer)
        return response.read()


def claim_groups(userinfo: Mapping[str, Any], claims: Iterable[str]) -> set[str]:
    """Every value of the group claims (a claim may hold one string or a list)."""
    out: set[str] = set()
    for claim in claims:
        value = userinfo.get(claim)
        if isinstance(value, str):
            out.add(value)
        elif isinstance(value, list):
            out.update(v for v in value if isinstance(v, str))
    return out


def member_groups(settings: Mapping[str, Any]) -> set[str]:
    """The groups that admit a user: every notebook team's."""
    return {g for team in settings["teams"] for g in team["groups"]}


def profiles_for(settings: Mapping[str, Any], groups: Iterable[str],
                 admin: bool) -> list[dict[str, Any]]:
    """The profiles of the user's teams (every team's for an admin), first one the default."""
    mine = set(groups)
    out = [dict(p) for team in settings["teams"]
           if admin or mine & set(team["groups"]) for p in team["profiles"]]
    if not out:
        raise NoProfiles("you are in no team with notebooks on this hub")
    out[0]["default"] = True
    return out


def _user_profiles(settings: Mapping[str, Any]) -> Callable[[Any], list[dict[str, Any]]]:
    def profile_list(spawner: Any) -> list[dict[str, Any]]:
        user = spawner.user
        return profiles_for(settings, (g.name for g in user.groups), bool(user.admin))
    return profile_list


def configure(c: Any, settings: Mapping[str, Any],
              fetch: Callable[[str], bytes] | None = None) -> None:
    """Apply the settings to the JupyterHub config object `c`."""
    oidc = settings["oidc"]
    claims = list(oidc["group_claims"])
    c.JupyterHub.authenticator_class = "generic-oauth"
    auth = c.GenericOAuthenticator
    for key, value in discover(oidc["issuer"], fetch).items():
        setattr(auth, key, value)
    auth.client_id = oidc["client_id"]
    auth.oauth_callback_url = oidc["callback_url"]
    auth.scope = sorted({"openid", *oidc["scopes"]})
    auth.username_claim = oidc["username_claim"]
    auth.login_service = oidc.get("login_service", "platform sign-in")
    auth.manage_groups = True
    auth.auth_state_groups_key = lambda state: sorted(claim_groups(state["oauth_user"], claims))
    auth.allowed_groups = member_groups(settings)
    auth.admin_groups = set(oidc["admin_groups"])
    # Membership is decided at every sign-in from the IdP's claims alone.
    auth.allow_existing_users = False
    auth.allow_all = False
    c.KubeSpawner.profile_list = _user_profiles(settings)
    c.KubeSpawner.pvc_name_template = settings["home_volume"]


def load(path: str = f"{MOUNT_PATH}/{SETTINGS_FILE}") -> dict[str, Any]:
    """The rendered settings the platform mounted."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
