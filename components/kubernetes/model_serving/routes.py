"""The pure specs of a model's routing: Gateway parents and hostnames, the inference and
health HTTPRoutes, the JWT SecurityPolicy and the upstream BackendTrafficPolicy."""

from __future__ import annotations

from components.kubernetes.gateway import GATEWAY
from components.kubernetes.gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.kubernetes.model_serving.args import JwtAuth, ModelServingArgs
from components.kubernetes.model_serving.contract import (
    HEALTH_PATH,
    HTTP_PORT,
    INFERENCE_PATH,
    PROXY_IDLE_SECONDS,
    ROUTE_TIMEOUT_MARGIN_SECONDS,
)
from components.kubernetes.serving_gateway import PUBLIC_GATEWAY


def gateway_parents(args: ModelServingArgs) -> list[dict]:
    """The platform Gateway's https listener, and `serving-public` with a public hostname."""
    parents = [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                "namespace": GATEWAY_NAMESPACE, "name": GATEWAY, "sectionName": "https"}]
    if args.public_hostname is not None:
        parents.append({**parents[0], "name": PUBLIC_GATEWAY})
    return parents


def route_hostnames(args: ModelServingArgs) -> list[str]:
    """The private hostname, and the public one when given."""
    hostnames = [args.hostname]
    if args.public_hostname is not None:
        hostnames.append(args.public_hostname)
    return hostnames


def backend_ref(model: str, track: str, weight: int) -> dict:
    """A weighted reference to one track's Service."""
    return {"group": "", "kind": "Service", "name": f"{model}-{track}",
            "port": HTTP_PORT, "weight": weight}


def _route_target(name: str) -> dict:
    return {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": name}


def jwt_policy_spec(model: str, auth: JwtAuth) -> dict:
    """`spec` of the SecurityPolicy requiring the issuer's JWT on the inference route."""
    provider: dict = {"name": "platform-idp", "issuer": auth.issuer,
                      "remoteJWKS": {"uri": auth.jwks_uri}}
    if auth.audiences:
        provider["audiences"] = list(auth.audiences)
    return {"targetRefs": [_route_target(model)], "jwt": {"providers": [provider]}}


def inference_route_spec(args: ModelServingArgs) -> dict:
    """`spec` of the route `<model>`: `POST /invocations` split by weight over the tracks."""
    return {
        "parentRefs": gateway_parents(args),
        "hostnames": route_hostnames(args),
        "rules": [{
            "matches": [{"path": {"type": "Exact", "value": INFERENCE_PATH}, "method": "POST"}],
            "backendRefs": [backend_ref(args.model, v.track, v.weight) for v in args.versions],
            # Envoy's default is 15 s; the server answers 504 itself at its own timeout.
            "timeouts": {
                "request": f"{args.request_timeout_seconds + ROUTE_TIMEOUT_MARGIN_SECONDS}s"},
        }],
    }


def health_route_spec(args: ModelServingArgs) -> dict:
    """`spec` of the route `<model>-health`: `GET /ping` on the stable track only."""
    return {
        "parentRefs": gateway_parents(args),
        "hostnames": route_hostnames(args),
        # Open (no JWT): health checkers carry no token. The stable version decides
        # whether the site serves; a failing canary must not fail the site over.
        "rules": [{
            "matches": [{"path": {"type": "Exact", "value": HEALTH_PATH}, "method": "GET"}],
            "backendRefs": [backend_ref(args.model, "stable", 1)],
        }],
    }


def upstream_policy_spec(model: str) -> dict:
    """`spec` of the BackendTrafficPolicy closing idle upstream connections before the server."""
    return {
        "targetRefs": [_route_target(route_name) for route_name in (model, f"{model}-health")],
        # Uvicorn closes idle connections after UVICORN_TIMEOUT_KEEP_ALIVE; Envoy must
        # close them first or it reuses a connection the server is closing (a 503).
        "timeout": {"http": {"connectionIdleTimeout": f"{PROXY_IDLE_SECONDS}s"}},
    }
