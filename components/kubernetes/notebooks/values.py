"""Helm values of the Zero to JupyterHub chart and the hub's network rules (pure).

Nothing secret goes in here: the OIDC client secret reaches the hub as an environment variable
from the `notebooks-oidc` Secret, the database password (prod) as `PGPASSWORD` from the
`notebooks-db` Secret (libpq reads it; the URL has none), the cookie secret and proxy token are the chart's own
(generated into its Secret on install). The per-team logic is the mounted hub module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.kubernetes.addons import INGRESS_PODS
from components.kubernetes.charts import container_resources
from components.kubernetes.notebooks.hybridml_hub import CLIENT_SECRET_ENV, MOUNT_PATH
from components.kubernetes.notebooks.names import (
    DB_PASSWORD_ENV,
    DB_SECRET,
    DB_SECRET_KEY,
    HUB_CONFIGMAP,
    HUB_PORT,
    NOTEBOOK_PORT,
    OIDC_SECRET,
    OIDC_SECRET_KEY,
    PROXY_PORT,
    SERVER_LABELS,
)
from components.kubernetes.objects import NAMESPACE_NAME_LABEL

#: Team namespaces carry this label (components/kubernetes/work_queues/constants.py agrees).
TEAM_NAMESPACE_LABEL = "hybridml.io/team"
#: Not the public internet: cut out of the hub's HTTPS egress to the IdP.
NON_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
#: Prometheus' pods (the only scrapers of the hub's metrics).
PROMETHEUS_PODS = INGRESS_PODS["monitoring"]
#: Ports of the Kubernetes API (443 behind a cloud endpoint, 6443 on-prem).
API_PORTS = (443, 6443)
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                       "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                       "seccompProfile": {"type": "RuntimeDefault"}}
#: Every egress rule off except DNS in kube-system: the allowed destinations are listed.
_ONLY_DNS = {"cloudMetadataServer": False, "dnsPortsCloudMetadataServer": False,
             "dnsPortsKubeSystemNamespace": True, "dnsPortsPrivateIPs": False,
             "nonPrivateIPs": False, "privateIPs": False}



@dataclass(frozen=True)
class HubDatabase:
    """The hub's PostgreSQL: its URL without password (str or Output), the database pods' labels
    (in the hub's namespace) and port the hub's egress admits."""

    url: Any
    pod_labels: dict[str, str]
    port: int


def database_url(*, username: str, host: str, port: int, database: str, sslmode: str) -> str:
    """SQLAlchemy URL of the hub's database; no password (libpq reads PGPASSWORD)."""
    return f"postgresql+psycopg2://{username}@{host}:{port}/{database}?sslmode={sslmode}"


EXTRA_CONFIG = f"""import sys
sys.path.insert(0, "{MOUNT_PATH}")
import hybridml_hub
hybridml_hub.configure(c, hybridml_hub.load())
"""


def _team_servers(port: int) -> dict[str, Any]:
    return {"to": [{"namespaceSelector": {"matchExpressions": [
                        {"key": TEAM_NAMESPACE_LABEL, "operator": "Exists"}]},
                    "podSelector": {"matchLabels": dict(SERVER_LABELS)}}],
            "ports": [{"protocol": "TCP", "port": port}]}


def hub_egress(idp_cidrs: Sequence[str], api_server_cidrs: Sequence[str],
               database: HubDatabase | None = None) -> list[dict[str, Any]]:
    """The hub reaches the IdP (public HTTPS and its private ranges), the Kubernetes API, the
    notebook servers in the team namespaces and (prod) its database's pods in its own namespace;
    the proxy's API in its own namespace the chart adds."""
    db = [] if database is None else [
        {"to": [{"podSelector": {"matchLabels": dict(database.pod_labels)}}],
         "ports": [{"protocol": "TCP", "port": database.port}]}]
    return [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                *({"ipBlock": {"cidr": c}} for c in idp_cidrs)],
         "ports": [{"protocol": "TCP", "port": 443}]},
        {"to": [{"ipBlock": {"cidr": c}} for c in api_server_cidrs],
         "ports": [{"protocol": "TCP", "port": p} for p in API_PORTS]},
        _team_servers(NOTEBOOK_PORT),
        *db,
    ]


def _db_values(database: HubDatabase | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`hub.db` and the extra env: postgres with the password from our Secret, else SQLite."""
    if database is None:
        return {"type": "sqlite-pvc"}, {}
    return ({"type": "postgres", "url": database.url},
            {DB_PASSWORD_ENV: {"valueFrom": {"secretKeyRef": {"name": DB_SECRET,
                                                              "key": DB_SECRET_KEY}}}})


def hub_ingress(gateway_namespace: str, monitoring_namespace: str) -> list[dict[str, Any]]:
    """Servers in team namespaces call the hub's API; Prometheus scrapes its metrics."""
    return [
        {"from": [{"namespaceSelector": {"matchExpressions": [
                       {"key": TEAM_NAMESPACE_LABEL, "operator": "Exists"}]},
                   "podSelector": {"matchLabels": dict(SERVER_LABELS)}}],
         "ports": [{"protocol": "TCP", "port": HUB_PORT}]},
        {"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: monitoring_namespace}},
                   "podSelector": {"matchLabels": dict(PROMETHEUS_PODS)}}],
         "ports": [{"protocol": "TCP", "port": HUB_PORT}]},
    ]


def proxy_ingress(gateway_namespace: str) -> list[dict[str, Any]]:
    """Only the platform Gateway's proxies reach the public port."""
    return [{"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: gateway_namespace}}}],
             "ports": [{"protocol": "TCP", "port": PROXY_PORT}]}]


def chart_values(*, idle_timeout_seconds: int, max_age_seconds: int, image: str, home_size: str,
                 storage_class: str, idp_cidrs: Sequence[str], api_server_cidrs: Sequence[str],
                 gateway_namespace: str, monitoring_namespace: str,
                 database: HubDatabase | None = None) -> dict[str, Any]:
    """Values of the `jupyterhub` chart: the hub with the mounted module and its database
    (`database`: PostgreSQL, else the chart's SQLite on a volume), the proxy behind the
    Gateway (ClusterIP), idle culling, no chart-side scheduler, pre-puller or placeholders."""
    db, db_env = _db_values(database)
    return {
        "hub": {
            # Admins may start and stop anyone's server, never open it: a team's notebooks
            # hold its data (confidential included).
            "config": {"JupyterHub": {"admin_access": False}},
            "extraConfig": {"hybridml": EXTRA_CONFIG},
            "db": db,
            "extraEnv": {CLIENT_SECRET_ENV: {"valueFrom": {"secretKeyRef": {
                "name": OIDC_SECRET, "key": OIDC_SECRET_KEY}}}, **db_env},
            "extraVolumes": [{"name": "hybridml", "configMap": {"name": HUB_CONFIGMAP}}],
            "extraVolumeMounts": [{"name": "hybridml", "mountPath": MOUNT_PATH, "readOnly": True}],
            # Prometheus scrapes /hub/metrics without a token; only its namespace reaches the port.
            "authenticatePrometheus": False,
            "resources": container_resources("250m", "512Mi", "1", "1Gi"),
            "podSecurityContext": {**_POD_SECURITY, "fsGroup": 1000},
            "containerSecurityContext": {**_CONTAINER_SECURITY, "runAsUser": 1000,
                                         "runAsGroup": 1000, "readOnlyRootFilesystem": False},
            "networkPolicy": {"enabled": True, "egressAllowRules": dict(_ONLY_DNS),
                              "egress": hub_egress(idp_cidrs, api_server_cidrs, database),
                              "ingress": hub_ingress(gateway_namespace, monitoring_namespace),
                              "interNamespaceAccessLabels": "ignore"},
        },
        "proxy": {
            "service": {"type": "ClusterIP"},
            "chp": {
                "resources": container_resources("100m", "256Mi", "500m", "512Mi"),
                "containerSecurityContext": {**_CONTAINER_SECURITY, "runAsUser": 65534,
                                             "runAsGroup": 65534},
                "extraPodSpec": {"securityContext": dict(_POD_SECURITY)},
                "networkPolicy": {"enabled": True, "egressAllowRules": dict(_ONLY_DNS),
                                  "egress": [_team_servers(NOTEBOOK_PORT)],
                                  "ingress": proxy_ingress(gateway_namespace),
                                  "allowedIngressPorts": [],
                                  "interNamespaceAccessLabels": "ignore"},
            },
        },
        "singleuser": {
            "image": {"name": image.rsplit(":", 1)[0], "tag": image.rsplit(":", 1)[1]}
            if ":" in image.rsplit("/", 1)[-1] and "@" not in image else {"name": image},
            # Servers run in team namespaces under their own default-deny policies; the chart's
            # (for the hub namespace) and its privileged iptables init container are not needed.
            "networkPolicy": {"enabled": False},
            "cloudMetadata": {"blockWithIptables": False},
            "storage": {"type": "dynamic", "capacity": home_size,
                        "dynamic": {"storageClass": storage_class}},
            "extraLabels": dict(SERVER_LABELS),
        },
        "scheduling": {"userScheduler": {"enabled": False}, "userPlaceholder": {"enabled": False},
                       "podPriority": {"enabled": False}},
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        "cull": {"enabled": True, "users": False, "timeout": idle_timeout_seconds,
                 "every": 300, "maxAge": max_age_seconds},
    }
