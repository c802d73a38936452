"""The server's pods: container, environment, volumes, host check, spread and the Deployment spec.

Pure builders (no resources): the values that go into the Deployment and, for what the
migration and workspace Jobs share with the servers, into their pod templates.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from components.inputs import StrInput
from components.kubernetes import mlflow_auth
from components.kubernetes.mlflow.args import ArtifactTarget, TrackingServerArgs
from components.kubernetes.mlflow.names import (
    APP,
    ARTIFACT_CREDENTIALS_SECRET,
    ARTIFACT_KEY_NAMES,
    AUTH_ADMIN_PASSWORD_KEY,
    AUTH_CSRF_KEY,
    AUTH_SECRET,
    BACKEND_ENV,
    BACKEND_SECRET,
    CA_CONFIGMAP,
    PLUGIN_CONFIGMAP,
    PORT,
    SERVER_LABELS,
    SERVICE_ACCOUNT,
    TEAMS_CONFIGMAP,
)
from components.kubernetes.objects import object_labels
from components.tags import StandardTags

#: Where `--expose-prometheus` keeps its multiprocess metric files (an emptyDir).
METRICS_DIR = "/mlflow-metrics"
#: Numeric non-root user: the official image has no user of its own (it runs as root).
RUN_AS_USER = 10001
#: Size of the `/tmp` emptyDir where proxied artifacts are spooled (see the package docstring).
TMP_SIZE_LIMIT = "20Gi"
#: Seconds a terminating replica keeps serving before shutdown starts (its endpoint removal
#: has to reach every Envoy proxy first), and the whole grace period (in-flight transfers).
PRE_STOP_SLEEP_SECONDS = 15
TERMINATION_GRACE_SECONDS = 600
#: The private-range Host patterns MLflow 3.x allows when `--allowed-hosts` is not given
#: (`mlflow/server/security_utils.py::get_private_ip_patterns`, IPv4 part). Giving
#: `--allowed-hosts` replaces MLflow's defaults, so they are named again: Prometheus scrapes
#: /metrics with the pod IP as Host, and on-prem the pod range is not in the config.
MLFLOW_PRIVATE_HOST_PATTERNS = ("10.*", *(f"172.{i}.*" for i in range(16, 32)), "192.168.*")
#: Where the on-prem object store's private CA is mounted.
CA_DIR = "/etc/mlflow/ca"
#: The mounted team mapping and auth config files (components/kubernetes/mlflow_auth.py).
MAPPING_PATH = f"{mlflow_auth.MAPPING_DIR}/{mlflow_auth.MAPPING_FILE}"
AUTH_CONFIG_PATH = f"{mlflow_auth.AUTH_CONFIG_DIR}/{mlflow_auth.AUTH_CONFIG_FILE}"
#: Pod and container security of the servers and the Jobs alike (restricted Pod Security).
POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True, "runAsUser": RUN_AS_USER, "runAsGroup": RUN_AS_USER,
    "fsGroup": RUN_AS_USER, "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
}


def plain_env(values: dict[str, str]) -> list[dict[str, str]]:
    """Container `env` entries with literal values."""
    return [{"name": k, "value": v} for k, v in values.items()]


def database_env() -> list[dict[str, Any]]:
    """What every pod that opens the database gets: its URI from the Secret, and a HOME."""
    return [
        {"name": BACKEND_ENV,
         "valueFrom": {"secretKeyRef": {"name": BACKEND_SECRET, "key": BACKEND_ENV}}},
        # Read-only root: Python libraries and MLflow write caches under HOME.
        {"name": "HOME", "value": "/tmp"},
    ]


def auth_volumes() -> list[dict[str, Any]]:
    """The authorization function, the team mapping and MLflow's auth config."""
    return [
        {"name": "auth-plugin", "configMap": {"name": PLUGIN_CONFIGMAP}},
        {"name": "teams", "configMap": {"name": TEAMS_CONFIGMAP}},
        {"name": "auth-config", "secret": {
            "secretName": AUTH_SECRET, "defaultMode": 0o440,
            "items": [{"key": mlflow_auth.AUTH_CONFIG_FILE, "path": mlflow_auth.AUTH_CONFIG_FILE}]}},
    ]


def auth_mounts() -> list[dict[str, Any]]:
    """Where `auth_volumes` are mounted (read-only)."""
    return [
        {"name": "auth-plugin", "mountPath": mlflow_auth.PLUGIN_DIR, "readOnly": True},
        {"name": "teams", "mountPath": mlflow_auth.MAPPING_DIR, "readOnly": True},
        {"name": "auth-config", "mountPath": mlflow_auth.AUTH_CONFIG_DIR, "readOnly": True},
    ]


def _has_ca(artifacts: ArtifactTarget) -> bool:
    return artifacts.kind == "s3-compatible" and bool(artifacts.ca_certificate)


def server_env(artifacts: ArtifactTarget) -> list[dict[str, Any]]:
    """The server container's environment: the database, MLflow's auth (secrets by reference
    only) and, per store, its region, endpoint, key pair and CA bundle."""
    env: list[dict[str, Any]] = [
        *database_env(),
        *plain_env(mlflow_auth.server_env(AUTH_CONFIG_PATH, mlflow_auth.PLUGIN_DIR, MAPPING_PATH)),
        {"name": "MLFLOW_AUTH_ADMIN_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": AUTH_ADMIN_PASSWORD_KEY}}},
        # One CSRF key for every worker of every replica (the auth app's requirement).
        {"name": "MLFLOW_FLASK_SERVER_SECRET_KEY",
         "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": AUTH_CSRF_KEY}}},
    ]
    if artifacts.region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": artifacts.region})
    if artifacts.kind == "s3-compatible":
        # On-prem only: the object store has no workload identity (see the package docstring).
        env.append({"name": "MLFLOW_S3_ENDPOINT_URL", "value": artifacts.endpoint_url})
        env += [{"name": key,
                 "valueFrom": {"secretKeyRef": {"name": ARTIFACT_CREDENTIALS_SECRET, "key": key}}}
                for key in ARTIFACT_KEY_NAMES]
    if _has_ca(artifacts):
        env.append({"name": "AWS_CA_BUNDLE", "value": f"{CA_DIR}/ca.crt"})
    return env


def server_volumes(artifacts: ArtifactTarget) -> list[dict[str, Any]]:
    """The server pod's volumes: the artifact spool, metrics, auth, and a private CA."""
    volumes: list[dict[str, Any]] = [
        # Proxied artifacts are spooled here whole (see the package docstring).
        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
        {"name": "metrics", "emptyDir": {"sizeLimit": "256Mi"}},
        *auth_volumes(),
    ]
    if _has_ca(artifacts):
        volumes.append({"name": "object-store-ca", "configMap": {"name": CA_CONFIGMAP}})
    return volumes


def server_mounts(artifacts: ArtifactTarget) -> list[dict[str, Any]]:
    """Where `server_volumes` are mounted in the server container."""
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"}, {"name": "metrics", "mountPath": METRICS_DIR},
        *auth_mounts(),
    ]
    if _has_ca(artifacts):
        mounts.append({"name": "object-store-ca", "mountPath": CA_DIR, "readOnly": True})
    return mounts


def host_patterns(cidrs: Sequence[str]) -> list[str]:
    """`--allowed-hosts` wildcard patterns covering `cidrs`, widened to whole octets (10.64.0.0/18
    -> 10.64.*). MLflow matches every pattern with `fnmatch` against the whole Host header, so
    `10.64.*` also admits a name that starts with `10.64.`; MLflow's own defaults
    (`MLFLOW_PRIVATE_HOST_PATTERNS`) make the same trade. Such a request still has to reach a
    pod, which only the Gateway (behind its sign-on), the namespace's own pods, monitoring and
    the listed client namespaces can."""
    out: list[str] = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=True)
        octets = max(1, min(3, net.prefixlen // 8))
        head = ".".join(str(net.network_address).split(".")[:octets])
        out.append(f"{head}.*")
    return list(dict.fromkeys(out))


def allowed_hosts(hostname: str, namespace: str, pod_cidrs: Sequence[str]) -> list[str]:
    """MLflow's DNS-rebinding check (`--allowed-hosts`): the Gateway hostname, the Service
    names, localhost and private (pod) IPs, each once."""
    hosts = [
        hostname, f"{hostname}:443",
        f"{APP}.{namespace}.svc", f"{APP}.{namespace}.svc:{PORT}",
        f"{APP}.{namespace}.svc.cluster.local", f"{APP}.{namespace}.svc.cluster.local:{PORT}",
        "localhost", f"localhost:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT}",
        *host_patterns(pod_cidrs),
    ]
    # Scrapes by pod IP must pass wherever the pods' range is (e.g. an on-prem pod range
    # that is not in the config): MLflow's own private-range defaults, always.
    return list(dict.fromkeys([*hosts, *MLFLOW_PRIVATE_HOST_PATTERNS]))


def server_args(args: TrackingServerArgs, artifacts_uri: StrInput) -> list[StrInput]:
    """`mlflow server ...`: auth and workspaces, proxied artifacts, workers, metrics, host check."""
    return [
        "server",
        *mlflow_auth.SERVER_FLAGS,
        "--artifacts-destination", artifacts_uri,
        "--serve-artifacts",
        "--host", "0.0.0.0",
        "--port", str(PORT),
        "--workers", str(args.workers),
        "--expose-prometheus", METRICS_DIR,
        "--allowed-hosts", ",".join(allowed_hosts(args.hostname, args.namespace, args.pod_cidrs)),
        "--cors-allowed-origins", f"https://{args.hostname}",
    ]


def topology_spread(zone_spread: str) -> list[dict[str, Any]]:
    """Spread replicas: over nodes always; over zones as hard as the site allows."""
    return [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "DoNotSchedule" if zone_spread == "required" else "ScheduleAnyway",
         "labelSelector": {"matchLabels": SERVER_LABELS}, "matchLabelKeys": ["pod-template-hash"]},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": SERVER_LABELS}, "matchLabelKeys": ["pod-template-hash"]},
    ]


def server_container(args: TrackingServerArgs, artifacts_uri: StrInput) -> dict[str, Any]:
    """The `mlflow server` container: restricted, read-only root, /health probes, preStop pause."""
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
    return {
        "name": "mlflow",
        "image": args.image,
        "command": ["mlflow"],
        "args": server_args(args, artifacts_uri),
        "env": server_env(args.artifacts),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": args.resources.spec(),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": server_mounts(args.artifacts),
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3},
        # Keep serving until the endpoint is gone from every proxy; only
        # then does SIGTERM stop the server from accepting.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
    }


def deployment_spec(args: TrackingServerArgs, artifacts_uri: StrInput) -> dict[str, Any]:
    """The Deployment: `replicas` spread over zones and nodes, rolling with maxUnavailable 0,
    a 10-minute grace period for in-flight transfers."""
    return {
        "replicas": args.replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": SERVER_LABELS},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": {**object_labels(args.tags), **SERVER_LABELS, **args.pod_labels},
                         # New authorization code rolls the servers; a new mapping
                         # does not need to (it is re-read from the mounted file).
                         "annotations": {"hybridml.io/auth-plugin": mlflow_auth.plugin_checksum()}},
            "spec": {
                "serviceAccountName": SERVICE_ACCOUNT,
                "automountServiceAccountToken": False,
                # Service links would inject MLFLOW_PORT=tcp://..., an MLflow CLI variable.
                "enableServiceLinks": False,
                # In-flight artifact transfers finish (see the package docstring).
                "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                "securityContext": POD_SECURITY,
                "topologySpreadConstraints": topology_spread(args.zone_spread),
                "containers": [server_container(args, artifacts_uri)],
                "volumes": server_volumes(args.artifacts),
            },
        },
    }


def disruption_budget_spec() -> dict[str, Any]:
    """At least one replica stays through voluntary disruptions (drains, rollouts)."""
    return {"minAvailable": 1, "selector": {"matchLabels": SERVER_LABELS}}


def server_labels(tags: StandardTags) -> dict[str, str]:
    """Labels of the server's objects: the standard tags and the server's own."""
    return {**object_labels(tags), **SERVER_LABELS}
