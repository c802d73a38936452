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
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.inputs import StrInput
from components.kubernetes import cert_manager, gateway, gpu_stack
from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.dashboards import DASHBOARD_LABEL, FOLDER_ANNOTATION
from components.kubernetes.objects import (
    add_on_namespace,
    in_namespace,
    network_policy,
    object_labels,
    quantity,
)
from components.tags import StandardTags

Site = Literal["aws", "gcp", "azure", "onprem"]

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
_MON_API = "monitoring.coreos.com/v1"
_MON_ALPHA_API = "monitoring.coreos.com/v1alpha1"
_GW_API = "gateway.networking.k8s.io/v1"
_EG_API = "gateway.envoyproxy.io/v1alpha1"
_DURATION = r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"
_DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


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


def retention_size(storage: str) -> str:
    """Prometheus `retentionSize` for a volume of `storage` (a quantity): whole GiB, as `<n>GB`
    (Prometheus' byte units are powers of 1024)."""
    gib = int(quantity(storage) * RETENTION_SIZE_SHARE / (Decimal(2) ** 30))
    if gib < 1:
        raise ValueError(f"storage {storage} is too small for Prometheus (at least 2Gi)")
    return f"{gib}GB"


def remote_write_urls(central_domain: str, replicas: int) -> list[str]:
    """One remote-write URL per central replica, through the central cluster's Gateway."""
    return [f"https://prometheus-{i}.{central_domain}{REMOTE_WRITE_PATH}" for i in range(replicas)]


class AlertingArgs(BaseModel):
    """Where the central Alertmanager sends the platform's alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    receiver: Literal["webhook", "slack", "msteams"] = Field(
        description="The receiver's kind: webhook (Alertmanager's JSON), slack (incoming "
                    "webhook) or msteams (Teams Workflows webhook, msteamsv2).")
    url: StrInput = Field(description="The receiver's https URL (a secret Output).")
    receiver_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Private ranges of an internal receiver; empty: any public address. "
                    "Alertmanager may reach them on 443 only.")


class CentralArgs(BaseModel):
    """What only the central cluster runs."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    replicas: int = Field(default=CENTRAL_REPLICAS, ge=1, le=5,
                          description="Prometheus replicas (HA pair).")
    retention: str = Field(pattern=_DURATION, description="How long series are kept.")
    storage: str = Field(description="Volume size per Prometheus replica (a quantity).")
    senders: Mapping[str, StrInput] = Field(
        default_factory=dict,
        description="Every cluster that remote-writes here: cluster name (the basic-auth user) "
                    "to its remote-write password (a secret Output).")
    rule_groups: tuple[Mapping[str, Any], ...] = Field(
        description="`spec.groups` of the platform PrometheusRule (see alert_rules).")
    dashboards: Mapping[str, str] = Field(
        description="Grafana dashboard JSON by name; one ConfigMap each.")
    control_plane_rules: bool = Field(
        description="Keep the chart's scheduler/controller-manager/etcd/kube-proxy rules: only "
                    "when some cluster scrapes its control plane (else they alert forever).")
    alertmanager_replicas: int = Field(default=ALERTMANAGER_REPLICAS, ge=1, le=5,
                                       description="Alertmanager replicas.")
    alertmanager_storage: str = Field(default=ALERTMANAGER_STORAGE,
                                      description="Alertmanager volume size.")
    alerting: AlertingArgs | None = Field(
        default=None, description="The alert receiver; None: alerts stay in Alertmanager's UI.")

    @field_validator("storage", "alertmanager_storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value


class RemoteWriteArgs(BaseModel):
    """Where a non-central cluster sends its series."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    central_domain: str = Field(
        pattern=_DNS_NAME,
        description="`<central cluster>.<baseDomain>`: the central Gateway's wildcard domain.")
    replicas: int = Field(ge=1, le=5, description="Central Prometheus replicas (one URL each).")
    central_cidrs: tuple[str, ...] = Field(
        min_length=1, description="Private ranges holding the central Gateway's load balancer.")
    ca_pem: StrInput | None = Field(
        description="PEM of the CA the central Gateway's certificate chains to (the platform "
                    "root); None: the system trust store must already trust it.")

    @property
    def urls(self) -> list[str]:
        return remote_write_urls(self.central_domain, self.replicas)


class ClusterMonitoringArgs(BaseModel):
    """Arguments of ClusterMonitoring."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="The cluster's name: the `cluster` label of its series.")
    site: Site = Field(description="Where the cluster runs: the `site` label of its series.")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    base_domain: str = Field(pattern=_DNS_NAME, description="The platform's DNS domain.")
    retention: str = Field(pattern=_DURATION, description="Local retention (non-central).")
    storage: str = Field(description="Local Prometheus volume size (non-central).")
    gpu_metrics: Literal["none", "operator", "gke-managed"] = Field(
        description="Where DCGM GPU metrics come from: none, the GPU operator's exporter, or "
                    "GKE's managed DCGM exporter.")
    control_plane: bool = Field(
        description="Scrape scheduler, controller manager, etcd and kube-proxy (on-prem only; "
                    "managed clouds hide them).")
    cluster_cidrs: tuple[str, ...] = Field(
        min_length=1,
        description="Private ranges of this cluster's nodes and API server endpoint (kubelet, "
                    "node-exporter and API egress; API server webhook calls in).")
    central: CentralArgs | None = Field(
        default=None, description="Set on the central cluster only.")
    remote_write: RemoteWriteArgs | None = Field(
        default=None, description="Set on every other cluster.")
    depends_on: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(),
        description="What must exist first: the cluster's add-ons (monitoring namespace, "
                    "Gateway, Gateway API and Envoy Gateway CRDs).")

    @field_validator("storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value

    @model_validator(mode="after")
    def _one_role(self) -> ClusterMonitoringArgs:
        if (self.central is None) == (self.remote_write is None):
            raise ValueError("a cluster is either central or remote-writes to it: set exactly "
                             "one of central and remote_write")
        if self.control_plane and self.site != "onprem":
            raise ValueError(f"{self.site} hides its control plane; control_plane is on-prem only")
        if self.gpu_metrics == "gke-managed" and self.site != "gcp":
            raise ValueError("gke-managed GPU metrics exist only on gcp")
        if self.central is not None and self.cluster_name in self.central.senders:
            raise ValueError("the central cluster does not remote-write to itself")
        return self

    @property
    def domain(self) -> str:
        return f"{self.cluster_name}.{self.base_domain}"


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    return container_resources(cpu, memory, cpu_limit, memory_limit)


def _volume(storage: str) -> dict:
    return {"volumeClaimTemplate": {"spec": {
        "storageClassName": STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }}}


def _scrape_class(cluster: str, site: str) -> dict:
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


def chart_values(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """kube-prometheus-stack values for this cluster. Holds no secret: credentials are named
    by Secret, never inlined."""
    central = args.central
    replicas = central.replicas if central else 1
    storage = central.storage if central else args.storage
    spec: dict[str, Any] = {
        "replicas": replicas,
        "retention": central.retention if central else args.retention,
        "retentionSize": retention_size(storage),
        "externalLabels": {"cluster": args.cluster_name, "site": args.site},
        "scrapeClasses": [_scrape_class(args.cluster_name, args.site)],
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
        "storageSpec": _volume(storage),
        "resources": (_resources("1", "4Gi", "2", "8Gi") if central
                      else _resources("500m", "2Gi", "1", "4Gi")),
    }
    prometheus: dict[str, Any] = {"prometheusSpec": spec}
    if central is not None:
        spec["enableRemoteWriteReceiver"] = True
        # One Service per replica: each sender writes to every replica, so both hold all series.
        prometheus["servicePerReplica"] = {"enabled": True}
        prometheus["podDisruptionBudget"] = {"enabled": True, "minAvailable": 1}
    else:
        rw = args.remote_write
        assert rw is not None
        tls: dict[str, Any] = {}
        if rw.ca_pem is not None:
            tls = {"tlsConfig": {"ca": {"secret": {"name": REMOTE_WRITE_CA_SECRET,
                                                   "key": "ca.crt"}}}}
        spec["remoteWrite"] = [
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

    cloud = args.site != "onprem"
    scrape_control_plane = args.control_plane and not cloud
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "prometheus": prometheus,
        "prometheusOperator": {
            "resources": _resources("100m", "128Mi", "500m", "512Mi"),
            "prometheusConfigReloader": {"resources": _resources("10m", "32Mi", "100m", "64Mi")},
            "admissionWebhooks": {"patch": {"resources": _resources("10m", "32Mi", "100m",
                                                                     "128Mi")}},
        },
        "kube-state-metrics": {
            "resources": _resources("50m", "128Mi", "500m", "512Mi"),
            # The GPU pool of each node, for GPU utilisation per pool (rules, dashboards).
            "metricLabelsAllowlist": ["nodes=[hybridml.io/gpu-pool,hybridml.io/gpu-type]"],
        },
        "prometheus-node-exporter": {
            "namespaceOverride": HOST_NAMESPACE,
            "resources": _resources("50m", "32Mi", "250m", "128Mi"),
        },
        # The control plane of a managed cluster is not reachable: its targets would stay down.
        "kubeControllerManager": {"enabled": scrape_control_plane},
        "kubeScheduler": {"enabled": scrape_control_plane},
        "kubeEtcd": {"enabled": scrape_control_plane},
        "kubeProxy": {"enabled": scrape_control_plane},
        # GKE runs kube-dns (dnsmasq), not CoreDNS: its 9153 target would never answer.
        "coreDns": {"enabled": args.site != "gcp"},
        "alertmanager": {"enabled": central is not None},
        "grafana": {"enabled": central is not None},
    }
    if central is None:
        # Rules and alerts are evaluated once, centrally, over every cluster's series.
        values["defaultRules"] = {"create": False}
        return values

    rules_off = not central.control_plane_rules
    values["defaultRules"] = {"create": True, "rules": {
        "etcd": not rules_off, "kubeControllerManager": not rules_off,
        "kubeProxy": not rules_off, "kubeSchedulerAlerting": not rules_off,
        "kubeSchedulerRecording": not rules_off,
    }}
    values["alertmanager"] = {
        "enabled": True,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "alertmanagerSpec": {
            "replicas": central.alertmanager_replicas,
            "storage": _volume(central.alertmanager_storage),
            "alertmanagerConfigMatcherStrategy": {"type": MATCHER_STRATEGY},
            "resources": _resources("50m", "128Mi", "200m", "256Mi"),
        },
    }
    values["grafana"] = {
        "enabled": True,
        "fullnameOverride": GRAFANA_SERVICE,
        # The password lives in a Secret the program creates; the chart only names it.
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user",
                  "passwordKey": "admin-password"},
        "resources": _resources("100m", "256Mi", "1", "1Gi"),
        "testFramework": {"enabled": False},
        "defaultDashboardsEnabled": True,
        "sidecar": {
            "resources": _resources("20m", "64Mi", "200m", "256Mi"),
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
            "server": {"root_url": f"https://grafana.{args.domain}"},
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
            "users": {"allow_sign_up": False},
            "auth.anonymous": {"enabled": False},
            "security": {"cookie_secure": True, "disable_gravatar": True},
        },
    }
    return values


class ClusterMonitoring(pulumi.ComponentResource):
    """kube-prometheus-stack on one cluster, central or remote-writing to the central one.

    Creates: the `monitoring-host` namespace (node-exporter), the pinned release, the platform's
    ServiceMonitors/PodMonitors (cert-manager, Envoy Gateway proxies, DCGM where GPUs are) and
    NetworkPolicies in `monitoring` (scrapes on SCRAPE_PORTS only; API server egress only for
    the pods that use it; the webhook ingress only to the operator). Central: the Grafana admin
    password (RandomPassword, in a Secret), Gateway routes for Grafana and each Prometheus
    replica's remote-write endpoint, the basic-auth SecurityPolicy (htpasswd of every sender),
    the platform PrometheusRule, a ConfigMap per dashboard and, with `alerting`, the receiver
    URL's Secret, the AlertmanagerConfig routing to it and Alertmanager's egress to it.
    Non-central: its remote-write password (RandomPassword) and CA in Secrets. Guarantees: no
    secret in Helm values; every credential stays a Pulumi secret; the NetworkPolicies exist
    before the release; `release` exists before anything uses the Prometheus Operator CRDs.
    """

    release: k8s.helm.v3.Release
    remote_write_urls: list[str]
    remote_write_password: pulumi.Output[str] | None
    grafana_url: str | None

    def __init__(self, name: str, args: ClusterMonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:ClusterMonitoring", name, None, opts)
        tags = args.tags
        labels = object_labels(tags)
        after = list(args.depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)
        meta = {"namespace": NAMESPACE, "labels": labels}

        host_ns = add_on_namespace(f"{name}-host-namespace", HOST_NAMESPACE, tags, "privileged",
                                   self)
        secrets: list[pulumi.Resource] = []
        self.remote_write_password = None
        self.grafana_url = None
        self.remote_write_urls = []
        if args.central is not None:
            password = random.RandomPassword(
                f"{name}-grafana-admin-password", length=32, special=False,
                opts=pulumi.ResourceOptions(parent=self))
            secrets.append(k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata={"name": GRAFANA_ADMIN_SECRET, **meta},
                type="Opaque",
                string_data={"admin-user": GRAFANA_ADMIN_USER,
                             "admin-password": pulumi.Output.secret(password.result)},
                opts=child,
            ))
            self.grafana_url = f"https://grafana.{args.domain}"
        else:
            rw = args.remote_write
            assert rw is not None
            password = random.RandomPassword(
                f"{name}-remote-write-password", length=40, special=False,
                opts=pulumi.ResourceOptions(parent=self))
            self.remote_write_password = pulumi.Output.secret(password.result)
            self.remote_write_urls = rw.urls
            secrets.append(k8s.core.v1.Secret(
                f"{name}-remote-write-auth",
                metadata={"name": REMOTE_WRITE_AUTH_SECRET, **meta},
                type="Opaque",
                string_data={"username": args.cluster_name,
                             "password": self.remote_write_password},
                opts=child,
            ))
            if rw.ca_pem is not None:
                secrets.append(k8s.core.v1.Secret(
                    f"{name}-remote-write-ca",
                    metadata={"name": REMOTE_WRITE_CA_SECRET, **meta},
                    type="Opaque",
                    string_data={"ca.crt": rw.ca_pem},
                    opts=child,
                ))

        # The policies first: the chart's webhook-certificate Job (a pre-install hook) needs
        # the API server before anything else of the release exists.
        policies = self._network_policies(name, args, after)
        self.release = pinned_release(
            f"{name}-release", CHART, NAMESPACE, chart_values(args), self,
            [*after, host_ns, *secrets, *policies])
        release_deps: list[pulumi.Resource] = [*after, self.release]
        after_release = pulumi.ResourceOptions(parent=self, depends_on=release_deps)

        for role, kind, spec in _monitors(args):
            k8s.apiextensions.CustomResource(
                f"{name}-{role}",
                api_version=_MON_API,
                kind=kind,
                metadata={"name": role, **meta},
                spec=spec,
                opts=after_release,
            )
        if args.central is not None:
            self._central(name, args, args.central, meta, child, release_deps)
        self.register_outputs({
            "remote_write_urls": self.remote_write_urls,
            "grafana_url": self.grafana_url,
        })

    def _network_policies(self, name: str, args: ClusterMonitoringArgs,
                          after: list[pulumi.Resource]) -> list[pulumi.Resource]:
        tags = args.tags
        cidrs = [{"ipBlock": {"cidr": c}} for c in args.cluster_cidrs]
        out: list[pulumi.Resource] = []

        def policy(role: str, spec: dict, pods: dict | None = None) -> None:
            out.append(network_policy(f"{name}-{role}", role, NAMESPACE, tags, spec, self, after,
                                      pods))

        def tcp(ports) -> list[dict]:
            return [{"protocol": "TCP", "port": p} for p in ports]

        prometheus = {"matchLabels": PROMETHEUS_POD_LABELS}
        # Scrape targets are pods in every namespace (the monitors select them); only the
        # exporter ports in use.
        policy("allow-prometheus-scrape", {
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}}], "ports": tcp(sorted(SCRAPE_PORTS))}],
        }, prometheus)
        node_ports = [*NODE_METRICS_PORTS, *(CONTROL_PLANE_PORTS if args.control_plane else ())]
        policy("allow-prometheus-nodes", {
            "policyTypes": ["Egress"],
            "egress": [{"to": cidrs, "ports": tcp(node_ports)}],
        }, prometheus)
        # The API server: only the pods that watch or change objects (two selectors, as one
        # podSelector cannot match either of two label keys).
        api = {"policyTypes": ["Egress"], "egress": [{"to": cidrs, "ports": tcp(API_PORTS)}]}
        policy("allow-egress-apiserver", api, {"matchExpressions": [
            {"key": "app", "operator": "In", "values": list(API_CLIENTS_BY_APP)}]})
        policy("allow-egress-apiserver-watchers", api, {"matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In",
             "values": list(API_CLIENTS_BY_NAME)}]})
        # The API server calls the operator's admission webhook (from the control plane's
        # addresses in the cluster ranges, or through konnectivity agents in kube-system).
        policy("allow-webhook-from-apiserver", {
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [*cidrs, in_namespace("kube-system")],
                         "ports": tcp([WEBHOOK_PORT])}],
        }, {"matchLabels": dict(OPERATOR_POD_LABELS)})
        if args.remote_write is not None:
            policy("allow-remote-write", {
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in args.remote_write.central_cidrs],
                            "ports": tcp([443])}],
            }, prometheus)
        alerting = args.central.alerting if args.central is not None else None
        if alerting is not None:
            # A SaaS receiver's addresses are public and change: everything public on 443,
            # nothing private, is the narrowest rule a NetworkPolicy can state for it. An
            # internal receiver gets exactly its ranges.
            to = ([{"ipBlock": {"cidr": c}} for c in alerting.receiver_cidrs]
                  or [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}}])
            policy("allow-alertmanager-receiver", {
                "policyTypes": ["Egress"],
                "egress": [{"to": to, "ports": tcp([443])}],
            }, {"matchLabels": dict(ALERTMANAGER_POD_LABELS)})
        return out

    def _central(self, name: str, args: ClusterMonitoringArgs, central: CentralArgs,
                 meta: dict, child: pulumi.ResourceOptions,
                 release_deps: list[pulumi.Resource]) -> None:
        after_release = pulumi.ResourceOptions(parent=self, depends_on=release_deps)
        parent_ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                      "name": gateway.GATEWAY, "namespace": gateway.NAMESPACE}
        routes = []
        for i in range(central.replicas):
            route = f"prometheus-{i}"
            routes.append(route)
            k8s.apiextensions.CustomResource(
                f"{name}-route-{route}",
                api_version=_GW_API,
                kind="HTTPRoute",
                metadata={"name": route, **meta},
                spec={
                    "parentRefs": [parent_ref],
                    "hostnames": [f"{route}.{args.domain}"],
                    # Only the remote-write endpoint; the query API stays inside the cluster.
                    "rules": [{
                        "matches": [{"path": {"type": "Exact", "value": REMOTE_WRITE_PATH},
                                     "method": "POST"}],
                        "backendRefs": [{"name": f"{PROMETHEUS_SERVICE}-{i}",
                                         "port": PROMETHEUS_PORT}],
                    }],
                },
                opts=after_release,
            )
        k8s.apiextensions.CustomResource(
            f"{name}-route-grafana",
            api_version=_GW_API,
            kind="HTTPRoute",
            metadata={"name": "grafana", **meta},
            spec={
                "parentRefs": [parent_ref],
                "hostnames": [f"grafana.{args.domain}"],
                "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                           "backendRefs": [{"name": GRAFANA_SERVICE, "port": GRAFANA_PORT}]}],
            },
            opts=after_release,
        )

        # Every sender authenticates as itself; an unknown or wrong password gets 401 at the
        # Gateway and never reaches Prometheus. Hashing runs on known values only (no resources).
        users = dict(central.senders)
        names = sorted(users)
        content = pulumi.Output.secret(pulumi.Output.all(*[users[n] for n in names]).apply(
            lambda passwords: htpasswd(dict(zip(names, passwords, strict=True)))))
        users_secret = k8s.core.v1.Secret(
            f"{name}-remote-write-htpasswd",
            metadata={"name": HTPASSWD_SECRET, **meta},
            type="Opaque",
            string_data={".htpasswd": content},
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-remote-write-basic-auth",
            api_version=_EG_API,
            kind="SecurityPolicy",
            metadata={"name": SECURITY_POLICY, **meta},
            spec={
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                "name": r} for r in routes],
                "basicAuth": {"users": {"group": "", "kind": "Secret", "name": HTPASSWD_SECRET}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*release_deps, users_secret]),
        )

        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=_MON_API,
            kind="PrometheusRule",
            metadata={"name": RULES, **meta},
            spec={"groups": [dict(g) for g in central.rule_groups]},
            opts=after_release,
        )
        if central.alerting is not None:
            receiver = k8s.core.v1.Secret(
                f"{name}-alert-receiver",
                metadata={"name": ALERT_RECEIVER_SECRET, **meta},
                type="Opaque",
                string_data={"url": pulumi.Output.secret(central.alerting.url)},
                opts=child,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-alert-routing",
                api_version=_MON_ALPHA_API,
                kind="AlertmanagerConfig",
                metadata={"name": ALERT_ROUTING, **meta},
                spec=alert_routing_spec(central.alerting.receiver),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*release_deps, receiver]),
            )
        for stem, text in sorted(central.dashboards.items()):
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{stem}",
                metadata={"name": f"dashboard-{stem}", "namespace": NAMESPACE,
                          "labels": {**meta["labels"], DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]}},
                data={f"{stem}.json": text},
                opts=child,
            )


#: Notification text (Go templates of Alertmanager) for chat receivers.
_TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}'
          '{{ end }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.cluster }}')
_TEXT = ('{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n'
         '{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n\n{{ end }}')


def alert_routing_spec(receiver: str) -> dict[str, Any]:
    """`spec` of the AlertmanagerConfig sending every critical and warning alert to the
    receiver whose URL is the `url` key of the `alert-receiver` Secret; critical ones are
    repeated hourly, warnings twice a day. Watchdog and InfoInhibitor (severity none) and
    info alerts stay in the Alertmanager UI."""
    url = {"name": ALERT_RECEIVER_SECRET, "key": "url"}
    configs: dict[str, dict[str, Any]] = {
        "webhook": {"webhookConfigs": [{"urlSecret": url, "sendResolved": True}]},
        "slack": {"slackConfigs": [{"apiURL": url, "sendResolved": True, "title": _TITLE,
                                    "text": _TEXT}]},
        # msteamsv2: Teams Workflows webhooks (Alertmanager 0.28+); Office 365 connectors
        # (msteamsConfigs) are retired by Microsoft.
        "msteams": {"msteamsv2Configs": [{"webhookURL": url, "sendResolved": True,
                                          "title": _TITLE, "text": _TEXT}]},
    }
    if receiver not in configs:
        raise ValueError(f"unknown receiver kind {receiver!r}")

    def severity(op: str, value: str) -> dict[str, str]:
        return {"name": "severity", "matchType": op, "value": value}

    return {
        "route": {
            "receiver": ALERT_RECEIVER,
            "groupBy": ["alertname", "cluster"],
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": REPEAT_INTERVAL["warning"],
            "matchers": [severity("=~", "critical|warning")],
            "routes": [{
                "receiver": ALERT_RECEIVER,
                "matchers": [severity("=", "critical")],
                "groupWait": "10s",
                "repeatInterval": REPEAT_INTERVAL["critical"],
            }],
        },
        "receivers": [{"name": ALERT_RECEIVER, **configs[receiver]}],
    }


def _monitors(args: ClusterMonitoringArgs) -> list[tuple[str, str, dict]]:
    """(name, kind, spec) of the platform's own scrape targets on this cluster."""
    node = [{"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"],
             "targetLabel": "node"}]
    out: list[tuple[str, str, dict]] = [
        ("cert-manager", "ServiceMonitor", {
            "namespaceSelector": {"matchNames": [cert_manager.NAMESPACE]},
            "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                                         "app.kubernetes.io/component": "controller"}},
            # honorLabels: `namespace`/`name` are the certificate's, not the controller's.
            "endpoints": [{"port": CERT_MANAGER_METRICS_PORT, "path": "/metrics",
                           "interval": "60s", "honorLabels": True}],
        }),
        ("envoy-proxies", "PodMonitor", {
            "namespaceSelector": {"matchNames": [gateway.NAMESPACE]},
            "selector": {"matchLabels": dict(ENVOY_PROXY_LABELS)},
            "podMetricsEndpoints": [{
                "port": "metrics", "path": "/stats/prometheus", "interval": "30s",
                "metricRelabelings": [{"action": "keep", "sourceLabels": ["__name__"],
                                       "regex": ENVOY_KEEP}],
            }],
        }),
    ]
    if args.gpu_metrics == "operator":
        out.append(("dcgm-exporter", "ServiceMonitor", {
            "namespaceSelector": {"matchNames": [gpu_stack.NAMESPACE]},
            "selector": {"matchLabels": dict(DCGM_LABELS)},
            # `node` joins GPUs to their pool (kube_node_labels); DCGM's own pod/namespace
            # labels name the workload using the GPU and become exported_pod/exported_namespace.
            "endpoints": [{"port": DCGM_PORT, "path": "/metrics", "interval": "30s",
                           "relabelings": node}],
        }))
    elif args.gpu_metrics == "gke-managed":
        out.append(("gke-dcgm-exporter", "PodMonitor", {
            "namespaceSelector": {"matchNames": [GKE_DCGM_NAMESPACE]},
            "selector": {"matchLabels": dict(GKE_DCGM_LABELS)},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                     "relabelings": node}],
        }))
    return out

