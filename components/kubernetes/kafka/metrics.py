"""The brokers' JMX Prometheus exporter rules, read once from `metrics_rules.yaml` next to this
module (shipped as package data)."""

from __future__ import annotations

from pathlib import Path

#: Key of the rules in the metrics ConfigMap (what `metricsConfig` points at).
METRICS_KEY = "kafka-metrics-config.yml"
METRICS_RULES_FILE = Path(__file__).resolve().parent / "metrics_rules.yaml"

#: The standard Strimzi `kafka-metrics` JMX Prometheus exporter rules (examples/metrics in the
#: Strimzi repository), verbatim. Its generic gauge rule yields, among others,
#: `kafka_server_replicamanager_underreplicatedpartitions` (the monitoring rules alert on it).
KAFKA_METRICS_RULES = METRICS_RULES_FILE.read_text(encoding="utf-8")


def metrics_config_name(kafka_name: str) -> str:
    """Name of the ConfigMap holding a cluster's exporter rules."""
    return f"{kafka_name}-kafka-metrics"


def metrics_config_data() -> dict[str, str]:
    """`data` of the metrics ConfigMap: the rules under `METRICS_KEY`."""
    return {METRICS_KEY: KAFKA_METRICS_RULES}
