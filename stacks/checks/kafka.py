"""What `services.kafka` means, checked: clusters, namespaces, sizes, topics, users and mirrors."""

from __future__ import annotations

import re
from typing import Any

from pydantic.alias_generators import to_camel

from components.kubernetes.kafka import SUPPORTED_KAFKA_VERSIONS
from components.kubernetes.objects import quantity
from stacks.checks.clusters import RESERVED_NAMESPACES
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.kafka import PREFIX_PATTERN, RESERVED_USER_PREFIX, Kafka, KafkaClusterConfig
from stacks.config.platform import PlatformConfig
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.kafka import kafka_name, namespace_usage, site_of, site_ranges


def _quota_problems(cfg: PlatformConfig, kafka: Kafka, add: Any) -> None:
    k = cfg.kubernetes
    index = next((i for i, ns in enumerate(k.namespaces) if ns.name == kafka.namespace), None)
    if index is None:
        return
    q = k.namespaces[index].quota
    loc = ("kubernetes", "namespaces", index, "quota")
    for c in kafka.clusters:
        u = namespace_usage(kafka, c.cluster)
        needs = {
            "cpu": (max(u.requests_cpu, u.limits_cpu / 2), quantity(q.cpu)),
            "memory": (max(u.requests_memory, u.limits_memory), quantity(q.memory)),
            "storage": (u.storage, quantity(q.storage)),
            "volumeClaims": (u.volume_claims, q.volume_claims),
            "pods": (u.pods, q.pods),
        }
        for key, (need, have) in needs.items():
            if need > have:
                shown = _show(key, need)
                add((*loc, key), getattr(q, {"volumeClaims": "volume_claims"}.get(key, key)),
                    f"services.kafka on {c.cluster} needs at least {shown} in namespace "
                    f"{kafka.namespace}; raise the quota or shrink the Kafka cluster")


def _show(key: str, value: Any) -> str:
    if key in ("memory", "storage"):
        return f"{(value / 2**30).normalize():f}Gi"
    return f"{value.normalize():f}" if key == "cpu" else str(value)


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    """What `services.kafka` means, checked: clusters, namespaces, sizes, topics, users, mirrors."""
    kafka = cfg.services.kafka
    if kafka is None:
        return []
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        out.append(ConfigProblem(key_path(loc), value, why))

    base = ("services", "kafka")
    known = clusters_by_ref(cfg)
    platform = [ns.name for ns in cfg.kubernetes.namespaces] if cfg.kubernetes else []
    if kafka.version not in SUPPORTED_KAFKA_VERSIONS:
        add((*base, "version"), kafka.version,
            f"allowed (the pinned Strimzi release): {', '.join(SUPPORTED_KAFKA_VERSIONS)}")
    if kafka.clusters and kafka.namespace not in platform:
        add((*base, "namespace"), kafka.namespace,
            f"allowed: a platform namespace of kubernetes.namespaces ({', '.join(platform)})")
    if kafka.operator_namespace in platform or kafka.operator_namespace in RESERVED_NAMESPACES:
        add((*base, "operatorNamespace"), kafka.operator_namespace,
            "must be its own add-on namespace, not a platform namespace or another add-on's")

    refs: dict[str, KafkaClusterConfig] = {}
    for i, c in enumerate(kafka.clusters):
        loc = (*base, "clusters", i)
        if c.cluster not in known:
            add((*loc, "cluster"), c.cluster,
                f"allowed: clusters of this stack ({', '.join(known) or 'none'})")
        elif c.cluster in refs:
            add((*loc, "cluster"), c.cluster, "one Kafka cluster per cluster; listed twice")
        elif not site_ranges(cfg, c.cluster):
            add((*loc, "cluster"), c.cluster,
                "its site needs address ranges in `network` (network.onprem.cidrs or "
                "network.<cloud>.<region>.cidr): the Kafka network rules name them")
        if c.layout == "combined" and c.brokers != 3:
            add((*loc, "brokers"), c.brokers, "the combined layout has exactly 3 dual-role nodes")
        for key in ("broker_cpu", "broker_memory"):
            if quantity(getattr(c, key)) <= 0:
                add((*loc, to_camel(key)), getattr(c, key),
                    "must be more than zero")
        refs.setdefault(c.cluster, c)
    kafka_refs = ", ".join(refs) or "none"

    def refs_ok(loc: tuple[Any, ...], clusters: list[str]) -> list[str]:
        good = []
        for j, ref in enumerate(clusters):
            if ref not in refs:
                add((*loc, "clusters", j), ref,
                    f"allowed: clusters of services.kafka.clusters ({kafka_refs})")
            else:
                good.append(ref)
        return good

    remote_prefixes = {(m.target, f"{kafka_name(m.source)}.") for m in kafka.mirrors
                       if m.replication_policy == "prefix"}
    seen_topics: set[tuple[str, str]] = set()
    for i, t in enumerate(kafka.topics):
        loc = (*base, "topics", i)
        for ref in refs_ok(loc, t.clusters):
            brokers = refs[ref].brokers
            if t.replicas > brokers:
                add((*loc, "replicas"), t.replicas,
                    f"at most the {brokers} brokers of the Kafka cluster on {ref}")
            if (ref, t.name) in seen_topics:
                add((*loc, "name"), t.name, f"topic names must be unique on {ref}")
            seen_topics.add((ref, t.name))
            for target, prefix in remote_prefixes:
                if target == ref and t.name.startswith(prefix):
                    add((*loc, "name"), t.name,
                        f"names starting with {prefix!r} on {ref} belong to MirrorMaker 2")
        if t.min_insync_replicas > t.replicas:
            add((*loc, "minInsyncReplicas"), t.min_insync_replicas,
                f"at most replicas ({t.replicas})")
        if t.retention_hours == 0:
            add((*loc, "retentionHours"), 0, "1 or more hours, or -1 to keep records forever")

    names: set[str] = set()
    for i, u in enumerate(kafka.users):
        loc = (*base, "users", i)
        refs_ok(loc, u.clusters)
        if u.name.startswith(RESERVED_USER_PREFIX):
            add((*loc, "name"), u.name, "names starting with mm2- belong to MirrorMaker 2")
        if u.name in names:
            add((*loc, "name"), u.name, "user names must be unique")
        names.add(u.name)
        for j, acl in enumerate(u.acls):
            if (acl.resource == "cluster") != (acl.name is None):
                add((*loc, "acls", j, "name"), acl.name if acl.name is not None else MISSING,
                    "cluster rules have no name; topic, group and transactionalId rules need one")

    pairs: set[tuple[str, str]] = set()
    for i, m in enumerate(kafka.mirrors):
        loc = (*base, "mirrors", i)
        for key in ("source", "target"):
            ref = getattr(m, key)
            if ref not in refs:
                add((*loc, key), ref, f"allowed: clusters of services.kafka.clusters ({kafka_refs})")
        if m.source == m.target:
            add((*loc, "target"), m.target, "a mirror copies between two different clusters")
            continue
        if (m.source, m.target) in pairs:
            add((*loc, "target"), m.target, f"a mirror from {m.source} to {m.target} exists")
        pairs.add((m.source, m.target))
        if m.source in refs and m.target in refs:
            sites = {site_of(m.source), site_of(m.target)}
            if not site_ranges(cfg, m.source) or not site_ranges(cfg, m.target):
                add(loc, f"{m.source} -> {m.target}",
                    "both sites need a network (network.onprem / network.<cloud>.<region>) "
                    "so the mirror has a path over the VPN")
            elif "onprem" not in sites and cfg.network is not None and cfg.network.onprem is None:
                add(loc, f"{m.source} -> {m.target}",
                    "cloud-to-cloud mirrors route through the on-prem VPN hub: add network.onprem")
        for key in ("topic_prefixes", "group_prefixes"):
            for j, p in enumerate(getattr(m, key)):
                if not _matches(PREFIX_PATTERN, p):
                    add((*loc, to_camel(key), j), p,
                        "letters, digits, '.', '_' and '-' (a name prefix, not a regex)")
    for i, m in enumerate(kafka.mirrors):
        back = any(n.source == m.target and n.target == m.source for n in kafka.mirrors)
        if m.replication_policy == "identity" and back:
            add((*base, "mirrors", i, "replicationPolicy"), "identity",
                "a mirror in both directions needs the prefix policy, or records loop forever")
    if cfg.kubernetes is not None and refs and not out:  # sizes are sound: add them up
        _quota_problems(cfg, kafka, add)
    return out


def _matches(regex: str, value: str) -> bool:
    return re.match(regex, value) is not None
