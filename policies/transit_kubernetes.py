"""Encryption in transit inside Kubernetes: TLS on Kafka listeners, Ingresses and Gateways."""

from __future__ import annotations

from typing import Any

from helpers import (
    Findings,
    Unknown,
    elements,
    is_unknown,
    lookup,
    only_types,
    plain,
    validate_each,
)
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
)

# --- Kafka (Strimzi) listeners -------------------------------------------------------------------------

KAFKA_TYPES = frozenset(
    {
        "kubernetes:kafka.strimzi.io/v1beta2:Kafka",
        "kubernetes:kafka.strimzi.io/v1:Kafka",
    }
)


def check_kafka(props: object, f: Findings) -> list[str]:
    listeners = lookup(props, "spec", "kafka", "listeners")
    if is_unknown(listeners):
        f.unknown(listeners)
        return []
    problems = []
    for i, listener in enumerate(elements(listeners, ("spec", "kafka", "listeners"))):
        if is_unknown(listener):
            f.unknown(listener)
            continue
        tls = lookup(listener, "tls")
        name = lookup(listener, "name")
        label = name if isinstance(name, str) else str(i)
        if is_unknown(tls):
            f.unknown(tls)
        elif tls is not True:
            problems.append(f"listener {label} has tls {tls!r}, not true")
    return problems


kafka_listener_tls = ResourceValidationPolicy(
    name="kafka-listener-tls",
    display_name="Kafka listeners use TLS",
    description="Strimzi Kafka (kafka.strimzi.io v1beta2/v1): every spec.kafka.listeners[] entry has tls true.",
    validate=validate_each(only_types(KAFKA_TYPES, check_kafka)),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-in-transit", "kubernetes", "kafka"],
    remediation_steps="Set tls: true on every listener (and authentication, e.g. type: tls or scram-sha-512).",
)


# --- Ingress and Gateway API -----------------------------------------------------------------------------

INGRESS_TYPES = frozenset(
    {
        "kubernetes:networking.k8s.io/v1:Ingress",
        "kubernetes:networking.k8s.io/v1beta1:Ingress",
        "kubernetes:extensions/v1beta1:Ingress",
    }
)
GATEWAY_TYPES = frozenset(
    {
        "kubernetes:gateway.networking.k8s.io/v1:Gateway",
        "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway",
    }
)
TLS_GATEWAY_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def _host_covered(host: str, tls_hosts: list[str]) -> bool:
    for pattern in tls_hosts:
        if pattern == host:
            return True
        if (
            pattern.startswith("*.")
            and host.endswith(pattern[1:])
            and host.count(".") == pattern.count(".")
        ):
            return True
    return False


def check_ingress(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type in INGRESS_TYPES:
        tls = lookup(props, "spec", "tls")
        if is_unknown(tls):
            f.unknown(tls)
            return []
        entries_ = list(elements(tls, ("spec", "tls")))
        if not entries_:
            return ["spec.tls is empty: the ingress serves plain HTTP"]
        rules = plain(lookup(props, "spec", "rules"), ("spec", "rules"))
        tls_plain = plain(tls, ("spec", "tls"))
        pending = [e for e in _walk([rules, tls_plain]) if isinstance(e, Unknown)]
        if pending:
            # TLS is configured but which hosts it covers is not known yet.
            f.unknown(pending[0])
            return []
        rules = rules or []
        covered_all = any(isinstance(e, dict) and not e.get("hosts") for e in tls_plain)
        tls_hosts = [h for e in tls_plain if isinstance(e, dict) for h in e.get("hosts") or []]
        missing = [
            r.get("host")
            for r in rules
            if isinstance(r, dict)
            and isinstance(r.get("host"), str)
            and not covered_all
            and not _host_covered(r["host"], tls_hosts)
        ]
        return [f"hosts without TLS: {missing}"] if missing else []
    if resource_type in GATEWAY_TYPES:
        listeners = lookup(props, "spec", "listeners")
        if is_unknown(listeners):
            f.unknown(listeners)
            return []
        problems = []
        for i, listener in enumerate(elements(listeners, ("spec", "listeners"))):
            protocol = lookup(listener, "protocol") if not is_unknown(listener) else listener
            if is_unknown(protocol):
                f.unknown(protocol)
            elif protocol not in TLS_GATEWAY_PROTOCOLS:
                name = lookup(listener, "name")
                problems.append(
                    f"listener {name if isinstance(name, str) else i} uses {protocol!r}, "
                    "not HTTPS or TLS"
                )
        return problems
    return []


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value] + [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [value] + [x for v in value for x in _walk(v)]
    return [value]


ingress_tls = ResourceValidationPolicy(
    name="ingress-tls",
    display_name="Ingress and Gateway listeners terminate TLS",
    description=(
        "kubernetes networking.k8s.io Ingress has spec.tls covering its rule hosts; "
        "gateway.networking.k8s.io Gateway listeners use protocol HTTPS or TLS only."
    ),
    validate=validate_each(check_ingress),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["encryption-in-transit", "kubernetes"],
    remediation_steps=(
        "Ingress: add spec.tls=[{hosts: [...], secretName: <cert secret>}] (e.g. from cert-manager). "
        "Gateway: use protocol HTTPS (tls.mode Terminate with certificateRefs) or TLS; redirect HTTP "
        "at a separate, non-Gateway layer."
    ),
)
