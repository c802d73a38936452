"""Monitoring on one cluster: kube-prometheus-stack, the platform's scrape targets, and either
the central Prometheus/Alertmanager/Grafana or the remote write into it.

Every cluster runs the pinned kube-prometheus-stack release in the `monitoring` platform
namespace (Pod Security restricted); node-exporter, which needs the host's network and PID
namespaces, runs in its own privileged add-on namespace `monitoring-host`. Prometheus selects
every ServiceMonitor, PodMonitor, Probe, ScrapeConfig and PrometheusRule in the cluster, and a
default scrape class puts `cluster` and `site` on every scraped series (the same pair is the
Prometheus' external labels). Cloud clusters skip the control-plane targets the cloud hides.

One cluster is central: two Prometheus replicas with the remote-write receiver (each replica
reachable through the cluster's `platform` Gateway at `prometheus-<i>.<cluster>.<domain>`, so
every sender writes every sample to both), Alertmanager (two replicas), Grafana (admin password
generated, in a Secret), the platform's alert rules and the dashboards shipped as code. Every
other cluster keeps a short local retention and remote-writes to each central replica over the
VPN, authenticating with its own generated password (basic auth, checked by an Envoy Gateway
SecurityPolicy on the central routes) and trusting the platform root CA.

Alerting: Alertmanager runs the chart's default route (to nothing) plus, when a receiver is
configured, an AlertmanagerConfig in `monitoring` that sends every critical and warning alert of
every namespace to it (matcher strategy `OnNamespaceExceptForAlertmanagerNamespace`: configs in
the Alertmanager's own namespace see all alerts; any other namespace's stay scoped to it). The
receiver URL lives in a Secret, never in Helm values.

Grafana keeps no state: one replica, no volume, its SQLite database in the pod. Dashboards
(ConfigMaps) and the admin user (a Secret) come from code; anything made in the UI (dashboards,
users, API keys, preferences) is lost when the pod restarts. Change the JSON files instead.

Layout: `constants` (names, ports, labels), `args` (the validated arguments), `values` (Helm
values, one pure function per concern), `network_policies`, `monitors` (scrape targets),
`credentials` (passwords, htpasswd, basic auth), `central` (routes, rules, dashboards),
`alerting` (Alertmanager routing) and `component` (ClusterMonitoring, a table of contents
over those builders). The names below are the package's public interface.
"""

from components.kubernetes.monitoring.alerting import alert_routing_spec
from components.kubernetes.monitoring.args import (
    AlertingArgs,
    CentralArgs,
    ClusterMonitoringArgs,
    RemoteWriteArgs,
    Site,
    remote_write_urls,
)
from components.kubernetes.monitoring.component import ClusterMonitoring
from components.kubernetes.monitoring.constants import (
    ALERT_RECEIVER,
    ALERT_RECEIVER_SECRET,
    ALERT_ROUTING,
    ALERTMANAGER_POD_LABELS,
    ALERTMANAGER_REPLICAS,
    ALERTMANAGER_STORAGE,
    API_CLIENTS_BY_APP,
    API_CLIENTS_BY_NAME,
    API_PORTS,
    CENTRAL_REPLICAS,
    CERT_MANAGER_METRICS_PORT,
    CHART,
    CONTROL_PLANE_PORTS,
    DCGM_LABELS,
    DCGM_PORT,
    ENVOY_KEEP,
    ENVOY_PROXY_LABELS,
    FULLNAME,
    GKE_DCGM_LABELS,
    GKE_DCGM_NAMESPACE,
    GRAFANA_ADMIN_SECRET,
    GRAFANA_ADMIN_USER,
    GRAFANA_PORT,
    GRAFANA_SERVICE,
    HOST_NAMESPACE,
    HTPASSWD_SECRET,
    MATCHER_STRATEGY,
    NAMESPACE,
    NODE_METRICS_PORTS,
    NON_PUBLIC,
    OPERATOR_POD_LABELS,
    PROMETHEUS_POD_LABELS,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
    REMOTE_WRITE_AUTH_SECRET,
    REMOTE_WRITE_CA_SECRET,
    REMOTE_WRITE_PATH,
    REPEAT_INTERVAL,
    RETENTION_SIZE_SHARE,
    RULES,
    SCRAPE_CLASS,
    SCRAPE_PORTS,
    SECURITY_POLICY,
    WEBHOOK_PORT,
)
from components.kubernetes.monitoring.credentials import htpasswd
from components.kubernetes.monitoring.values import chart_values, retention_size

__all__ = [
    "ALERTMANAGER_POD_LABELS", "ALERTMANAGER_REPLICAS", "ALERTMANAGER_STORAGE", "ALERT_RECEIVER",
    "ALERT_RECEIVER_SECRET", "ALERT_ROUTING", "API_CLIENTS_BY_APP", "API_CLIENTS_BY_NAME",
    "API_PORTS", "CENTRAL_REPLICAS", "CERT_MANAGER_METRICS_PORT", "CHART", "CONTROL_PLANE_PORTS",
    "DCGM_LABELS", "DCGM_PORT", "ENVOY_KEEP", "ENVOY_PROXY_LABELS", "FULLNAME", "GKE_DCGM_LABELS",
    "GKE_DCGM_NAMESPACE", "GRAFANA_ADMIN_SECRET", "GRAFANA_ADMIN_USER", "GRAFANA_PORT",
    "GRAFANA_SERVICE", "HOST_NAMESPACE", "HTPASSWD_SECRET", "MATCHER_STRATEGY", "NAMESPACE",
    "NODE_METRICS_PORTS", "NON_PUBLIC", "OPERATOR_POD_LABELS", "PROMETHEUS_POD_LABELS",
    "PROMETHEUS_PORT", "PROMETHEUS_SERVICE", "REMOTE_WRITE_AUTH_SECRET", "REMOTE_WRITE_CA_SECRET",
    "REMOTE_WRITE_PATH", "REPEAT_INTERVAL", "RETENTION_SIZE_SHARE", "RULES", "SCRAPE_CLASS",
    "SCRAPE_PORTS", "SECURITY_POLICY", "WEBHOOK_PORT", "AlertingArgs", "CentralArgs",
    "ClusterMonitoring", "ClusterMonitoringArgs", "RemoteWriteArgs", "Site", "alert_routing_spec",
    "chart_values", "htpasswd", "remote_write_urls", "retention_size",
]
