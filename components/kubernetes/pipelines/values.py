"""The Airflow chart's values, purely: no secret ever appears here (the chart reads every
secret from Kubernetes Secrets the component makes), so the values may sit in the plan."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.kubernetes import gateway

#: Secret with key `connection`: the metadata database URL (chart `data.metadataSecretName`).
METADATA_SECRET = "airflow-metadata"
#: Secret of environment values: OIDC client secret, git and log-store connections.
ENV_SECRET = "airflow-platform-env"
#: Secret of the remote sites' Kubernetes connections.
SITES_SECRET = "airflow-site-connections"
#: ConfigMap holding `hybridml_sites.py` and `sites.json`, mounted into the plugins folder.
SITES_CONFIGMAP = "hybridml-sites"
PLUGINS_DIR = "/opt/airflow/plugins"
#: The FAB auth manager (Airflow 3's auth manager with OAuth and roles).
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
#: The Airflow the chart runs (its default is older): the version the DAG tests parse with.
AIRFLOW_VERSION = "3.3.2"
#: The chart's StatsD exporter: its Service's labels and scrape port name (Prometheus scrapes it).
STATSD_LABELS = {"tier": "airflow", "component": "statsd", "release": "airflow"}
STATSD_SCRAPE_PORT = "statsd-scrape"
#: The chart's API server Service (UI and REST API) and its port.
API_SERVER_SERVICE = "airflow-api-server"
API_SERVER_PORT = 8080


def env_from_secret(names: Sequence[str], secret: str = ENV_SECRET) -> list[dict[str, str]]:
    """The chart's `secret` list: each env var read from `secret`'s key of the same name."""
    return [{"envName": n, "secretName": secret, "secretKey": n} for n in names]


def airflow_values(
    *,
    namespace: str,
    bundles: Sequence[Mapping[str, Any]],
    remote_log_folder: str,
    remote_log_conn_id: str | None,
    api_server_config: str,
    env_secret_keys: Sequence[str],
    service_account_annotations: Mapping[str, str],
    labels: Mapping[str, str],
    custom_roles: Mapping[str, Any],
    base_url: str = "",
    site_secret_keys: Sequence[str] = (),
) -> dict[str, Any]:
    """Values of the official chart: KubernetesExecutor (its worker pods here; the Jobs they
    launch go to the teams' namespaces),
    the external metadata database (bundled PostgreSQL, PgBouncer and Redis off), DAG bundles
    instead of git-sync, remote task logs, FAB OAuth sign-in and the StatsD exporter."""
    logging: dict[str, Any] = {"remote_logging": "True", "remote_base_log_folder": remote_log_folder}
    if remote_log_conn_id:
        logging["remote_log_conn_id"] = remote_log_conn_id
    sa = {"annotations": dict(service_account_annotations)}
    mount = {"name": "hybridml-sites", "mountPath": f"{PLUGINS_DIR}/hybridml", "readOnly": True}
    volume = {"name": "hybridml-sites", "configMap": {"name": SITES_CONFIGMAP}}
    return {
        "airflowVersion": AIRFLOW_VERSION,
        "defaultAirflowTag": AIRFLOW_VERSION,
        "executor": "KubernetesExecutor",
        "labels": dict(labels),
        "postgresql": {"enabled": False},
        "pgbouncer": {"enabled": False},
        "redis": {"enabled": False},
        "data": {"metadataSecretName": METADATA_SECRET},
        "createUserJob": {"enabled": False},  # users come from the IdP
        # The namespace enforces Pod Security `restricted`: every component of the chart.
        "securityContexts": {
            "pod": {"runAsNonRoot": True, "runAsUser": 50000, "runAsGroup": 0, "fsGroup": 0,
                    "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        },
        "dags": {"persistence": {"enabled": False}, "gitSync": {"enabled": False}},
        "logs": {"persistence": {"enabled": False}},
        "statsd": {"enabled": True},
        # Worker pods run here; the task Jobs they launch in team namespaces are allowed there
        # by RoleBindings of the ClusterRole `airflow-tasks` (remote.py), never cluster-wide.
        "multiNamespaceMode": False,
        "secret": env_from_secret(env_secret_keys) + env_from_secret(site_secret_keys, SITES_SECRET),
        "volumes": [volume],
        "volumeMounts": [mount],
        "env": [{"name": "HYBRIDML_SITES_FILE", "value": f"{PLUGINS_DIR}/hybridml/sites.json"},
                {"name": "PYTHONPATH", "value": f"{PLUGINS_DIR}/hybridml"}],
        "apiServer": {"apiServerConfig": api_server_config, "serviceAccount": sa},
        "scheduler": {"serviceAccount": sa},
        "dagProcessor": {"enabled": True, "serviceAccount": sa},
        "triggerer": {"serviceAccount": sa},
        "workers": {"serviceAccount": sa},
        "config": {
            "core": {"auth_manager": FAB_AUTH_MANAGER, "load_examples": "False"},
            "api": {"base_url": base_url, "enable_proxy_fix": "True"},
            "dag_processor": {"dag_bundle_config_list": json.dumps(list(bundles))},
            "logging": logging,
            "kubernetes_executor": {"namespace": namespace},
            "metrics": {"statsd_on": "True"},
            "fab": {"custom_roles": json.dumps(dict(custom_roles)), "update_fab_perms": "True"},
        },
    }


def http_route_spec(hostname: str) -> dict[str, Any]:
    """The UI and API at `hostname` on the platform Gateway's https listener (TLS there);
    Airflow signs users in itself (FAB OAuth)."""
    return gateway.https_route_spec(hostname, API_SERVER_SERVICE, API_SERVER_PORT)


def statsd_monitor_spec(namespace: str) -> dict[str, Any]:
    """Prometheus scrapes the chart's StatsD exporter (scheduler, executor, DAG processing
    metrics) every 30 s."""
    return {"selector": {"matchLabels": dict(STATSD_LABELS)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": STATSD_SCRAPE_PORT, "interval": "30s"}]}
