"""The platform's alerting rules, evaluated once, on the central Prometheus.

The central Prometheus holds every cluster's series (remote-written, each labelled `cluster`
and `site`), so one rule set covers every site and every alert names the cluster it is about.
Each alert carries a `severity` label, `summary` and `description` annotations and a
`runbook_url` pointing at its section of `runbooks/alerts.md`.

Metric names are the platform's shared interface (see the service helpers): Envoy Gateway
proxy stats for serving, DCGM for GPUs, Strimzi's JMX and Kafka Exporter metrics for Kafka,
cert-manager's controller metrics for certificates.

GPU utilisation is DCGM's profiling metric `DCGM_FI_PROF_GR_ENGINE_ACTIVE` (0-1), which DCGM
reports per GPU and per MIG instance (the GPU operator's exporter collects it by default:
`dcp-metrics-included.csv`); a GPU that lacks it (profiling unsupported or unavailable) falls
back to `DCGM_FI_DEV_GPU_UTIL` / 100, which DCGM does not report for MIG instances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: The runbook file (under `runbooks/`) every alert here links to.
RUNBOOK_FILE = "alerts.md"

#: Metric names the rules read, by producer (the contract with the services that expose them).
METRICS = {
    "envoy_latency": "envoy_cluster_upstream_rq_time_bucket",
    "envoy_responses": "envoy_cluster_upstream_rq_xx",
    "envoy_healthy": "envoy_cluster_membership_healthy",
    "gpu_engine_active": "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "gpu_util": "DCGM_FI_DEV_GPU_UTIL",
    "node_labels": "kube_node_labels",
    "kafka_lag": "kafka_consumergroup_lag",
    "kafka_members": "kafka_consumergroup_members",
    "kafka_urp": "kafka_server_replicamanager_underreplicatedpartitions",
    "cert_expiry": "certmanager_certificate_expiration_timestamp_seconds",
    "up": "up",
}
#: kube-state-metrics exposes the node label `hybridml.io/gpu-pool` (allow-listed) as this.
GPU_POOL_LABEL = "label_hybridml_io_gpu_pool"

#: Thresholds. Envoy measures upstream request time in milliseconds.
SERVING_P99_MS = 2000
SERVING_ERROR_RATIO = 0.05
GPU_UTIL_RATIO = 0.9
KAFKA_LAG_MESSAGES = 10000
CERT_WARNING_DAYS = 14
CERT_CRITICAL_DAYS = 3
#: A cluster whose `up` series have been absent this long has stopped sending.
SILENCE_WINDOW = "10m"

Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Alert:
    """One alerting rule."""

    name: str  # also the runbook heading (its GitHub anchor is the name in lower case)
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = ()

    def rule(self, runbook_base_url: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, **dict(self.labels)},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": runbook_url(runbook_base_url, self.name),
            },
        }


def runbook_url(base_url: str, alert: str) -> str:
    """`<base>/alerts.md#<anchor>`; the anchor is GitHub's slug of the heading `## <alert>`."""
    return f"{base_url.rstrip('/')}/{RUNBOOK_FILE}#{alert.lower()}"


def gpu_utilisation(selector: str = "") -> str:
    """Utilisation (0-1) of every GPU and MIG instance, as PromQL: the profiling metric where
    DCGM reports it, else the device metric of the same GPU. `selector` adds label matchers
    (e.g. `cluster=~"$cluster"`)."""
    sel = f"{{{selector}}}" if selector else ""
    return (f"({METRICS['gpu_engine_active']}{sel} or on (cluster, node, gpu) "
            f"({METRICS['gpu_util']}{sel} / 100))")


def gpu_pool_utilisation(selector: str = "") -> str:
    """Average utilisation (0-1) per GPU pool (`label_hybridml_io_gpu_pool` of the node)."""
    extra = f", {selector}" if selector else ""
    pools = (f"max by (cluster, node, {GPU_POOL_LABEL}) "
             f'({METRICS["node_labels"]}{{{GPU_POOL_LABEL}!=""{extra}}})')
    return (f"avg by (cluster, site, {GPU_POOL_LABEL}) ({gpu_utilisation(selector)} "
            f"* on (cluster, node) group_left ({GPU_POOL_LABEL}) {pools})")


def _serving(ns: str) -> list[Alert]:
    routes = f'envoy_cluster_name=~"httproute/{ns}/.*"'
    by = "cluster, site, envoy_cluster_name"
    responses = METRICS["envoy_responses"]
    return [
        Alert(
            name="ServingHighLatencyP99",
            expr=(f"histogram_quantile(0.99, sum by ({by}, le) "
                  f"(rate({METRICS['envoy_latency']}{{{routes}}}[5m]))) > {SERVING_P99_MS}"),
            for_="10m",
            severity="warning",
            summary="Model serving p99 latency above "
                    f"{SERVING_P99_MS / 1000:g}s on {{{{ $labels.cluster }}}}",
            description=(
                "p99 upstream latency of {{ $labels.envoy_cluster_name }} on cluster "
                "{{ $labels.cluster }} ({{ $labels.site }}) is {{ $value | humanize }} ms, "
                f"above {SERVING_P99_MS} ms for 10 minutes."),
        ),
        Alert(
            name="ServingHighErrorRate",
            expr=(f'sum by ({by}) (rate({responses}{{envoy_response_code_class="5", {routes}}}[5m]))'
                  f" / sum by ({by}) (rate({responses}{{{routes}}}[5m])) > {SERVING_ERROR_RATIO}"),
            for_="5m",
            severity="critical",
            summary="Model serving 5xx ratio above "
                    f"{SERVING_ERROR_RATIO:.0%} on {{{{ $labels.cluster }}}}",
            description=(
                "{{ $value | humanizePercentage }} of requests to {{ $labels.envoy_cluster_name }} "
                "on cluster {{ $labels.cluster }} ({{ $labels.site }}) answer 5xx."),
        ),
        # A total outage: with no healthy endpoint Envoy answers 503 itself, which the
        # upstream counters above may never record; the membership gauge says it directly.
        Alert(
            name="ServingNoHealthyBackend",
            expr=(f"min by ({by}) ({METRICS['envoy_healthy']}{{{routes}}}) == 0"),
            for_="5m",
            severity="critical",
            summary="Model serving route {{ $labels.envoy_cluster_name }} has no healthy "
                    "backend on {{ $labels.cluster }}",
            description=(
                "Envoy on cluster {{ $labels.cluster }} ({{ $labels.site }}) has had no healthy "
                "endpoint for {{ $labels.envoy_cluster_name }} for 5 minutes: every request to "
                "it answers 503."),
        ),
    ]


def _gpu() -> list[Alert]:
    return [
        Alert(
            name="GpuPoolSaturated",
            expr=f"{gpu_pool_utilisation()} > {GPU_UTIL_RATIO}",
            for_="30m",
            severity="warning",
            summary="GPU pool {{ $labels." + GPU_POOL_LABEL + " }} saturated on "
                    "{{ $labels.cluster }}",
            description=(
                "GPUs (or MIG instances) of pool {{ $labels." + GPU_POOL_LABEL + " }} on cluster "
                "{{ $labels.cluster }} ({{ $labels.site }}) averaged {{ $value | "
                f"humanizePercentage }}}} utilisation for 30 minutes (threshold "
                f"{GPU_UTIL_RATIO:.0%}); queued work waits for GPUs."),
        ),
    ]


def _regex_prefixes(prefixes: Sequence[str]) -> str:
    r"""A PromQL regex (the text inside its double quotes) matching names that start with any
    of `prefixes` (letters, digits, `.`, `_`, `-`): `.` becomes `\\.` (PromQL's string escape
    of the regex `\.`)."""
    for p in prefixes:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", p):
            raise ValueError(f"consumer-group prefix {p!r}: only letters, digits, . _ -")
    return "(" + "|".join(p.replace(".", "\\\\.") for p in prefixes) + ").*"


def _kafka(mirrored_groups: Sequence[tuple[str, Sequence[str]]]) -> list[Alert]:
    lag = (f"sum by (cluster, site, namespace, consumergroup, topic) "
           f"({METRICS['kafka_lag']}) > {KAFKA_LAG_MESSAGES}")
    # MirrorMaker 2 commits translated offsets for the groups it syncs on the target cluster,
    # where they have no members and lag as their source moves: skip exactly those (on the
    # mirror's target, a synced prefix, no member). A group that gains members there (after a
    # fail-over) and every group elsewhere still alert.
    synced = [f'{METRICS["kafka_members"]}{{cluster="{cluster}", '
              f'consumergroup=~"{_regex_prefixes(prefixes)}"}} == 0'
              for cluster, prefixes in mirrored_groups if prefixes]
    if synced:
        lag = f"({lag}) unless on (cluster, namespace, consumergroup) ({' or '.join(synced)})"
    return [
        Alert(
            name="KafkaConsumerLagHigh",
            expr=lag,
            for_="15m",
            severity="warning",
            summary="Kafka consumer group {{ $labels.consumergroup }} lags on "
                    "{{ $labels.cluster }}",
            description=(
                "Consumer group {{ $labels.consumergroup }} is {{ $value | humanize }} messages "
                "behind on topic {{ $labels.topic }} (cluster {{ $labels.cluster }}, "
                f"{{{{ $labels.site }}}}) for 15 minutes (threshold {KAFKA_LAG_MESSAGES})."),
        ),
        Alert(
            name="KafkaUnderReplicatedPartitions",
            expr=(f"sum by (cluster, site, namespace, pod) ({METRICS['kafka_urp']}) > 0"),
            for_="10m",
            severity="critical",
            summary="Kafka broker {{ $labels.pod }} has under-replicated partitions on "
                    "{{ $labels.cluster }}",
            description=(
                "Broker {{ $labels.pod }} ({{ $labels.namespace }}, cluster {{ $labels.cluster }}) "
                "leads {{ $value }} partitions with fewer in-sync replicas than the replication "
                "factor; one more broker loss can stop writes (min.insync.replicas 2)."),
        ),
    ]


def _certificates() -> list[Alert]:
    left = f"({METRICS['cert_expiry']} - time())"
    return [
        Alert(
            name="CertificateExpiringSoon",
            expr=f"{left} < {CERT_WARNING_DAYS} * 86400",
            for_="1h",
            severity="warning",
            summary="Certificate {{ $labels.namespace }}/{{ $labels.name }} expires within "
                    f"{CERT_WARNING_DAYS} days on {{{{ $labels.cluster }}}}",
            description=(
                "Certificate {{ $labels.namespace }}/{{ $labels.name }} on cluster "
                "{{ $labels.cluster }} expires in {{ $value | humanizeDuration }}; cert-manager "
                "renews well before this, so renewal is failing."),
        ),
        Alert(
            name="CertificateExpiryCritical",
            expr=f"{left} < {CERT_CRITICAL_DAYS} * 86400",
            for_="10m",
            severity="critical",
            summary="Certificate {{ $labels.namespace }}/{{ $labels.name }} expires within "
                    f"{CERT_CRITICAL_DAYS} days on {{{{ $labels.cluster }}}}",
            description=(
                "Certificate {{ $labels.namespace }}/{{ $labels.name }} on cluster "
                "{{ $labels.cluster }} expires in {{ $value | humanizeDuration }}; TLS to the "
                "services behind it fails when it does."),
        ),
    ]


def _clusters(clusters: Sequence[tuple[str, str]]) -> list[Alert]:
    # One rule per cluster of the stack: `absent_over_time` only notices series it names, so a
    # cluster that never sent (or whose every series went stale) is found by its name.
    return [
        Alert(
            name="ClusterNotReporting",
            expr=f'absent_over_time({METRICS["up"]}{{cluster="{name}"}}[{SILENCE_WINDOW}])',
            for_="5m",
            severity="critical",
            summary=f"Cluster {name} ({site}) sends no metrics",
            description=(
                f"The central Prometheus has received no series from cluster {name} ({site}) "
                f"for {SILENCE_WINDOW}: its Prometheus, the VPN, the central gateway or the "
                "remote-write credentials are down. Its own alerts cannot reach anyone."),
            labels=(("cluster", name), ("site", site)),
        )
        for name, site in clusters
    ]


def alert_groups(
    runbook_base_url: str, serving_namespace: str, clusters: Sequence[tuple[str, str]],
    mirrored_groups: Sequence[tuple[str, Sequence[str]]] = (),
) -> list[dict[str, Any]]:
    """`spec.groups` of the platform's PrometheusRule.

    `clusters` are (cluster name, site) of every cluster that should be sending metrics;
    `mirrored_groups` are (cluster name, consumer-group prefixes) MirrorMaker 2 syncs offsets
    of into that (target) cluster.
    """
    groups = {
        "hybridml.serving": _serving(serving_namespace),
        "hybridml.gpu": _gpu(),
        "hybridml.kafka": _kafka(mirrored_groups),
        "hybridml.certificates": _certificates(),
        "hybridml.clusters": _clusters(clusters),
    }
    return [{"name": name, "rules": [a.rule(runbook_base_url) for a in alerts]}
            for name, alerts in groups.items() if alerts]


def alert_names(groups: list[dict[str, Any]]) -> list[str]:
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
