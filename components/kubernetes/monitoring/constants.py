"""Names, ports and labels of the monitoring stack: the facts every part of it (values,
NetworkPolicies, monitors, central routes) and its callers agree on."""

from __future__ import annotations

from decimal import Decimal

CHART = "kube-prometheus-stack"
NAMESPACE = "monitoring"
#: node-exporter's namespace: PSA privileged (host network and PID), no default-deny.
HOST_NAMESPACE = "monitoring-host"
#: fullnameOverride of the release, so every object name below is fixed and known.
FULLNAME = "kps"
PROMETHEUS_SERVICE = f"{FULLNAME}-prometheus"
PROMETHEUS_PORT = 9090
GRAFANA_SERVICE = "grafana"
GRAFANA_PORT = 80
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
REMOTE_WRITE_PATH = "/api/v1/write"
REMOTE_WRITE_AUTH_SECRET = "remote-write-auth"
REMOTE_WRITE_CA_SECRET = "remote-write-ca"
HTPASSWD_SECRET = "remote-write-htpasswd"
SECURITY_POLICY = "remote-write-basic-auth"
RULES = "platform-alerts"
#: Central Prometheus replicas: an HA pair, each receiving every sample every sender writes.
CENTRAL_REPLICAS = 2
#: Central Alertmanager: a gossiping pair; its volume holds silences and the notification log.
ALERTMANAGER_REPLICAS = 2
ALERTMANAGER_STORAGE = "2Gi"
#: The operator's admission webhook listens here (chart `prometheusOperator.tls.internalPort`).
WEBHOOK_PORT = 10250
#: The scrape class applied to every monitor that names none.
SCRAPE_CLASS = "platform"
#: Labels of the Prometheus pods (set by the Prometheus Operator).
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
#: Prometheus keeps this share of its volume for blocks; the rest is WAL and compaction headroom.
RETENTION_SIZE_SHARE = Decimal("0.8")
#: GKE's managed DCGM exporter (a DaemonSet GKE installs and reconciles).
GKE_DCGM_NAMESPACE = "gke-managed-system"
GKE_DCGM_LABELS = {"app.kubernetes.io/name": "gke-managed-dcgm-exporter"}
#: The GPU operator's DCGM exporter Service.
DCGM_LABELS = {"app": "nvidia-dcgm-exporter"}
DCGM_PORT = "gpu-metrics"
#: cert-manager v1.19's controller metrics Service port (renamed `http-metrics` in v1.21).
CERT_MANAGER_METRICS_PORT = "tcp-prometheus-servicemonitor"
#: Envoy proxies deployed by Envoy Gateway expose `/stats/prometheus` on this named port (19001).
ENVOY_PROXY_LABELS = {
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
}
#: Only the Envoy stat families the platform reads (Envoy exports thousands per cluster).
ENVOY_KEEP = (r"envoy_(cluster_upstream_rq.*|cluster_upstream_cx_(active|connect_fail|total)"
              r"|cluster_membership_(healthy|total)|http_downstream_rq.*"
              r"|server_(live|uptime|memory_allocated))")
#: Pod ports Prometheus scrapes, in any namespace (its only egress to pods outside
#: `monitoring`); a new exporter on another port needs its port here (else `TargetDown`).
SCRAPE_PORTS: dict[int, str] = {
    8080: "kube-state-metrics; Prometheus/Alertmanager config reloaders; Strimzi operators",
    10250: "the Prometheus Operator (https)",
    9090: "Prometheus",
    9093: "Alertmanager",
    3000: "Grafana",
    9153: "CoreDNS",
    9402: "cert-manager",
    19001: "Envoy Gateway proxies (/stats/prometheus)",
    9400: "DCGM exporters (GPU operator; GKE managed)",
    9404: "Strimzi Kafka brokers (JMX exporter), Kafka Exporter, MirrorMaker 2",
    5000: "MLflow tracking servers (--expose-prometheus)",
    8082: "MLServer model servers",
    9187: "CloudNativePG instances",
}
#: Pods that talk to the API server, by label: the operator and its webhook-certificate Jobs
#: (chart label `app`), Prometheus (service discovery), kube-state-metrics, Grafana's sidecars.
API_CLIENTS_BY_APP = ("kube-prometheus-stack-operator", "kube-prometheus-stack-admission-create",
                      "kube-prometheus-stack-admission-patch")
API_CLIENTS_BY_NAME = ("prometheus", "kube-state-metrics", "grafana")
#: The operator's pods (chart label), which also serve its admission webhook.
OPERATOR_POD_LABELS = {"app": "kube-prometheus-stack-operator"}
#: Labels of the Alertmanager pods (set by the Prometheus Operator).
ALERTMANAGER_POD_LABELS = {"app.kubernetes.io/name": "alertmanager"}
#: AlertmanagerConfig (and its Secret) routing the platform's alerts to the configured receiver.
ALERT_ROUTING = "platform-alerts"
ALERT_RECEIVER_SECRET = "alert-receiver"
ALERT_RECEIVER = "platform"
#: How often a still-firing alert is sent again, by severity.
REPEAT_INTERVAL = {"critical": "1h", "warning": "12h"}
#: Alertmanager processes the AlertmanagerConfigs of its own namespace for every alert (any
#: other namespace's only for alerts labelled with that namespace; operator v0.84+).
MATCHER_STRATEGY = "OnNamespaceExceptForAlertmanagerNamespace"
#: Everything that is not the public internet, cut out of the public-HTTPS egress rule.
NON_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
#: Node ports Prometheus scrapes on every node: kubelet (cAdvisor, probes) and node-exporter.
NODE_METRICS_PORTS = (10250, 9100)
#: On-prem control-plane metrics ports: controller manager, scheduler, etcd, kube-proxy.
CONTROL_PLANE_PORTS = (10257, 10259, 2381, 10249)
#: The API server: 443 on the managed clouds (and its Service), 6443 on kubeadm clusters.
API_PORTS = (443, 6443)
#: apiVersions of the custom resources the component creates.
