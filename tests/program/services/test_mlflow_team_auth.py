"""Per-team MLflow permissions, against a real MLflow server.

The server is the pinned MLflow (tests/mlflow_server/requirements.txt, the version of the
platform's image) run the way the platform runs it: `--app-name basic-auth --enable-workspaces`,
NO_PERMISSIONS by default, tracking and auth tables in one database, and the platform's
authorization function (components/kubernetes/mlflow_plugin/hybridml_team_auth.py) with the
mapping the Pulumi program writes. Tokens come from a local test IdP whose JWKS is served here.

`make test` installs that environment (.venv-mlflow) and points HYBRIDML_MLFLOW_VENV at it;
without it these tests are skipped (a plain `pytest` on a machine without the environment).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow import DB_UPGRADE_SCRIPT

ROOT = Path(__file__).resolve().parents[3]
VENV = os.environ.get("HYBRIDML_MLFLOW_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="HYBRIDML_MLFLOW_VENV not set (make test sets it)")

ISSUER = "https://idp.test/realms/ml"
AUDIENCE = "mlflow"
ADMIN_PASSWORD = "break-glass-password-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _claims(user: str | None, groups: list[str], **over):
    c = {"iss": ISSUER, "aud": AUDIENCE, "exp": 600, "iat": 0, "groups": groups}
    if user:
        c["preferred_username"] = user
    c.update(over)
    return c


TOKENS = [
    {"name": "alice", "claims": _claims("alice@example.com", ["team-fraud"])},
    {"name": "bob", "claims": _claims("bob@example.com", ["team-vision"])},
    {"name": "carol", "claims": _claims("carol@example.com", ["team-fraud", "team-vision"])},
    {"name": "alice-left", "claims": _claims("alice@example.com", [])},
    {"name": "nobody", "claims": _claims("dave@example.com", ["sales"])},
    {"name": "ops", "claims": _claims("ops@example.com", ["platform-admins"])},
    {"name": "expired", "claims": _claims("alice@example.com", ["team-fraud"], exp=-120)},
    {"name": "wrong-aud", "claims": _claims("alice@example.com", ["team-fraud"], aud="other")},
    {"name": "wrong-iss", "claims": _claims("alice@example.com", ["team-fraud"], iss="https://evil")},
    {"name": "forged", "key": "stranger", "claims": _claims("alice@example.com", ["platform-admins"])},
    {"name": "as-admin", "claims": _claims("admin", ["platform-admins"])},
    # A service principal's token names nobody by the configured claim (no fallback to `sub`,
    # which could equal someone's user name).
    {"name": "unnamed", "claims": _claims(None, ["platform-admins"], sub="alice@example.com")},
    {"name": "newbie", "claims": _claims("erin@example.com", ["team-fraud"])},
    {"name": "after-rotation", "key": "stranger", "kid": "idp-2",
     "claims": _claims("alice@example.com", ["team-fraud"])},
]


def _mapping(jwks_uri: str, teams: list[mlflow_auth.TeamGrant]) -> str:
    return mlflow_auth.teams_json(
        mlflow_auth.TeamAuthSettings(
            issuer=ISSUER, audiences=(AUDIENCE,), jwks_uri=jwks_uri,
            username_claim="preferred_username", admin_groups=("platform-admins",)),
        teams)


class Server:
    def __init__(self, url: str, tokens: dict[str, str], mapping_path: Path, jwks_uri: str, ensure,
                 artifacts_root: Path, log_path: Path):
        self.url, self.tokens, self.mapping_path, self.jwks_uri = url, tokens, mapping_path, jwks_uri
        self.ensure_workspaces, self.artifacts_root, self.log_path = ensure, artifacts_root, log_path

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None,
             workspace: str | None = None, basic: tuple[str, str] | None = None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {self.tokens[token]}")
        if basic:
            req.add_header("Authorization", "Basic " + base64.b64encode(":".join(basic).encode()).decode())
        if workspace:
            req.add_header("X-MLFLOW-WORKSPACE", workspace)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                try:
                    return r.status, json.loads(raw or b"{}")
                except ValueError:
                    return r.status, {"text": raw.decode(errors="replace")}
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw or b"{}")
            except ValueError:
                return e.code, {"text": raw.decode(errors="replace")}

    def create_experiment(self, token: str, workspace: str | None, name: str):
        return self.call("POST", "/api/2.0/mlflow/experiments/create", token, {"name": name}, workspace)

    def set_teams(self, teams: list[mlflow_auth.TeamGrant]) -> None:
        self.mapping_path.write_text(_mapping(self.jwks_uri, teams))
        time.sleep(0.05)  # a new mtime


FRAUD = mlflow_auth.TeamGrant(workspace="team-fraud", groups=("team-fraud",), permission="MANAGE",
                              description="fraud (ML-4200)")
VISION = mlflow_auth.TeamGrant(workspace="team-vision", groups=("team-vision", "0c1d"), permission="EDIT",
                               description="vision (ML-4300)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    python = Path(VENV) / "bin" / "python"
    out = subprocess.run([str(python), str(ROOT / "tests/mlflow_server/idp.py"), str(tmp)],
                         input=json.dumps(TOKENS), capture_output=True, text=True, check=True)
    tokens = json.loads(out.stdout)

    jwks = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Jwks, directory=str(tmp)))
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    jwks_uri = f"http://127.0.0.1:{jwks.server_address[1]}/jwks.json"

    mapping = tmp / "teams.json"
    mapping.write_text(_mapping(jwks_uri, [FRAUD, VISION]))
    db = f"sqlite:///{tmp / 'mlflow.db'}"
    ini = tmp / "basic_auth.ini"
    ini.write_text(mlflow_auth.auth_ini(db))
    (tmp / "plugin").mkdir()
    (tmp / "plugin" / mlflow_auth.PLUGIN_FILE).write_text(mlflow_auth.plugin_source())
    # The platform's migration Job: tracking schema, then the auth schema, before any server.
    subprocess.run([str(python), "-c", DB_UPGRADE_SCRIPT], check=True, timeout=300,
                   env={**os.environ, "MLFLOW_BACKEND_STORE_URI": db},
                   capture_output=True)
    python_env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": db,
                  **mlflow_auth.job_env(str(tmp / "plugin"), str(mapping))}
    ensure = partial(subprocess.run, [str(python), "-c", mlflow_auth.WORKSPACES_SCRIPT], check=True,
                     timeout=120, env=python_env, capture_output=True, text=True)
    out = ensure().stdout
    assert "workspace team-fraud" in out and "role team-vision/team-members" in out, out
    port = _free_port()
    env = {**os.environ, **mlflow_auth.server_env(str(ini), str(tmp / "plugin"), str(mapping)),
           "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 32,
           "HYBRIDML_JWKS_REFRESH_SECONDS": "1"}
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(Path(VENV) / "bin" / "mlflow"), "server", *mlflow_auth.SERVER_FLAGS,
             "--backend-store-uri", db, "--artifacts-destination", (tmp / "artifacts").as_uri(),
             "--serve-artifacts", "--expose-prometheus", str(tmp / "metrics"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError("mlflow server exited:\n" + log_path.read_text()[-4000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("mlflow server did not start:\n" + log_path.read_text()[-4000:])
        server = Server(url, tokens, mapping, jwks_uri, ensure, tmp / "artifacts", log_path)
        server.jwks_dir = tmp
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        jwks.shutdown()


class _Jwks(SimpleHTTPRequestHandler):
    """Serves the test IdP's key set; `down` makes it an IdP outage."""

    down = False

    def do_GET(self):
        if _Jwks.down:
            self.send_error(503)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def test_a_member_works_in_the_team_workspace_and_no_other(server):
    status, body = server.create_experiment("alice", "team-fraud", "fraud-baseline")
    assert status == 200, body
    exp_id = body["experiment_id"]
    status, _ = server.call("POST", "/api/2.0/mlflow/runs/create", "alice",
                            {"experiment_id": exp_id}, "team-fraud")
    assert status == 200
    # Another team's workspace, and the default one, are closed to her.
    assert server.create_experiment("alice", "team-vision", "sneaky")[0] == 403
    assert server.create_experiment("alice", None, "in-default")[0] == 403
    # Nor can someone of another team read her experiment, from any workspace.
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}", "bob",
                       workspace="team-vision")[0] in (403, 404)
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}", "bob",
                       workspace="team-fraud")[0] == 403


def test_search_shows_only_the_callers_team(server):
    assert server.create_experiment("alice", "team-fraud", "fraud-search")[0] == 200
    assert server.create_experiment("carol", "team-vision", "vision-search")[0] == 200
    status, body = server.call("POST", "/api/2.0/mlflow/experiments/search", "bob",
                               {"max_results": 100}, "team-vision")
    assert status == 200
    names = {e["name"] for e in body.get("experiments", [])}
    assert "vision-search" in names and not any(n.startswith("fraud") for n in names)


def test_edit_members_work_in_each_others_experiments_but_delete_only_their_own(server):
    status, body = server.create_experiment("carol", "team-vision", "vision-carol")
    assert status == 200
    exp_id = body["experiment_id"]
    # bob (EDIT on team-vision) reads carol's experiment and logs a run with a metric into it.
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}", "bob",
                       workspace="team-vision")[0] == 200
    status, run = server.call("POST", "/api/2.0/mlflow/runs/create", "bob",
                              {"experiment_id": exp_id}, "team-vision")
    assert status == 200, run
    run_id = run["run"]["info"]["run_id"]
    assert server.call("POST", "/api/2.0/mlflow/runs/log-metric", "bob",
                       {"run_id": run_id, "key": "auc", "value": 0.9, "timestamp": 0},
                       "team-vision")[0] == 200
    # He may not delete carol's experiment, but may delete his own.
    assert server.call("POST", "/api/2.0/mlflow/experiments/delete", "bob",
                       {"experiment_id": exp_id}, "team-vision")[0] == 403
    status, own = server.create_experiment("bob", "team-vision", "vision-bob")
    assert status == 200
    assert server.call("POST", "/api/2.0/mlflow/experiments/delete", "bob",
                       {"experiment_id": own["experiment_id"]}, "team-vision")[0] == 200


def test_edit_members_register_models_in_their_workspace_only(server):
    assert server.call("POST", "/api/2.0/mlflow/registered-models/create", "bob",
                       {"name": "vision-classifier"}, "team-vision")[0] == 200
    assert server.call("GET", "/api/2.0/mlflow/registered-models/get?name=vision-classifier",
                       "carol", workspace="team-vision")[0] == 200
    assert server.call("GET", "/api/2.0/mlflow/registered-models/get?name=vision-classifier",
                       "alice", workspace="team-vision")[0] == 403


def test_someone_in_no_team_gets_nothing(server):
    assert server.create_experiment("nobody", "team-fraud", "x")[0] == 403
    assert server.create_experiment("nobody", None, "x")[0] == 403


def test_leaving_the_group_revokes_access_on_the_next_token(server):
    status, body = server.create_experiment("alice", "team-fraud", "before-leaving")
    assert status == 200
    own = body["experiment_id"]
    # Her next token no longer carries the group: the grant goes (no cache for a changed token),
    # and so does the MANAGE she got as the creator of her own experiment.
    assert server.create_experiment("alice-left", "team-fraud", "after-leaving")[0] == 403
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={own}", "alice-left",
                       workspace="team-fraud")[0] == 403
    assert server.call("POST", "/api/2.0/mlflow/experiments/delete", "alice-left",
                       {"experiment_id": own}, "team-fraud")[0] == 403
    # Back in the group, she works there again (her experiment is still there).
    assert server.create_experiment("alice", "team-fraud", "back-again")[0] == 200
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={own}", "alice",
                       workspace="team-fraud")[0] == 200


def test_admin_group_administers_every_workspace(server):
    assert server.create_experiment("ops", None, "platform-default")[0] == 200
    assert server.create_experiment("ops", "team-fraud", "ops-in-fraud")[0] == 200


@pytest.mark.parametrize("token", ["expired", "wrong-aud", "wrong-iss", "forged", "unnamed"])
def test_tokens_that_do_not_verify_are_refused(server, token):
    status, _ = server.create_experiment(token, "team-fraud", f"by-{token}")
    assert status == 401


def test_no_credentials_and_basic_users_are_refused_but_break_glass_admin_works(server):
    assert server.create_experiment(None, "team-fraud", "anon")[0] == 401
    assert server.call("POST", "/api/2.0/mlflow/experiments/create", body={"name": "pw"},
                       basic=("alice@example.com", "whatever-password"))[0] == 401
    # An IdP identity may not take the break-glass admin's name.
    assert server.create_experiment("as-admin", None, "impostor")[0] == 401
    status, _ = server.call("POST", "/api/2.0/mlflow/experiments/create", body={"name": "break-glass"},
                            basic=("admin", ADMIN_PASSWORD))
    assert status == 200


def test_health_is_open_for_probes(server):
    with urllib.request.urlopen(server.url + "/health", timeout=5) as r:
        assert r.status == 200


def test_prometheus_scrapes_metrics_without_credentials_and_nothing_else_is_open(server):
    status, body = server.call("GET", "/metrics")
    assert status == 200 and "mlflow_http_request" in body["text"], body
    # Only that exact path and method.
    assert server.call("GET", "/metrics/../api/2.0/mlflow/experiments/search")[0] == 401
    assert server.call("POST", "/metrics")[0] in (401, 405)


def test_the_ui_loads_for_a_member(server):
    status, body = server.call("GET", "/", "alice", workspace="team-fraud")
    assert status == 200 and "<html" in body["text"].lower()


def test_a_new_team_gets_its_workspace_from_the_job_and_access_without_a_restart(server):
    ml = mlflow_auth.TeamGrant(workspace="team-ml", groups=("team-ml",), permission="MANAGE")
    server.set_teams([FRAUD, VISION, ml])
    try:
        assert "workspace team-ml;" in server.ensure_workspaces().stdout
        assert "changed: nothing" in server.ensure_workspaces().stdout
        # carol is not in team-ml; ops (admin) sees the new workspace exists.
        assert server.create_experiment("ops", "team-ml", "ml-first")[0] == 200
        assert server.create_experiment("carol", "team-ml", "no")[0] == 403
    finally:
        server.set_teams([FRAUD, VISION])
    # Offboarding's last step (runbooks/onboard-team.md): an admin deletes the workspace.
    assert server.call("DELETE", "/api/3.0/mlflow/workspaces/team-ml?mode=CASCADE", "carol")[0] == 403
    assert server.call("DELETE", "/api/3.0/mlflow/workspaces/team-ml?mode=CASCADE", "ops")[0] == 204
    assert server.create_experiment("ops", "team-ml", "gone")[0] == 404


def test_a_removed_team_loses_access_but_keeps_its_data(server):
    status, body = server.create_experiment("carol", "team-fraud", "fraud-kept")
    assert status == 200
    server.set_teams([VISION])
    try:
        assert server.create_experiment("carol", "team-fraud", "after-removal")[0] == 403
        # Not even what she created there.
        assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={body['experiment_id']}",
                           "carol", workspace="team-fraud")[0] == 403
        status, body = server.call("POST", "/api/2.0/mlflow/experiments/search", "ops",
                                   {"max_results": 1000}, "team-fraud")
        assert status == 200 and "fraud-kept" in {e["name"] for e in body["experiments"]}
    finally:
        server.set_teams([FRAUD, VISION])



def test_basic_auth_through_the_gateway_is_refused_even_for_the_admin(server):
    req = urllib.request.Request(server.url + "/api/2.0/mlflow/users/get?username=admin")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode())
    req.add_header("X-Forwarded-For", "203.0.113.7")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def test_grants_given_in_mlflow_to_outsiders_do_not_hold(server):
    status, body = server.create_experiment("carol", "team-vision", "shared-by-carol")
    assert status == 200
    exp = body["experiment_id"]
    # carol (creator: MANAGE on it) shares it with alice, who is not in team-vision...
    assert server.call("POST", "/api/3.0/mlflow/users/permissions/grant", "carol",
                       {"username": "alice@example.com", "resource_type": "experiment",
                        "resource_id": exp, "permission": "EDIT"}, "team-vision")[0] == 200
    # ...which lasts until alice's next request: access to a team workspace is its group's.
    assert server.call("GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp}", "alice",
                       workspace="team-vision")[0] == 403


def test_a_role_made_in_mlflow_gives_no_way_into_a_team_workspace(server):
    # alice (MANAGE, a workspace admin of team-fraud) makes a role and gives it to bob (vision).
    status, body = server.call("POST", "/api/3.0/mlflow/roles/create", "alice",
                               {"name": "backdoor", "workspace": "team-fraud"}, "team-fraud")
    assert status == 200, body
    role = body["role"]["id"]
    assert server.call("POST", "/api/3.0/mlflow/roles/permissions/add", "alice",
                       {"role_id": role, "resource_type": "workspace", "resource_pattern": "*",
                        "permission": "MANAGE"}, "team-fraud")[0] == 200
    for who in ("alice@example.com", "bob@example.com"):
        assert server.call("POST", "/api/3.0/mlflow/roles/assign", "alice",
                           {"username": who, "role_id": role}, "team-fraud")[0] == 200
    try:
        assert server.create_experiment("bob", "team-fraud", "bob-in-fraud")[0] == 403
        # Nor does it outlive alice's membership.
        assert server.create_experiment("alice-left", "team-fraud", "after-leaving")[0] == 403
    finally:
        server.call("POST", "/api/3.0/mlflow/roles/delete", "ops", {"role_id": role}, "team-fraud")
        assert server.create_experiment("alice", "team-fraud", "alice-back")[0] == 200


def test_a_new_users_parallel_first_requests_all_succeed(server):
    # A first UI load fires many requests at once, over workers and replicas: each creates the
    # user and assigns the role, and the losers of those races must not fail.
    from concurrent.futures import ThreadPoolExecutor

    def search(_):
        return server.call("POST", "/api/2.0/mlflow/experiments/search", "newbie",
                           {"max_results": 5}, "team-fraud")[0]

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(search, range(32))) == {200}


def test_idp_outage_keeps_the_last_keys_and_a_rotation_drops_the_old_one(server):
    original = (server.jwks_dir / "jwks.json").read_text()
    try:
        _Jwks.down = True
        time.sleep(1.5)  # past the refresh interval: the fetch fails, the last keys serve
        assert server.create_experiment("alice", "team-fraud", "during-outage")[0] == 200
        _Jwks.down = False
        (server.jwks_dir / "jwks.json").write_text((server.jwks_dir / "jwks-rotated.json").read_text())
        time.sleep(1.5)
        # The IdP no longer publishes the old key: tokens it signed stop verifying.
        assert server.create_experiment("alice", "team-fraud", "old-key")[0] == 401
        assert server.create_experiment("after-rotation", "team-fraud", "new-key")[0] == 200
    finally:
        _Jwks.down = False
        (server.jwks_dir / "jwks.json").write_text(original)
        time.sleep(1.5)


CLIENT = """
import os, pathlib, tempfile, mlflow
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(os.environ["URL"])
mlflow.set_experiment("client-experiment")
with mlflow.start_run() as run:
    mlflow.log_metric("auc", 0.93)
    path = pathlib.Path(tempfile.mkdtemp()) / "model.txt"
    path.write_text("weights")
    mlflow.log_artifact(str(path))
client = MlflowClient()
local = client.download_artifacts(run.info.run_id, "model.txt", tempfile.mkdtemp())
print(run.info.run_id, run.info.artifact_uri, pathlib.Path(local).read_text())
"""


def _client(server, token: str, workspace: str):
    env = {**os.environ, "URL": server.url, "MLFLOW_TRACKING_TOKEN": server.tokens[token],
           "MLFLOW_WORKSPACE": workspace, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    return subprocess.run([str(Path(VENV) / "bin" / "python"), "-c", CLIENT], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_team_workload_logs_runs_and_artifacts_with_the_environment_it_is_given(server):
    # What a team's pod gets: MLFLOW_WORKSPACE from team-environment, its token as
    # MLFLOW_TRACKING_TOKEN; the stock MLflow client does the rest.
    out = _client(server, "alice", "team-fraud")
    assert out.returncode == 0, out.stderr[-2000:]
    run_id, artifact_uri, content = out.stdout.strip().splitlines()[-1].split()
    assert content == "weights"
    # Artifacts of the workspace are kept apart from other workspaces' under the same root.
    assert "workspaces/team-fraud/" in artifact_uri
    stored = list(Path(server.artifacts_root).glob(f"workspaces/team-fraud/**/{run_id}/artifacts/model.txt"))
    assert len(stored) == 1
    # Someone of another team cannot read the run, nor its artifacts through the proxy.
    status, _ = server.call("GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}", "bob", workspace="team-fraud")
    assert status == 403
    artifact = artifact_uri.split("mlflow-artifacts:/", 1)[1] + "/model.txt"
    status, _ = server.call("GET", f"/api/2.0/mlflow-artifacts/artifacts/{artifact}", "bob",
                            workspace="team-fraud")
    assert status == 403


def test_a_workload_of_another_team_is_refused_in_that_workspace(server):
    out = _client(server, "bob", "team-fraud")
    assert out.returncode != 0 and "403" in out.stderr


def test_refusals_are_logged_with_their_reason_and_never_the_token(server):
    assert server.create_experiment("expired", "team-fraud", "logged")[0] == 401
    time.sleep(0.5)
    log = server.log_path.read_text()
    assert "hybridml-auth: refused POST /api/2.0/mlflow/experiments/create: invalid token" in log
    for token in server.tokens.values():
        assert token not in log and token.split(".")[2] not in log


def test_a_team_role_edited_in_mlflow_is_put_back_by_the_reconcile(server):
    status, body = server.call("GET", "/api/3.0/mlflow/roles/list?workspace=team-fraud", "ops",
                               workspace="team-fraud")
    assert status == 200, body
    [role] = [r for r in body["roles"] if r["name"] == "team-members"]
    status, body = server.call("GET", f"/api/3.0/mlflow/roles/permissions/list?role_id={role['id']}",
                               "ops", workspace="team-fraud")
    assert status == 200, body
    [grant] = body["role_permissions"]
    # alice, a workspace admin of the team (MANAGE tier), takes the grant away.
    status, body = server.call("DELETE", "/api/3.0/mlflow/roles/permissions/remove", "alice",
                               {"role_permission_id": grant["id"]}, "team-fraud")
    assert status == 200, body
    assert server.create_experiment("carol", "team-fraud", "locked-out")[0] == 403
    # ...and the reconcile (the hourly CronJob, the same script as the Job) restores it.
    assert "grant team-fraud/team-members workspace:*=MANAGE" in server.ensure_workspaces().stdout
    assert server.create_experiment("carol", "team-fraud", "back-in")[0] == 200
