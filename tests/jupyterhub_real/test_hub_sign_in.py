"""The hub's sign-in and profiles against the real packages of the hub image (jupyterhub,
oauthenticator's GenericOAuthenticator, kubespawner), with a local OIDC IdP: the settings are
the ones the platform renders for prod with team `fraud` (notebooks on), loaded by the exact
module the hub mounts. A member gets exactly their team's profiles, a non-member is refused, an
admin sees every team's.

`make test` installs that environment (.venv-jupyterhub) and points HYBRIDML_JUPYTERHUB_VENV at
it; without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacks.plan.notebooks import hub_settings
from stacks.program.validate import parse_platform
from tests.conftest import ROOT
from tests.program.services.test_notebooks import with_notebooks

VENV = os.environ.get("HYBRIDML_JUPYTERHUB_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="HYBRIDML_JUPYTERHUB_VENV not set (make test sets it)")

#: Second notebook team (GPU-less, on-prem) and a team without notebooks.
RISK = {"name": "risk", "owner": "risk-ml", "costCenter": "ML-4300", "sites": ["onprem"],
        "dataClassification": "internal", "gpus": 0, "notebooks": True}
ADS = {"name": "ads", "owner": "ads-ml", "costCenter": "ML-4400", "sites": ["onprem"],
       "dataClassification": "internal", "gpus": 0}


def _settings() -> dict[str, Any]:
    platform = with_notebooks()
    platform["teams"] += [RISK, ADS]
    cfg = parse_platform(platform)
    return hub_settings(cfg, "onprem", "onprem-prod")


def _drive(tmp: Path, settings: dict[str, Any], users: dict[str, Any],
           also: tuple[str, ...] = ()) -> dict[str, Any]:
    (tmp / "settings.json").write_text(json.dumps(settings))
    (tmp / "users.json").write_text(json.dumps(users))
    python = Path(VENV or "") / "bin" / "python"
    if not python.is_absolute():
        python = ROOT / python
    out = subprocess.run(
        [str(python), str(ROOT / "tests/jupyterhub_real/drive_hub.py"),
         str(ROOT / "components/kubernetes/notebooks"), str(tmp / "settings.json"),
         str(tmp / "users.json"), ",".join(also)], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory) -> dict[str, Any]:
    settings = _settings()
    groups = {t["name"]: t["groups"][0] for t in settings["teams"]}
    users = {
        "fraud-member": {"sub": "u-1", "groups": [groups["fraud"]]},
        "risk-member-by-role": {"sub": "u-2", "roles": groups["risk"]},
        "ads-member": {"sub": "u-3", "groups": ["team-ads"]},
        "nobody": {"sub": "u-4"},
        "admin": {"sub": "u-5", "groups": ["platform-admins"]},
    }
    # Every admitted user also asks for risk's CPU profile by name (a crafted request).
    return _drive(tmp_path_factory.mktemp("hub"), settings, users, also=("risk-cpu",))


def test_the_hub_signs_in_through_the_idp_only(signed_in):
    assert signed_in["authenticator_class"] == "generic-oauth"


def test_a_team_member_gets_exactly_the_profiles_of_their_team(signed_in):
    fraud = signed_in["users"]["fraud-member"]
    assert fraud["admitted"] and not fraud["admin"] and fraud["name"] == "u-1"
    assert fraud["profiles"][0] == "fraud-cpu"
    assert len(fraud["profiles"]) > 1  # its GPU flavors on-prem
    assert all(p.startswith("fraud-") for p in fraud["profiles"])
    assert fraud["namespaces"] == ["team-fraud"]
    risk = signed_in["users"]["risk-member-by-role"]  # group from the `roles` claim
    assert risk["admitted"] and risk["profiles"] == ["risk-cpu"] and risk["namespaces"] == ["team-risk"]


def test_members_of_teams_without_notebooks_and_strangers_are_refused(signed_in):
    assert signed_in["users"]["ads-member"] == {"admitted": False}
    assert signed_in["users"]["nobody"] == {"admitted": False}


def test_an_admin_sees_every_teams_profiles(signed_in):
    admin = signed_in["users"]["admin"]
    assert admin["admitted"] and admin["admin"]
    assert admin["namespaces"] == ["team-fraud", "team-risk"]
    assert set(admin["profiles"]) >= {"fraud-cpu", "risk-cpu"}


def test_every_profile_override_is_a_real_kubespawner_setting(signed_in):
    assert signed_in["users"]["admin"]["unknown_overrides"] == []


def test_a_chosen_profile_becomes_a_server_in_the_teams_namespace_with_its_identity(signed_in):
    spawns = signed_in["users"]["fraud-member"]["spawns"]
    cpu = spawns["fraud-cpu"]
    assert cpu["namespace"] == "team-fraud" and cpu["service_account"] == "workload"
    assert cpu["env_from"] == [{"configMapRef": {"name": "team-environment"}}]
    assert cpu["image"].endswith(":4.4.0")  # pinned, never latest
    assert cpu["pvc"] | {"labels": None} == {"name": "home-u-1", "class": "encrypted",
                                             "size": "10Gi", "labels": None}
    assert cpu["claims"] == ["home-u-1"]
    assert "kueue.x-k8s.io/queue-name" not in cpu["labels"]
    assert cpu["labels"]["hybridml.io/notebook-server"] == "true"  # what the policies select
    assert cpu["security"]["capabilities"] == {"drop": ["ALL"]}  # restricted Pod Security
    assert cpu["pod_security"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert cpu["resources"]["limits"]["memory"] == 8 * 1024**3


def test_a_gpu_profile_asks_for_one_gpu_of_its_flavor_through_the_teams_queue(signed_in):
    spawns = signed_in["users"]["fraud-member"]["spawns"]
    l40s = spawns["fraud-nvidia-l40s"]
    assert l40s["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    assert l40s["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert l40s["node_selector"] == {"hybridml.io/gpu-type": "nvidia-l40s"}
    assert l40s["namespace"] == "team-fraud"


def test_another_teams_profile_asked_for_by_name_is_refused(signed_in):
    refused = signed_in["users"]["fraud-member"]["spawns"]["risk-cpu"]
    assert "No such profile: risk-cpu" in refused["refused"]
    assert signed_in["users"]["admin"]["spawns"]["risk-cpu"]["namespace"] == "team-risk"
