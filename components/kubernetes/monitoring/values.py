"""kube-prometheus-stack Helm values, one pure function per concern: Prometheus (local or
central, with its remote write), the operator and exporters, the scrape targets a cluster has,
the chart's default rules, Alertmanager and Grafana. No value holds a secret: credentials are
named by Secret, never inlined."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.charts import container_resources
from components.kubernetes.dashboards import DASHBOARD_LABEL, FOLDER_ANNOTATION
from components.kubernetes.monitoring.args import (
    CentralArgs,
    ClusterMonitoringArgs,
    RemoteWriteArgs,
)
from components.kubernetes.monitoring.constants import (
    FULLNAME,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_SERVICE,
    HOST_NAMESPACE,
    MATCHER_STRATEGY,
    NAMESPACE,
    REMOTE_WRITE_AUTH_SECRET,
    REMOTE_WRITE_CA_SECRET,
    RETENTION_SIZE_SHARE,
    SCRAPE_CLASS,
)
from components.kubernetes.objects import quantity


def retention_size(storage: str) -> str:
    """Prometheus `retentionSize` for a volume of `storage` (a quantity): whole GiB, as `<n>GB`
    (Prometheus' byte units are powers of 1024)."""
    gib = int(quantity(storage) * RETENTION_SIZE_SHARE / (Decimal(2) ** 30))
    if gib < 1:
        raise ValueError(f"storage {storage} is too small for Prometheus (at least 2Gi)")
    return f"{gib}GB"


def volume_claim(storage: str) -> dict[str, Any]:
    """A `storage` spec of the operator's CRDs: one ReadWriteOnce volume of the platform's
    storage class per replica."""
    return {"volumeClaimTemplate": {"spec": {
        "storageClassName": STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }}}


def scrape_class(cluster: str, site: str) -> dict[str, Any]:
    """The default scrape class: `cluster` and `site` on every series scraped here."""
    # Target relabelings: every series scraped here carries the pair, so the central
    # Prometheus (and Grafana on it) tells the sites apart even for its own cluster's series.
    return {
        "name": SCRAPE_CLASS,
        "default": True,
        "relabelings": [
            {"action": "replace", "targetLabel": "cluster", "replacement": cluster},
            {"action": "replace", "targetLabel": "site", "replacement": site},
        ],
    }


def remote_write_targets(rw: RemoteWriteArgs) -> list[dict[str, Any]]:
    """`prometheusSpec.remoteWrite`: every central replica, with this cluster's basic auth
    (from its Secret) and, when a CA is given, trusting it."""
    tls: dict[str, Any] = {}
    if rw.ca_pem is not None:
        tls = {"tlsConfig": {"ca": {"secret": {"name": REMOTE_WRITE_CA_SECRET,
                                               "key": "ca.crt"}}}}
    return [
        {
            "name": f"central-{i}",
            "url": url,
            "basicAuth": {
                "username": {"name": REMOTE_WRITE_AUTH_SECRET, "key": "username"},
                "password": {"name": REMOTE_WRITE_AUTH_SECRET, "key": "password"},
            },
            **tls,
        }
        for i, url in enumerate(rw.urls)
    ]


def prometheus_values(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """`prometheus`: the central HA pair receiving remote writes, or one local replica with
    a short retention writing to every central replica."""
    central = args.central
    storage = central.storage if central else args.storage
    spec: dict[str, Any] = {
        "replicas": central.replicas if central else 1,
        "retention": central.retention if central else args.retention,
        "retentionSize": retention_size(storage),
        "externalLabels": {"cluster": args.cluster_name, "site": args.site},
        "scrapeClasses": [scrape_class(args.cluster_name, args.site)],
        # Select every monitor and rule in every namespace, whoever created it.
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "probeSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False,
        "scrapeConfigSelectorNilUsesHelmValues": False,
        "serviceMonitorSelector": {},
        "serviceMonitorNamespaceSelector": {},
        "podMonitorSelector": {},
        "podMonitorNamespaceSelector": {},
        "probeSelector": {},
        "probeNamespaceSelector": {},
        "ruleSelector": {},
        "ruleNamespaceSelector": {},
        "scrapeConfigSelector": {},
        "scrapeConfigNamespaceSelector": {},
        "storageSpec": volume_claim(storage),
        "resources": (container_resources("1", "4Gi", "2", "8Gi") if central
                      else container_resources("500m", "2Gi", "1", "4Gi")),
    }
    prometheus: dict[str, Any] = {"prometheusSpec": spec}
    if central is not None:
        spec["enableRemoteWriteReceiver"] = True
        # One Service per replica: each sender writes to every replica, so both hold all series.
        prometheus["servicePerReplica"] = {"enabled": True}
        prometheus["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
    else:
        assert args.remote_write is not None
        spec["remoteWrite"] = remote_write_targets(args.remote_write)
    return prometheus


def operator_values() -> dict[str, Any]:
    """`prometheusOperator`: its resources and those of its reloader and webhook Job."""
    return {
        "resources": container_resources("100m", "128Mi", "500m", "512Mi"),
        "prometheusConfigReloader": {
            "resources": container_resources("10m", "32Mi", "100m", "64Mi")},
        "admissionWebhooks": {"patch": {
            "resources": container_resources("10m", "32Mi", "100m", "128Mi")}},
    }


def kube_state_metrics_values() -> dict[str, Any]:
    return {
        "resources": container_resources("50m", "128Mi", "500m", "512Mi"),
        # The GPU pool of each node, for GPU utilisation per pool (rules, dashboards).
        "metricLabelsAllowlist": ["nodes=[hybridml.io/gpu-pool,hybridml.io/gpu-type]"],
    }


def node_exporter_values() -> dict[str, Any]:
    """`prometheus-node-exporter`: in its own privileged namespace."""
    return {
        "namespaceOverride": HOST_NAMESPACE,
        "resources": container_resources("50m", "32Mi", "250m", "128Mi"),
    }


def scrape_target_values(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """The chart's control-plane and CoreDNS targets: only those the cluster exposes."""
    # The control plane of a managed cluster is not reachable: its targets would stay down.
    control_plane = args.control_plane and args.site == "onprem"
    return {
        "kubeControllerManager": {"enabled": control_plane},
        "kubeScheduler": {"enabled": control_plane},
        "kubeEtcd": {"enabled": control_plane},
        "kubeProxy": {"enabled": control_plane},
        # GKE runs kube-dns (dnsmasq), not CoreDNS: its 9153 target would never answer.
        "coreDns": {"enabled": args.site != "gcp"},
    }


def default_rules_values(central: CentralArgs | None) -> dict[str, Any]:
    """`defaultRules`: none off the central cluster (rules and alerts are evaluated once,
    centrally, over every cluster's series); the control-plane ones only when asked for."""
    if central is None:
        return {"create": False}
    keep = central.control_plane_rules
    return {"create": True, "rules": {
        "etcd": keep, "kubeControllerManager": keep, "kubeProxy": keep,
        "kubeSchedulerAlerting": keep, "kubeSchedulerRecording": keep,
    }}


def alertmanager_values(central: CentralArgs | None) -> dict[str, Any]:
    """`alertmanager`: central only, a replicated pair reading every AlertmanagerConfig of
    its own namespace for every alert."""
    if central is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "alertmanagerSpec": {
            "replicas": central.alertmanager_replicas,
            "storage": volume_claim(central.alertmanager_storage),
            "alertmanagerConfigMatcherStrategy": {"type": MATCHER_STRATEGY},
            "resources": container_resources("50m", "128Mi", "200m", "256Mi"),
        },
    }


def grafana_url(domain: str) -> str:
    """Grafana's public URL on the central cluster's Gateway."""
    return f"https://grafana.{domain}"


def grafana_values(domain: str, central: CentralArgs | None) -> dict[str, Any]:
    """`grafana`: central only; admin from a Secret, dashboards from labelled ConfigMaps of
    the monitoring namespace, no sign-up, no anonymous access, no phoning home."""
    if central is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "fullnameOverride": GRAFANA_SERVICE,
        # The password lives in a Secret the program creates; the chart only names it.
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                  "passwordKey": "admin-password"},
        "resources": container_resources("100m", "256Mi", "1", "1Gi"),
        "testFramework": {"enabled": False},
        "defaultDashboardsEnabled": True,
        "sidecar": {
            "resources": container_resources("20m", "64Mi", "200m", "256Mi"),
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL[0],
                "labelValue": DASHBOARD_LABEL[1],
                "searchNamespace": NAMESPACE,
                # Team dashboards name their folder (`Team <name>`); the rest stay in General.
                "folderAnnotation": FOLDER_ANNOTATION,
                "provider": {"foldersFromFilesStructure": True},
                # A `cluster` variable on the chart's own dashboards too.
                "multicluster": {"global": {"enabled": True}},
            },
        },
        "grafana.ini": {
            "server": {"root_url": grafana_url(domain)},
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
            "users": {"allow_sign_up": False},
            "auth.anonymous": {"enabled": False},
            "security": {"cookie_secure": True, "disable_gravatar": True},
        },
    }


def chart_values(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """kube-prometheus-stack values for this cluster. Holds no secret: credentials are named
    by Secret, never inlined."""
    return {
        "fullnameOverride": FULLNAME,
        "prometheus": prometheus_values(args),
        "prometheusOperator": operator_values(),
        "kube-state-metrics": kube_state_metrics_values(),
        "prometheus-node-exporter": node_exporter_values(),
        **scrape_target_values(args),
        "alertmanager": alertmanager_values(args.central),
        "grafana": grafana_values(args.domain, args.central),
        "defaultRules": default_rules_values(args.central),
    }
