"""Wire monitoring onto every cluster of the stack and aggregate it on the central one.

Every non-central cluster remote-writes to each central Prometheus replica through the central
cluster's `platform` Gateway (`https://prometheus-<i>.<central>.<baseDomain>/api/v1/write`), over
the VPN, with its own generated password and the platform root CA. The central cluster runs
Alertmanager, Grafana, the platform's alert rules (one `ClusterNotReporting` per cluster) and
the dashboards, and, when `services.monitoring.alerting` is set, routes every critical and
warning alert to its receiver (URL from the secret config key it names). Exports `monitoring`
(URLs only, no secrets).
"""

from __future__ import annotations

import pulumi

from components.kubernetes.alert_rules import alert_groups
from components.kubernetes.dashboards import load_dashboards
from components.kubernetes.monitoring import (
    CENTRAL_REPLICAS,
    AlertingArgs,
    CentralArgs,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    RemoteWriteArgs,
    remote_write_urls,
)
from stacks.config.platform import PROJECT, PlatformConfig
from stacks.plan.clusters import ONPREM, PlannedCluster, clusters_by_ref
from stacks.program.clusters import Cluster
from stacks.program.services.context import Built, MonitoringBuilt, ServiceContext

#: Stack output key.
MONITORING_OUTPUT = "monitoring"
#: The namespace the serving alerts and dashboards watch when `services.serving` is not set
#: (Envoy names the clusters of its HTTPRoutes `httproute/<namespace>/<route>/rule/<n>`).
DEFAULT_SERVING_NAMESPACE = "serving"
#: Without an address plan, the private ranges (RFC 1918) stand in for the cluster's own.
_PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def site_cidrs(cfg: PlatformConfig, plan: PlannedCluster) -> tuple[str, ...]:
    """The address-plan ranges a cluster's nodes, API endpoint and load balancers live in."""
    net = cfg.network
    if net is None:
        return _PRIVATE
    if plan.site == ONPREM:
        return tuple(str(c) for c in net.onprem.cidrs) if net.onprem else _PRIVATE
    region = getattr(net, plan.site).get(plan.region)
    return (str(region.cidr),) if region is not None else _PRIVATE


def _gpu_metrics(cfg: PlatformConfig, cluster: Cluster) -> str:
    if "gpu-operator" in cluster.addons.releases:
        return "operator"
    plan = cluster.plan
    k = cfg.kubernetes
    if plan.site == "gcp" and k is not None and k.gcp[plan.region].gpu_pools:
        return "gke-managed"
    return "none"


def serving_namespace(cfg: PlatformConfig) -> str:
    """The namespace model serving's HTTPRoutes live in."""
    serving = cfg.services.serving
    return serving.namespace if serving is not None else DEFAULT_SERVING_NAMESPACE


def mirrored_groups(cfg: PlatformConfig) -> list[tuple[str, tuple[str, ...]]]:
    """(target cluster name, consumer-group prefixes) of every MirrorMaker 2 mirror that syncs
    group offsets: on its target those groups lag without members, by design."""
    kafka = cfg.services.kafka
    if kafka is None:
        return []
    names = {ref: plan.name for ref, plan in clusters_by_ref(cfg).items()}
    return [(names[m.target], tuple(m.group_prefixes))
            for m in kafka.mirrors if m.group_prefixes and m.target in names]


def alerting_args(cfg: PlatformConfig) -> AlertingArgs | None:
    """The receiver of the platform's alerts, its URL read from the secret config key."""
    mon = cfg.services.monitoring
    if mon is None or mon.alerting is None:
        return None
    a = mon.alerting
    return AlertingArgs(
        receiver=a.receiver, url=pulumi.Config(PROJECT).require_secret(a.webhook_url_key),
        receiver_cidrs=tuple(str(c) for c in a.receiver_cidrs))


def build_monitoring(ctx: ServiceContext, built: Built) -> MonitoringBuilt:
    """ClusterMonitoring on every cluster (senders first, then the central one, which needs
    every sender's password); returns each cluster's monitoring CRDs; exports `monitoring`."""
    cfg = ctx.cfg
    mon = cfg.services.monitoring
    k = cfg.kubernetes
    assert mon is not None and k is not None  # validated: central is a cluster of the stack
    central = ctx.clusters[mon.central]
    central_domain = f"{central.plan.name}.{k.base_domain}"
    control_plane = {ref: c.plan.site == ONPREM and mon.onprem_control_plane
                     for ref, c in ctx.clusters.items()}

    def args(cluster: Cluster, **role) -> ClusterMonitoringArgs:
        return ClusterMonitoringArgs(
            cluster_name=cluster.plan.name, site=cluster.plan.site, tags=ctx.tags,
            base_domain=k.base_domain, retention=mon.local_retention, storage=mon.local_storage,
            gpu_metrics=_gpu_metrics(cfg, cluster), control_plane=control_plane[cluster.plan.ref],
            cluster_cidrs=site_cidrs(cfg, cluster.plan), depends_on=(cluster.addons,), **role)

    def opts(cluster: Cluster) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[cluster.provider, ctx.providers.random])

    components: dict[str, ClusterMonitoring] = {}
    for ref, cluster in ctx.clusters.items():
        if ref == mon.central:
            continue
        components[ref] = ClusterMonitoring(f"monitoring-{cluster.plan.name}", args(
            cluster, remote_write=RemoteWriteArgs(
                central_domain=central_domain, replicas=CENTRAL_REPLICAS,
                central_cidrs=site_cidrs(cfg, central.plan), ca_pem=ctx.platform_ca_pem),
        ), opts(cluster))

    senders = {ctx.clusters[ref].plan.name: c.remote_write_password
               for ref, c in components.items()}
    serving_ns = serving_namespace(cfg)
    queues = cfg.services.work_queues
    groups = alert_groups(mon.runbook_base_url, serving_ns,
                          [(c.plan.name, c.plan.site) for c in ctx.clusters.values()],
                          mirrored_groups(cfg),
                          queues.max_wait_minutes if queues is not None else None)
    components[mon.central] = ClusterMonitoring(f"monitoring-{central.plan.name}", args(
        central, central=CentralArgs(
            replicas=CENTRAL_REPLICAS, retention=mon.central_retention,
            storage=mon.central_storage, senders=senders, rule_groups=tuple(groups),
            dashboards=load_dashboards(constants={"serving_namespace": serving_ns}),
            control_plane_rules=any(control_plane.values()), alerting=alerting_args(cfg)),
    ), opts(central))

    pulumi.export(MONITORING_OUTPUT, {
        "central": {
            "cluster": central.plan.name,
            "site": central.plan.site,
            "remoteWrite": remote_write_urls(central_domain, CENTRAL_REPLICAS),
            "grafana": components[mon.central].grafana_url,
        },
        "clusters": {
            ctx.clusters[ref].plan.name: ("central" if ref == mon.central
                                          else components[ref].remote_write_urls)
            for ref in ctx.clusters
        },
    })
    return MonitoringBuilt(crds={ref: c.release for ref, c in components.items()})
