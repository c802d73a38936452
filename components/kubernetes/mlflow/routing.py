"""How requests reach the server (pure specs): its Service, the Envoy Gateway SecurityPolicy
(OIDC sign-in for browsers, bearer JWTs for automation), the HTTPRoute on the `platform`
Gateway, and the ServiceMonitor that scrapes /metrics."""

from __future__ import annotations

from typing import Any

from components.kubernetes import gateway
from components.kubernetes.mlflow.args import OidcAuth
from components.kubernetes.mlflow.names import APP, OIDC_SECRET, PORT, SERVER_LABELS


def service_spec() -> dict[str, Any]:
    """The ClusterIP Service in front of the replicas."""
    return {"type": "ClusterIP", "selector": SERVER_LABELS,
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}]}


def security_policy_spec(hostname: str, oidc: OidcAuth) -> dict[str, Any]:
    """Authentication of the server's HTTPRoute: OIDC for browsers, a required IdP JWT for all."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": APP}],
        "oidc": {
            "provider": {"issuer": oidc.issuer_url},
            "clientID": oidc.client_id,
            "clientSecret": {"group": "", "kind": "Secret", "name": OIDC_SECRET},
            "scopes": list(oidc.scopes),
            "redirectURL": f"https://{hostname}/oauth2/callback",
            "logoutPath": "/logout",
            # The signed-in browser's access token goes on to MLflow as a bearer token:
            # MLflow's auth verifies it and reads the user and their groups from it.
            "forwardAccessToken": True,
            # A request with `Authorization: Bearer ...` skips the browser flow; the JWT
            # provider below then must validate that token.
            "passThroughAuthHeader": True,
        },
        "jwt": {
            # Required: every request that passes carries a valid IdP token. A browser's
            # comes from its OIDC session (forwardAccessToken, set before this filter
            # runs); a request with any other Authorization header (e.g. Basic) skips the
            # OIDC filter (passThroughAuthHeader) and is refused here.
            "optional": False,
            "providers": [{
                "name": "idp",
                "issuer": oidc.token_issuer or oidc.issuer_url,
                "audiences": list(oidc.audiences),
                "remoteJWKS": {"uri": oidc.jwks_uri},
                "extractFrom": {"headers": [{"name": "Authorization", "valuePrefix": "Bearer "}]},
            }],
        },
    }


def http_route_spec(hostname: str) -> dict[str, Any]:
    """`hostname` on the platform Gateway's https listener, to the Service. Artifact uploads
    and downloads stream through the server: an hour per request, not Envoy's 15 s."""
    return gateway.https_route_spec(hostname, APP, PORT, request_timeout="3600s")


def service_monitor_spec(namespace: str) -> dict[str, Any]:
    """Prometheus scrapes every replica's /metrics every 30 s."""
    return {
        "selector": {"matchLabels": SERVER_LABELS},
        "namespaceSelector": {"matchNames": [namespace]},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    }
