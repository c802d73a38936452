"""A real etcd + kube-apiserver on loopback, and a small client for it.

The server runs with its own CA (openssl), a serving certificate for 127.0.0.1, service-account
signing keys, RBAC, and the admission plugins a production cluster has (NamespaceLifecycle,
LimitRanger, ServiceAccount, PodSecurity, ResourceQuota). No controller-manager, scheduler or
kubelet runs: objects are stored and admitted, never reconciled.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ADMISSION_PLUGINS = "NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,ResourceQuota"
FIELD_MANAGER = "hybrid-ml-e2e"
#: How long a start may take on a loaded 2-core machine before it counts as failed.
START_TIMEOUT = 180.0
#: `Warning: 299 - "text"` headers (RFC 7234); several arrive comma-joined in one header.
_WARNING = re.compile(r'299 - "((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d: Path) -> None:
    """CA, the server's serving certificate, an admin client certificate, SA keys, in `d`."""
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hybrid-ml-e2e-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
        "extendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, subj in (("server", "/CN=kube-apiserver"), ("admin", "/O=system:masters/CN=hybrid-ml-e2e")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", f"{who}.key",
                 "-out", f"{who}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{who}.crt",
                 "-extfile", "server.ext" if who == "server" else "client.ext", cwd=d)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    warnings: list[str]

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body)


@dataclass
class Resource:
    plural: str
    namespaced: bool


@dataclass
class Client:
    """Just enough of the Kubernetes API: discovery, server-side apply, get, delete."""

    url: str
    session: requests.Session
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    #: (apiVersion, kind) the server serves on its own, before any CRD.
    builtin: set[tuple[str, str]] = field(default_factory=set)

    def request(self, method: str, path: str, **kw: Any) -> Response:
        r = self.session.request(method, self.url + path, timeout=60, **kw)
        try:
            body = r.json()
        except ValueError:
            body = {"message": r.text}
        return Response(r.status_code, body, _WARNING.findall(r.headers.get("Warning", "")))

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def discover(self) -> None:
        """(apiVersion, kind) -> plural and scope, for every served group version."""
        found: dict[tuple[str, str], Resource] = {}
        versions = ["/api/v1"]
        for g in self.get("/apis").body.get("groups", []):
            versions += [f"/apis/{v['groupVersion']}" for v in g["versions"]]
        for path in versions:
            gv = path.removeprefix("/apis/").removeprefix("/api/")
            for res in self.get(path).body.get("resources", []):
                if "/" not in res["name"]:
                    found[(gv, res["kind"])] = Resource(res["name"], res["namespaced"])
        self.resources = found

    def path_of(self, obj: dict[str, Any]) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        res = self.resources.get((api_version, kind))
        if res is None:
            raise KeyError(f"the server does not serve {kind} in {api_version}")
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        name = urllib.parse.quote(obj["metadata"]["name"], safe="")
        if res.namespaced:
            ns = obj["metadata"].get("namespace") or "default"
            return f"{base}/namespaces/{ns}/{res.plural}/{name}"
        return f"{base}/{res.plural}/{name}"

    def apply(self, obj: dict[str, Any], dry_run: bool) -> Response:
        """Server-side apply (`kubectl apply --server-side --force-conflicts [--dry-run=server]`)."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request("PATCH", self.path_of(obj), params=params, json=obj,
                            headers={"Content-Type": "application/apply-patch+yaml"})

    def create(self, obj: dict[str, Any], dry_run: bool) -> Response:
        path = self.path_of(obj).rsplit("/", 1)[0]
        return self.request("POST", path, params={"dryRun": "All"} if dry_run else {}, json=obj)

    def delete(self, obj: dict[str, Any]) -> Response:
        return self.request("DELETE", self.path_of(obj))


class ServerExited(RuntimeError):
    """etcd or kube-apiserver stopped while starting."""


def _wait(what: str, ok: Any, logs: list[Path], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}:\n" + "\n".join(p.read_text(errors="replace").splitlines()[-30:])
                      for p in logs if p.exists())
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s\n{tails}")


class ApiServer:
    """etcd + kube-apiserver in `workdir`; `start()`, `client`, `stop()`."""

    def __init__(self, etcd: Path, kube_apiserver: Path, workdir: Path):
        self.etcd_bin, self.apiserver_bin, self.dir = etcd, kube_apiserver, workdir
        self.procs: list[subprocess.Popen] = []
        self.client: Client | None = None

    def _spawn(self, name: str, argv: list[str], run: Path) -> Path:
        log = run / f"{name}.log"
        with log.open("wb") as out:
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, cwd=run))
        return log

    def start(self, attempts: int = 3) -> Client:
        """Start both; a process that exits at once (a free port taken meanwhile) is retried."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start(self.dir / f"run{attempt}")
            except ServerExited:
                self.stop()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _start(self, run: Path) -> Client:
        run.mkdir(parents=True)
        pki = run / "pki"
        make_pki(pki)
        client_port, peer_port, port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        etcd_log = self._spawn("etcd", [
            str(self.etcd_bin), "--name", "e2e", "--data-dir", str(run / "etcd-data"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"e2e=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ], run)
        _wait("etcd", lambda: self._alive([etcd_log]) and _http_ok(f"{etcd_url}/health"), [etcd_log])
        api_log = self._spawn("kube-apiserver", [
            str(self.apiserver_bin),
            "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(port), "--cert-dir", str(run / "certs"),
            "--tls-cert-file", str(pki / "server.crt"), "--tls-private-key-file", str(pki / "server.key"),
            "--client-ca-file", str(pki / "ca.crt"),
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--authorization-mode", "RBAC",
            "--enable-admission-plugins", ADMISSION_PLUGINS,
            "--anonymous-auth=false", "--profiling=false",
            # The kubernetes Service cannot point at a loopback address; nothing here needs it.
            "--endpoint-reconciler-type", "none",
        ], run)
        session = requests.Session()
        # Our CA, not REQUESTS_CA_BUNDLE (which requests lets override a session's `verify`).
        session.trust_env = False
        session.cert = (str(pki / "admin.crt"), str(pki / "admin.key"))
        session.verify = str(pki / "ca.crt")
        client = Client(f"https://127.0.0.1:{port}", session)

        def ready() -> bool:
            self._alive([etcd_log, api_log])
            try:
                return client.get("/readyz").status == 200
            except requests.RequestException:
                return False

        _wait("kube-apiserver", ready, [etcd_log, api_log])
        client.discover()
        client.builtin = set(client.resources)
        self.client = client
        return client

    def _alive(self, logs: list[Path]) -> bool:
        if any(p.poll() is not None for p in self.procs):
            raise ServerExited("etcd or kube-apiserver exited:\n" + "\n".join(
                f"--- {p.name}:\n" + "\n".join(p.read_text(errors="replace").splitlines()[-30:])
                for p in logs))
        return True

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


def _http_ok(url: str) -> bool:
    try:
        with requests.Session() as s:
            s.trust_env = False
            return s.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False
