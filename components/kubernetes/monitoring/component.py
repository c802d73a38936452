"""ClusterMonitoring: the component; each part it creates is built by a module-level builder
of this package."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.charts import pinned_release
from components.kubernetes.monitoring.alerting import alert_routing
from components.kubernetes.monitoring.args import ClusterMonitoringArgs
from components.kubernetes.monitoring.central import (
    dashboard_config_maps,
    gateway_routes,
    platform_rules,
)
from components.kubernetes.monitoring.constants import CHART, HOST_NAMESPACE, NAMESPACE
from components.kubernetes.monitoring.credentials import (
    grafana_admin_secret,
    remote_write_basic_auth,
    remote_write_credentials,
)
from components.kubernetes.monitoring.monitors import scrape_monitors
from components.kubernetes.monitoring.network_policies import network_policies
from components.kubernetes.monitoring.values import chart_values, grafana_url
from components.kubernetes.objects import add_on_namespace, object_labels


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
        after = list(args.depends_on)
        meta = {"namespace": NAMESPACE, "labels": object_labels(args.tags)}
        central = args.central

        host_ns = add_on_namespace(f"{name}-host-namespace", HOST_NAMESPACE, args.tags,
                                   "privileged", self)
        self.remote_write_password = None
        self.grafana_url = None
        self.remote_write_urls = []
        secrets: list[pulumi.Resource]
        if central is not None:
            secrets = [grafana_admin_secret(name, meta, self, after)]
            self.grafana_url = grafana_url(args.domain)
        else:
            assert args.remote_write is not None
            self.remote_write_password, secrets = remote_write_credentials(
                name, args.cluster_name, args.remote_write, meta, self, after)
            self.remote_write_urls = args.remote_write.urls

        # The policies first: the chart's webhook-certificate Job (a pre-install hook) needs
        # the API server before anything else of the release exists.
        policies = network_policies(name, args, self, after)
        self.release = pinned_release(
            f"{name}-release", CHART, NAMESPACE, chart_values(args), self,
            [*after, host_ns, *secrets, *policies])
        release_deps: list[pulumi.Resource] = [*after, self.release]

        scrape_monitors(name, args, meta, self, release_deps)
        if central is not None:
            routes = gateway_routes(name, args.domain, central.replicas, meta, self, release_deps)
            remote_write_basic_auth(name, central.senders, routes, meta, self, after,
                                    release_deps)
            platform_rules(name, central.rule_groups, meta, self, release_deps)
            if central.alerting is not None:
                alert_routing(name, central.alerting, meta, self, after, release_deps)
            dashboard_config_maps(name, central.dashboards, meta, self, after)
        self.register_outputs({
            "remote_write_urls": self.remote_write_urls,
            "grafana_url": self.grafana_url,
        })
