"""The monitoring stack's credentials: Grafana's admin password, each sender's remote-write
password (and the CA it trusts), and the central Gateway's basic auth checking them. Every
password is a generated RandomPassword and stays a Pulumi secret; none is in Helm values."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.inputs import StrInput
from components.kubernetes.monitoring.args import RemoteWriteArgs
from components.kubernetes.monitoring.constants import (
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER,
    HTPASSWD_SECRET,
    REMOTE_WRITE_AUTH_SECRET,
    REMOTE_WRITE_CA_SECRET,
    SECURITY_POLICY,
)
from components.kubernetes.objects import ENVOY_GATEWAY_API


def htpasswd(users: Mapping[str, str]) -> str:
    """An htpasswd file in the `{SHA}` format (the only one Envoy's basic auth filter takes).

    SHA-1 of a generated 40-character random password: the hash only guards against reading
    the Secret; the password's own entropy is what makes it unguessable.
    """
    lines = []
    for user, password in sorted(users.items()):
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
        lines.append(f"{user}:{{SHA}}{base64.b64encode(digest).decode()}")
    return "\n".join(lines) + "\n"


def basic_auth_policy_spec(routes: list[str]) -> dict[str, Any]:
    """`spec` of the Envoy Gateway SecurityPolicy requiring basic auth (users from the
    htpasswd Secret) on the HTTPRoutes `routes`."""
    return {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                        "name": r} for r in routes],
        "basicAuth": {"users": {"group": "", "kind": "Secret", "name": HTPASSWD_SECRET}},
    }


def _secret(resource_name: str, secret: str, data: dict[str, Any], meta: dict[str, Any],
            parent: pulumi.Resource, after: list[pulumi.Resource]) -> k8s.core.v1.Secret:
    return k8s.core.v1.Secret(
        resource_name,
        metadata={"name": secret, **meta},
        type="Opaque",
        string_data=data,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )


def grafana_admin_secret(name: str, meta: dict[str, Any], parent: pulumi.Resource,
                         after: list[pulumi.Resource]) -> k8s.core.v1.Secret:
    """A generated Grafana admin password (`<name>-grafana-admin-password`) in the Secret the
    chart names (`<name>-grafana-admin`)."""
    password = random.RandomPassword(
        f"{name}-grafana-admin-password", length=32, special=False,
        opts=pulumi.ResourceOptions(parent=parent))
    return _secret(f"{name}-grafana-admin", GRAFANA_ADMIN_SECRET,
                   {"admin-user": GRAFANA_ADMIN_USER,
                    "admin-password": pulumi.Output.secret(password.result)},
                   meta, parent, after)


def remote_write_credentials(
    name: str, cluster_name: str, rw: RemoteWriteArgs, meta: dict[str, Any],
    parent: pulumi.Resource, after: list[pulumi.Resource],
) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
    """A sender's generated remote-write password (a secret Output) and the Secrets its
    Prometheus reads: the basic-auth pair and, when given, the CA of the central Gateway."""
    password = random.RandomPassword(
        f"{name}-remote-write-password", length=40, special=False,
        opts=pulumi.ResourceOptions(parent=parent))
    secret_password = pulumi.Output.secret(password.result)
    secrets: list[pulumi.Resource] = [
        _secret(f"{name}-remote-write-auth", REMOTE_WRITE_AUTH_SECRET,
                {"username": cluster_name, "password": secret_password}, meta, parent, after)]
    if rw.ca_pem is not None:
        secrets.append(_secret(f"{name}-remote-write-ca", REMOTE_WRITE_CA_SECRET,
                               {"ca.crt": rw.ca_pem}, meta, parent, after))
    return secret_password, secrets


def remote_write_basic_auth(
    name: str, senders: Mapping[str, StrInput], routes: list[str], meta: dict[str, Any],
    parent: pulumi.Resource, after: list[pulumi.Resource], release_deps: list[pulumi.Resource],
) -> None:
    """The htpasswd Secret of every sender and the SecurityPolicy checking it on `routes`."""
    # Every sender authenticates as itself; an unknown or wrong password gets 401 at the
    # Gateway and never reaches Prometheus. Hashing runs on known values only (no resources).
    users = dict(senders)
    names = sorted(users)
    content = pulumi.Output.secret(pulumi.Output.all(*[users[n] for n in names]).apply(
        lambda passwords: htpasswd(dict(zip(names, passwords, strict=True)))))
    users_secret = _secret(f"{name}-remote-write-htpasswd", HTPASSWD_SECRET,
                           {".htpasswd": content}, meta, parent, after)
    k8s.apiextensions.CustomResource(
        f"{name}-remote-write-basic-auth",
        api_version=ENVOY_GATEWAY_API,
        kind="SecurityPolicy",
        metadata={"name": SECURITY_POLICY, **meta},
        spec=basic_auth_policy_spec(routes),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*release_deps, users_secret]),
    )
