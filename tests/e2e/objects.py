"""The Kubernetes objects of an offline preview, made sendable to a real API server.

The objects are the preview's own (`stacks.preview.manifests.kubernetes_objects`: every
`kubernetes:*` resource of the plan but Helm releases, with its cluster), from a preview of the
committed stack run by the e2e session with `E2eMocks`. Their bodies are taken from the
preview's capture (the wire form the engine would receive), because the plan file replaces every
secret with `"[secret]"` and so loses, e.g., the keys of a Secret's `stringData`. The honest
substitutions, each counted and listed with its field path:

- what the `random` and `tls` providers generate at `pulumi up` (passwords, keys, certificates)
  is a known stand-in (`E2eMocks`): a string, or for PEM outputs one throw-away key, its
  self-signed certificate and a CSR made by openssl, so a Secret built from them has its real
  keys and the server can parse a `kubernetes.io/tls` pair;
- a **secret** value is sent as it is: the preview's stand-in (secret config reads as
  `stacks.preview.run.PLACEHOLDER`) or one of the above; no real secret exists in a preview;
- any other **unknown** value (a cloud resource's ID or ARN, known only after `pulumi up`) is
  sent as `UNKNOWN_STAND_IN`, a string, which is what each such field holds; a whole map
  that is unknown (a Secret's `stringData` built from a cloud database's endpoint) is sent as
  `{UNKNOWN_KEY: UNKNOWN_STAND_IN}`, its keys being unknown too.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from stacks.preview.manifests import CLUSTER_SCOPED, KubeObject, kubernetes_objects
from stacks.preview.offline import RESOURCE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN, PreviewMocks

UNKNOWN_STAND_IN = "e2e-stand-in-for-a-value-known-after-up"
UNKNOWN_KEY = "e2e-stand-in-for-keys-known-after-up"
#: Fields of Kubernetes objects that hold a map of strings.
_MAP_FIELDS = {"stringData", "data", "labels", "annotations"}
#: Outputs the random and tls providers generate, by resource type.
GENERATED = {
    "random:index/randomPassword:RandomPassword": ("result", "bcryptHash"),
    "random:index/randomString:RandomString": ("result",),
    "random:index/randomId:RandomId": ("hex", "b64Url", "b64Std", "dec"),
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyPemPkcs8", "publicKeyPem",
                                        "privateKeyOpenssh", "publicKeyOpenssh"),
    "tls:index/selfSignedCert:SelfSignedCert": ("certPem",),
    "tls:index/locallySignedCert:LocallySignedCert": ("certPem",),
    "tls:index/certRequest:CertRequest": ("certRequestPem",),
}




@cache
def _stand_in_pems() -> dict[str, str]:
    """A throw-away RSA key, its self-signed certificate, public key and a CSR, as PEM."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=e2e-stand-in",
                "-keyout", "key.pem", "-out", "cert.pem")
        openssl("req", "-new", "-key", "key.pem", "-subj", "/CN=e2e-stand-in", "-out", "csr.pem")
        openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem")
        key = (d / "key.pem").read_text()
        return {"privateKeyPem": key, "privateKeyPemPkcs8": key, "publicKeyPem": (d / "pub.pem").read_text(),
                "certPem": (d / "cert.pem").read_text(), "certRequestPem": (d / "csr.pem").read_text()}


class E2eMocks(PreviewMocks):
    """The preview's engine stand-in, except that generated values are known stand-ins."""

    def __init__(self) -> None:
        # Made here, once: the SDK calls new_resource from several threads at a time.
        self.pems = _stand_in_pems()
        self.stood_in: list[str] = []  # "<type> <name>.<output>" of each generated stand-in

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        pems = self.pems
        names = GENERATED.get(args.typ, ())
        self.stood_in += [f"{args.typ} {args.name}.{n}" for n in names]  # list.extend: atomic
        return rid, {**outputs, **{n: pems.get(n, f"e2e-stand-in-{n}-{args.name}") for n in names}}


@dataclass
class Substitutions:
    secrets: list[str] = field(default_factory=list)  # "<urn-name> <path>" of each secret value
    unknowns: list[str] = field(default_factory=list)


def _sendable(value: Any, where: str, subs: Substitutions, in_secret: bool = False) -> Any:
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            subs.secrets.append(where)
            return _sendable(value.get("value"), where, subs, in_secret=True)
        if sig == RESOURCE_SIG:
            raise ValueError(f"{where}: a resource reference inside a Kubernetes object")
        return {k: _sendable(v, f"{where}.{k}", subs, in_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_sendable(v, f"{where}[{i}]", subs, in_secret) for i, v in enumerate(value)]
    if value == UNKNOWN:
        subs.unknowns.append(where)
        if where.rsplit(".", 1)[-1] in _MAP_FIELDS:
            return {UNKNOWN_KEY: UNKNOWN_STAND_IN}
        return UNKNOWN_STAND_IN
    return value


@dataclass(frozen=True)
class E2eObject:
    cluster: str
    namespace: str | None  # None: cluster-scoped
    kind: str
    name: str
    patch: bool  # a server-side apply patch of an object that exists on a real cluster (Node)
    body: dict[str, Any]

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.cluster}: {self.kind} {where}{self.name}"


def e2e_objects(preview: Any) -> tuple[list[E2eObject], Substitutions]:
    """Every Kubernetes object of `preview` (a `PreviewResult`), with its sendable body."""
    wire = {r.urn: r.inputs for r in preview.capture.resources}
    subs = Substitutions()
    out = []
    for obj in kubernetes_objects(preview.plan):
        obj: KubeObject
        inputs = {k: v for k, v in wire[obj.urn].items() if not k.startswith("__")}
        body = _sendable(inputs, f"{obj.cluster}: {obj.kind} {obj.name}:", subs)
        out.append(E2eObject(obj.cluster, None if obj.namespace == CLUSTER_SCOPED else obj.namespace,
                             obj.kind, obj.name, obj.patch, body))
    return out, subs
