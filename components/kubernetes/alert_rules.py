"""The platform's alerting rules, evaluated once, on the central Prometheus.

The central Prometheus holds every cluster's series (remote-written, each labelled `cluster`
and `site`), so one rule set covers every site and every alert names the cluster it is about.
Each alert carries a `severity` label, `summary` and `description` annotations and a
`runbook_url` pointing at its section of `runbooks/alerts.md`.

The rules themselves (names, expressions, texts) are data: `alert_rules.yaml` next to this
module, read once. This module holds what they are filled in with (`${name}` in the file):
the metric names, the thresholds and the expressions that depend on the stack's config.

Metric names are the platform's shared interface (see the service helpers): Envoy Gateway
proxy stats for serving, DCGM for GPUs, Strimzi's JMX and Kafka Exporter metrics for Kafka,
cert-manager's controller metrics for certificates.

GPU utilisation is DCGM's profiling metric `DCGM_FI_PROF_GR_ENGINE_ACTIVE` (0-1), which DCGM
reports per GPU and per MIG instance (the GPU operator's exporter collects it by default:
`dcp-metrics-included.csv`); a GPU that lacks it (profiling unsupported or unavailable) falls
back to `DCGM_FI_DEV_GPU_UTIL` / 100, which DCGM does not report for MIG instances.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

#: The rules themselves (names, expressions, texts), next to this module.
RULES_FILE = Path(__file__).resolve().parent / "alert_rules.yaml"
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
    "kueue_pending": "kueue_pending_workloads",
    "kueue_reserved": "kueue_quota_reserved_workloads_total",
    "volume_available": "kubelet_volume_stats_available_bytes",
    "volume_capacity": "kubelet_volume_stats_capacity_bytes",
    "airflow_heartbeat": "airflow_scheduler_heartbeat",
    "airflow_import_errors": "airflow_dag_processing_import_errors",
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


def _regex_prefixes(prefixes: Sequence[str]) -> str:
    r"""A PromQL regex (the text inside its double quotes) matching names that start with any
    of `prefixes` (letters, digits, `.`, `_`, `-`): `.` becomes `\\.` (PromQL's string escape
    of the regex `\.`)."""
    for p in prefixes:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", p):
            raise ValueError(f"consumer-group prefix {p!r}: only letters, digits, . _ -")
    return "(" + "|".join(p.replace(".", "\\\\.") for p in prefixes) + ").*"


def kafka_consumer_lag(mirrored_groups: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """PromQL of consumer groups lagging more than KAFKA_LAG_MESSAGES behind, except the
    groups MirrorMaker 2 syncs offsets of into their target cluster (`mirrored_groups`:
    cluster name, consumer-group prefixes) while they have no members there."""
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
    return lag


def rule_variables(serving_namespace: str,
                   mirrored_groups: Sequence[tuple[str, Sequence[str]]] = ()) -> dict[str, str]:
    """The `${name}` values of alert_rules.yaml (except a cluster's `${cluster}`/`${site}`):
    metric names, thresholds and the expressions that depend on the stack's config."""
    return {
        **METRICS,
        "gpu_pool_label": GPU_POOL_LABEL,
        "serving_routes": f'envoy_cluster_name=~"httproute/{serving_namespace}/.*"',
        "serving_by": "cluster, site, envoy_cluster_name",
        "serving_p99_ms": f"{SERVING_P99_MS}",
        "serving_p99_s": f"{SERVING_P99_MS / 1000:g}",
        "serving_error_ratio": f"{SERVING_ERROR_RATIO}",
        "serving_error_pct": f"{SERVING_ERROR_RATIO:.0%}",
        "gpu_pool_utilisation": gpu_pool_utilisation(),
        "gpu_util_ratio": f"{GPU_UTIL_RATIO}",
        "gpu_util_pct": f"{GPU_UTIL_RATIO:.0%}",
        "kafka_consumer_lag": kafka_consumer_lag(mirrored_groups),
        "kafka_lag_messages": f"{KAFKA_LAG_MESSAGES}",
        "cert_warning_days": f"{CERT_WARNING_DAYS}",
        "cert_critical_days": f"{CERT_CRITICAL_DAYS}",
        "silence_window": SILENCE_WINDOW,
    }


@dataclass(frozen=True)
class RuleGroupTemplate:
    """One group of alert_rules.yaml, its texts still holding `${name}` placeholders."""

    name: str
    each_cluster: bool
    alerts: tuple[Alert, ...]
    #: A variable the stack may leave out (a service it does not run): without a value for
    #: it, the group is left out.
    needs: str | None = None


_RULE_KEYS = {"alert", "expr", "for", "severity", "summary", "description", "labels"}
_GROUP_KEYS = {"name", "each_cluster", "needs", "rules"}


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a non-empty string")
    return value


def _alert_template(group: str, rule: Any) -> Alert:
    if not isinstance(rule, dict) or not _RULE_KEYS - {"labels"} <= set(rule) <= _RULE_KEYS:
        raise ValueError(f"every rule of group {group} has exactly the keys "
                         f"{sorted(_RULE_KEYS)} (labels optional)")
    where = f"{group}/{rule['alert']}"
    if rule["severity"] not in ("critical", "warning"):
        raise ValueError(f"{where}: severity is critical or warning")
    labels = rule.get("labels", {})
    return Alert(
        name=_text(f"{where} alert", rule["alert"]),
        expr=_text(f"{where} expr", rule["expr"]),
        for_=_text(f"{where} for", rule["for"]),
        severity=rule["severity"],
        summary=_text(f"{where} summary", rule["summary"]),
        description=_text(f"{where} description", rule["description"]),
        labels=tuple((_text(f"{where} label", k), _text(f"{where} label {k}", v))
                     for k, v in labels.items()),
    )


def _group_template(group: Any) -> RuleGroupTemplate:
    if not isinstance(group, dict) or not {"name", "rules"} <= set(group) <= _GROUP_KEYS:
        raise ValueError("every group has a name and rules (and may set each_cluster, needs)")
    name = _text("group name", group["name"])
    if not isinstance(group["rules"], list) or not group["rules"]:
        raise ValueError(f"group {name} needs a non-empty list of rules")
    return RuleGroupTemplate(
        name=name,
        each_cluster=group.get("each_cluster", False) is True,
        needs=_text(f"group {name} needs", group["needs"]) if "needs" in group else None,
        alerts=tuple(_alert_template(name, r) for r in group["rules"]),
    )


@functools.cache
def rule_templates(path: Path = RULES_FILE) -> tuple[RuleGroupTemplate, ...]:
    """The rule groups of `path` (alert_rules.yaml), read and checked once; ValueError names
    the file and the first problem."""
    try:
        doc = yaml.safe_load(path.read_text())
        groups = doc.get("groups") if isinstance(doc, dict) else None
        if not isinstance(groups, list) or not groups:
            raise ValueError("a non-empty `groups` list is required")
        return tuple(_group_template(g) for g in groups)
    except ValueError as err:
        raise ValueError(f"{path.name}: {err}") from None


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _fill(alert: Alert, variables: Mapping[str, str]) -> Alert:
    """`alert` with every `${name}` of its texts replaced from `variables` (one pass: a
    value is never filled again)."""
    def fill(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match[1] not in variables:
                raise ValueError(f"{RULES_FILE.name}: {alert.name} uses unknown ${{{match[1]}}}")
            return variables[match[1]]
        return _PLACEHOLDER.sub(value, text)

    return Alert(name=fill(alert.name), expr=fill(alert.expr), for_=fill(alert.for_),
                 severity=alert.severity, summary=fill(alert.summary),
                 description=fill(alert.description),
                 labels=tuple((k, fill(v)) for k, v in alert.labels))


def alert_groups(
    runbook_base_url: str, serving_namespace: str, clusters: Sequence[tuple[str, str]],
    mirrored_groups: Sequence[tuple[str, Sequence[str]]] = (),
    queue_wait_minutes: int | None = None,
) -> list[dict[str, Any]]:
    """`spec.groups` of the platform's PrometheusRule.

    `clusters` are (cluster name, site) of every cluster that should be sending metrics;
    `mirrored_groups` are (cluster name, consumer-group prefixes) MirrorMaker 2 syncs offsets
    of into that (target) cluster; `queue_wait_minutes` (with work queues) how long a team's
    queue may admit nothing while work waits.
    """
    variables = rule_variables(serving_namespace, mirrored_groups)
    if queue_wait_minutes is not None:
        variables["queue_wait"] = f"{queue_wait_minutes}m"
    out = []
    for group in rule_templates():
        if group.needs is not None and group.needs not in variables:
            continue
        if group.each_cluster:
            alerts = [_fill(a, {**variables, "cluster": name, "site": site})
                      for name, site in clusters for a in group.alerts]
        else:
            alerts = [_fill(a, variables) for a in group.alerts]
        if alerts:
            out.append({"name": group.name,
                        "rules": [a.rule(runbook_base_url) for a in alerts]})
    return out


def alert_names(groups: list[dict[str, Any]]) -> list[str]:
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
