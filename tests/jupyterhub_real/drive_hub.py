"""Run inside .venv-jupyterhub (the hub image's jupyterhub, oauthenticator and kubespawner):
a tiny OIDC IdP on 127.0.0.1 (discovery, token and userinfo endpoints; one code per test
user), the platform's hub module applied to a real traitlets Config, and the real
GenericOAuthenticator signing every user in through the IdP. Prints, per user, whether the hub
admitted them, as admin or not, the profiles KubeSpawner would offer them, and for each of
those (and the extra slugs given) the pod and home volume the real KubeSpawner would create.

Usage: python drive_hub.py HUB_MODULE_DIR SETTINGS_JSON USERS_JSON [SLUG,...]
USERS_JSON: {"<code>": {userinfo claims}, ...}; the settings' issuer is replaced by the IdP's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

from traitlets.config import Config


def start_idp(users: dict) -> tuple[ThreadingHTTPServer, str]:
    tokens: dict[str, dict] = {}

    class Handler(BaseHTTPRequestHandler):
        def _json(self, body: dict, status: int = 200) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/.well-known/openid-configuration":
                self._json({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                            "token_endpoint": f"{base}/token",
                            "userinfo_endpoint": f"{base}/userinfo"})
            elif self.path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token in tokens:
                    self._json(tokens[token])
                else:
                    self._json({"error": "invalid_token"}, 401)
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self) -> None:  # noqa: N802
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            code = form.get("code", [""])[0]
            if self.path != "/token" or code not in users or form.get("client_secret") != ["s3cret"]:
                self._json({"error": "invalid_grant", "error_description": "bad code"}, 400)
                return
            token = f"token-{code}"
            tokens[token] = users[code]
            self._json({"access_token": token, "token_type": "Bearer", "expires_in": 300})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def sign_in(authenticator, code: str) -> dict | None:
    from oauthenticator.oauth2 import _serialize_state
    cookie = _serialize_state({"state_id": "s", "code_verifier": "v" * 64})
    handler = SimpleNamespace(get_argument=lambda name, default=None: code if name == "code" else default,
                              get_state_cookie=lambda: cookie)
    # The Authenticator's full path: authenticate, then the admission checks.
    return await authenticator.get_authenticated_user(handler, None)


async def spawn(config, user, slug: str) -> dict:
    """What the real KubeSpawner would create for `user` choosing profile `slug` (no cluster:
    KubeSpawner's own test mode), or why it refuses."""
    from kubespawner import KubeSpawner

    user.url = f"/user/{user.name}/"
    spawner = KubeSpawner(config=config, user=user, _mock=True)
    spawner.user_options = {"profile": slug}
    try:
        await spawner.load_user_options()
    except Exception as err:  # noqa: BLE001 (the refusal is the result)
        return {"refused": f"{type(err).__name__}: {err}"}
    from kubernetes_asyncio.client import ApiClient

    # The objects as the API server would receive them (camelCase JSON).
    serialize = ApiClient().sanitize_for_serialization
    pod = serialize(await spawner.get_pod_manifest())
    pvc = serialize(spawner.get_pvc_manifest())
    [container] = pod["spec"]["containers"]
    return {"namespace": spawner.namespace, "pod": pod["metadata"]["name"],
            "service_account": pod["spec"].get("serviceAccountName"),
            "labels": pod["metadata"]["labels"], "image": container["image"],
            "env_from": container.get("envFrom"), "resources": container["resources"],
            "node_selector": pod["spec"].get("nodeSelector"),
            "tolerations": pod["spec"].get("tolerations"),
            "pod_security": pod["spec"].get("securityContext"),
            "security": container["securityContext"],
            "claims": [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                       if v.get("persistentVolumeClaim")],
            "pvc": {"name": pvc["metadata"]["name"], "class": pvc["spec"].get("storageClassName"),
                    "size": pvc["spec"]["resources"]["requests"]["storage"],
                    "labels": pvc["metadata"]["labels"]}}


#: KubeSpawner reads a kubeconfig when it is made; nothing here ever connects to it.
_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def main() -> None:
    kubeconfig = os.path.join(tempfile.mkdtemp(), "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(_KUBECONFIG)
    os.environ["KUBECONFIG"] = kubeconfig
    module_dir, settings_path, users_path = sys.argv[1:4]
    # Profiles every admitted user also tries to spawn (another team's: must be refused).
    spawn_also = sys.argv[4].split(",") if len(sys.argv) > 4 else []
    sys.path.insert(0, module_dir)
    import hybridml_hub
    from kubespawner import KubeSpawner
    from oauthenticator.generic import GenericOAuthenticator

    with open(settings_path) as f:
        settings = json.load(f)
    with open(users_path) as f:
        users = json.load(f)
    server, issuer = start_idp(users)
    settings["oidc"]["issuer"] = issuer
    c = Config()
    hybridml_hub.configure(c, settings)
    c.GenericOAuthenticator.client_secret = "s3cret"
    authenticator = GenericOAuthenticator(config=c)
    traits = set(KubeSpawner.class_trait_names())
    profile_list = c.KubeSpawner.profile_list
    out = {"authenticator_class": c.JupyterHub.authenticator_class, "users": {}}
    for code in users:
        model = asyncio.run(sign_in(authenticator, code))
        if model is None:
            out["users"][code] = {"admitted": False}
            continue
        user = SimpleNamespace(name=model["name"], admin=bool(model.get("admin")),
                               groups=[SimpleNamespace(name=g) for g in model.get("groups", [])])
        try:
            profiles = profile_list(SimpleNamespace(user=user))
        except hybridml_hub.NoProfiles:
            profiles = []
        unknown = sorted({k for p in profiles for k in p.get("kubespawner_override", {})} - traits)
        slugs = [p["slug"] for p in profiles]
        tried = sorted(set(slugs) | set(spawn_also))
        user.id = len(out["users"]) + 1
        out["users"][code] = {"admitted": True, "name": model["name"], "admin": user.admin,
                              "profiles": slugs,
                              "namespaces": sorted({p["kubespawner_override"]["namespace"]
                                                    for p in profiles}),
                              "unknown_overrides": unknown,
                              "spawns": {slug: asyncio.run(spawn(c, user, slug)) for slug in tried}}
    server.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
