"""The platform PKI: one root CA, an intermediate per cluster, each cluster's issuer signing with
its intermediate, so one trusted root reaches every cluster's Gateway."""

from __future__ import annotations

import pytest

from stacks.preview.offline import SECRET_SIG, SIG_KEY, PreviewMocks
from stacks.preview.run import run_preview
from tests.conftest import ROOT

ROOT_PEM = "-----BEGIN CERTIFICATE-----ROOT-----END CERTIFICATE-----\n"
KEY_CANARY = "CanaryPrivateKey"


class PkiMocks(PreviewMocks):
    """Known PEMs for the generated keys and certificates (a real preview knows none of them)."""

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        if args.typ == "tls:index/privateKey:PrivateKey":
            outputs = {**outputs, "private_key_pem": f"{KEY_CANARY}-{args.name}"}
        elif args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            outputs = {**outputs, "cert_pem": ROOT_PEM}
        elif args.typ == "tls:index/locallySignedCert:LocallySignedCert":
            outputs = {**outputs, "cert_pem": f"INTERMEDIATE-{args.name}\n"}
        return rid, outputs


@pytest.fixture(scope="module")
def prod():
    return run_preview(ROOT, "prod", resource_mocks=PkiMocks())


def _of(result, type_: str) -> list:
    return [r for r in result.capture.resources if r.type == type_]


def _plain(value) -> object:
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return value["value"]
    return value


def test_one_protected_root_signs_one_intermediate_per_cluster(prod):
    roots = [r for r in _of(prod, "tls:index/selfSignedCert:SelfSignedCert")
             if "hybridml:pki:PlatformRootCa" in r.urn]  # Kafka clusters have CAs of their own
    assert len(roots) == 1
    root = roots[0]
    assert root.inputs["isCaCertificate"] is True and root.inputs["maxPathLength"] == 1
    assert root.protect  # prod: replacing the root breaks trust everywhere
    intermediates = _of(prod, "tls:index/locallySignedCert:LocallySignedCert")
    clusters = sorted(prod.plan["outputs"]["clusters"])
    assert sorted(r.name.removeprefix("ca-").removesuffix("-cert") for r in intermediates) == clusters
    for cert in intermediates:
        assert cert.inputs["isCaCertificate"] is True and cert.inputs["maxPathLength"] == 0
        assert _plain(cert.inputs["caCertPem"]) == ROOT_PEM
        # The root key reaches the signer only as a secret.
        key = cert.inputs["caPrivateKeyPem"]
        assert key.get(SIG_KEY) == SECRET_SIG and key["value"] == f"{KEY_CANARY}-platform-ca-key"


def test_every_cluster_issuer_signs_with_its_own_intermediate(prod):
    secrets = [r for r in _of(prod, "kubernetes:core/v1:Secret")
               if r.inputs["metadata"]["name"] == "platform-ca"
               and r.inputs["metadata"]["namespace"] == "cert-manager"]
    assert len(secrets) == len(prod.plan["outputs"]["clusters"])
    for secret in secrets:
        cluster = secret.name.removeprefix("addons-").removesuffix("-cert-manager-ca-secret")
        wrapped = secret.inputs["stringData"]
        # The whole of stringData travels as a secret (it holds the key).
        assert wrapped.get(SIG_KEY) == SECRET_SIG
        data = wrapped["value"]
        assert data["ca.crt"] == ROOT_PEM
        # The chain up to the root, so clients that trust the root verify the Gateway certificate.
        assert data["tls.crt"] == f"INTERMEDIATE-ca-{cluster}-cert\n" + ROOT_PEM
        assert data["tls.key"] == f"{KEY_CANARY}-ca-{cluster}-key"
    issuers = [r for r in _of(prod, "kubernetes:cert-manager.io/v1:ClusterIssuer")]
    assert issuers and all(r.inputs["spec"] == {"ca": {"secretName": "platform-ca"}} for r in issuers)
    # No cluster bootstraps a self-signed CA of its own any more.
    assert not [r for r in _of(prod, "kubernetes:cert-manager.io/v1:Issuer")
                if "selfSigned" in r.inputs.get("spec", {})]


def test_no_private_key_reaches_the_plan(prod):
    import json

    assert KEY_CANARY not in json.dumps(prod.plan)
