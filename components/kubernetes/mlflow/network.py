"""The server's NetworkPolicy rules (pure specs): egress to the database, the object store, the
IdP and the workload identity endpoints only; ingress from the listed client namespaces.

Each builder returns the `policyTypes` + `egress`/`ingress` part that
`components.kubernetes.objects.network_policy` takes, or None where the site needs no rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from components.kubernetes.mlflow.args import ArtifactTarget, DatabaseConnection, OidcAuth
from components.kubernetes.mlflow.names import PORT
from components.kubernetes.objects import in_namespace

#: Every range that is not the public internet: RFC 1918, CGNAT (AKS overlay pods) and
#: link-local (metadata and identity agents), cut out of the public-HTTPS egress rule.
NON_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
#: Workload identity endpoints pods must reach, per site (address, port):
#: EKS Pod Identity agent (link-local, port 80);
#: GKE metadata server: 169.254.169.254:80 (Dataplane V2) and 169.254.169.252:988 (GKE docs,
#: "Workload Identity Federation for GKE" with network policy). Azure exchanges its projected
#: token at login.microsoftonline.com, a public 443 destination.
IDENTITY_ENDPOINTS: dict[str, tuple[tuple[str, int], ...]] = {
    "aws": (("169.254.170.23/32", 80),),
    "gcp": (("169.254.169.254/32", 80), ("169.254.169.252/32", 988)),
    "azure": (),
    "onprem": (),
}


def _public_https(extra_cidrs: Sequence[str], port: int) -> dict[str, Any]:
    """Everything public on `port`, nothing private, plus the named private ranges."""
    return {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                   *({"ipBlock": {"cidr": c}} for c in extra_cidrs)],
            "ports": [{"protocol": "TCP", "port": port}]}


def database_egress(db: DatabaseConnection) -> dict[str, Any]:
    """The servers and the migration Job reach the database, nothing else of the namespace
    does; the Job needs this rule before its first attempt."""
    return {"policyTypes": ["Egress"],
            "egress": [{"to": db.peers(), "ports": [{"protocol": "TCP", "port": db.policy_port}]}]}


def object_store_egress(artifacts: ArtifactTarget) -> dict[str, Any]:
    """The artifact store: the on-prem endpoint's ranges on its port; cloud object storage
    (and its private endpoints) on 443."""
    if artifacts.kind == "s3-compatible":
        rule = {"to": [{"ipBlock": {"cidr": c}} for c in artifacts.endpoint_cidrs],
                "ports": [{"protocol": "TCP", "port": artifacts.endpoint_port}]}
    else:
        # Cloud object storage and the IdP token endpoint are public HTTPS endpoints whose
        # addresses change; everything public on 443, nothing private, is the narrowest
        # rule a NetworkPolicy can state for them.
        rule = _public_https(artifacts.private_endpoint_cidrs, 443)
    return {"policyTypes": ["Egress"], "egress": [rule]}


def idp_egress(oidc: OidcAuth) -> dict[str, Any]:
    """MLflow's auth fetches the IdP's signing keys (JWKS): a public HTTPS endpoint, or the
    IdP's private ranges when it is not public, on the JWKS URL's port."""
    return {"policyTypes": ["Egress"],
            "egress": [_public_https(oidc.idp_cidrs, urlsplit(oidc.jwks_uri).port or 443)]}


def workload_identity_egress(site: str) -> dict[str, Any] | None:
    """The site's workload identity endpoints; None where there are none to open."""
    identity = IDENTITY_ENDPOINTS[site]
    if not identity:
        return None
    return {"policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}}],
                        "ports": [{"protocol": "TCP", "port": port}]}
                       for cidr, port in identity]}


def client_ingress(namespaces: Sequence[str]) -> dict[str, Any] | None:
    """Pods of `namespaces` may call the server's port directly; None for no namespaces."""
    if not namespaces:
        return None
    return {"policyTypes": ["Ingress"],
            "ingress": [{"from": [in_namespace(n) for n in namespaces],
                         "ports": [{"protocol": "TCP", "port": PORT}]}]}
