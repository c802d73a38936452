"""Wire the Kafka service onto the clusters the config names.

Per listed cluster: the Strimzi operator (its own namespace, watching the Kafka namespace) and a
`KafkaCluster` with that cluster's topics and users. Then one `KafkaMirror` per configured
mirror, on the target cluster, holding the credentials and trust both sides need. Stack output
`kafka`: per cluster name its bootstrap addresses and topics, and the mirrors (no secrets).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kubernetes.kafka import (
    KafkaAclSpec,
    KafkaCluster,
    KafkaClusterArgs,
    KafkaTopicSpec,
    KafkaUserSpec,
    StrimziOperator,
    StrimziOperatorArgs,
)
from components.kubernetes.kafka_mirror import KafkaMirror, KafkaMirrorArgs, mirror_user, pattern
from stacks.config.kafka import Kafka, KafkaTopic, KafkaUser
from stacks.plan.kafka import all_ranges, kafka_name, site_ranges
from stacks.program.services.context import Built, KafkaBuilt, ServiceContext, monitoring_crds

#: Stack output with each Kafka cluster's addresses and topics, and the mirrors.
KAFKA_OUTPUT = "kafka"


def _topic(t: KafkaTopic) -> KafkaTopicSpec:
    retention = t.retention_hours * 3_600_000 if t.retention_hours > 0 else -1
    return KafkaTopicSpec(name=t.name, partitions=t.partitions, replicas=t.replicas,
                          min_insync_replicas=t.min_insync_replicas, retention_ms=retention,
                          cleanup_policy=t.cleanup_policy)


def _user(u: KafkaUser) -> KafkaUserSpec:
    return KafkaUserSpec(name=u.name, authentication=u.authentication, acls=tuple(
        KafkaAclSpec(resource_type=a.resource, name=a.name, pattern_type=a.pattern_type,
                     operations=tuple(a.operations)) for a in u.acls))


#: Secret stack output: generated SCRAM passwords of config users, by cluster name and user.
KAFKA_PASSWORDS_OUTPUT = "kafkaUserPasswords"


def build_kafka(ctx: ServiceContext, built_services: Built) -> KafkaBuilt:
    """Create the Kafka service on every configured cluster; export its stack output."""
    cfg = ctx.cfg
    kafka: Kafka | None = cfg.services.kafka
    assert kafka is not None and cfg.kubernetes is not None
    base_domain = cfg.kubernetes.base_domain
    everywhere = all_ranges(cfg)
    built: dict[str, KafkaCluster] = {}
    output: dict[str, Any] = {}
    for c in kafka.clusters:
        cluster = ctx.clusters[c.cluster]
        plan = cluster.plan
        operator = StrimziOperator(
            f"strimzi-{plan.name}",
            StrimziOperatorArgs(tags=ctx.tags, namespace=kafka.operator_namespace,
                                watch_namespaces=(kafka.namespace,)),
            pulumi.ResourceOptions(providers=[cluster.provider],
                                   depends_on=[cluster.addons.namespaces[kafka.namespace]]))
        own = site_ranges(cfg, c.cluster)
        monitoring = monitoring_crds(built_services, c.cluster)
        built[c.cluster] = KafkaCluster(
            f"kafka-{plan.name}",
            KafkaClusterArgs(
                kafka_name=kafka_name(c.cluster), namespace=kafka.namespace,
                cluster_name=plan.name, site=plan.site, base_domain=base_domain,
                version=kafka.version, sizing=c.sizing(), rack_topology_key=c.rack_topology_key,
                # Every site of the plan (peers over the VPN) plus this one: a load balancer
                # that proxies (AWS classic) presents addresses of its own VPC.
                cross_site_cidrs=tuple(dict.fromkeys(everywhere + own)),
                api_server_cidrs=tuple(own), operator_namespace=kafka.operator_namespace,
                topics=tuple(_topic(t) for t in kafka.topics if c.cluster in t.clusters),
                users=tuple(_user(u) for u in kafka.users if c.cluster in u.clusters),
                ca_validity_days=c.ca_validity_days, ca_generation=c.ca_generation,
                tags=ctx.tags, protect=cfg.protect, monitoring_crd=monitoring),
            pulumi.ResourceOptions(
                providers=[cluster.provider, ctx.providers.tls, ctx.providers.random],
                depends_on=[operator]))
        output[plan.name] = {
            "cluster": c.cluster,
            "kafka": kafka_name(c.cluster),
            "version": kafka.version,
            "bootstrapInternal": built[c.cluster].bootstrap_internal,
            "bootstrapCrossSite": built[c.cluster].bootstrap_cross_site,
            "topics": [t.name for t in kafka.topics if c.cluster in t.clusters],
        }

    mirrors = []
    for m in kafka.mirrors:
        source, target = built[m.source], built[m.target]
        src, tgt = kafka_name(m.source), kafka_name(m.target)
        KafkaMirror(
            f"kafka-mirror-{src}-to-{tgt}",
            KafkaMirrorArgs(
                source=src, target=tgt, namespace=kafka.namespace, version=kafka.version,
                source_bootstrap=source.bootstrap_cross_site,
                target_bootstrap=target.bootstrap_internal,
                source_ca_cert_pem=source.cluster_ca_cert_pem,
                source_provider=ctx.clusters[m.source].provider,
                source_cidrs=tuple(site_ranges(cfg, m.source)),
                topic_prefixes=tuple(m.topic_prefixes), group_prefixes=tuple(m.group_prefixes),
                replication_policy=m.replication_policy, replicas=m.replicas,
                tasks_max=m.tasks_max, tags=ctx.tags,
                source_depends_on=[source], target_depends_on=[target]),
            pulumi.ResourceOptions(providers=[ctx.clusters[m.target].provider,
                                              ctx.providers.random]))
        mirrors.append({
            "source": m.source, "target": m.target, "kafkaMirrorMaker2": f"{src}-to-{tgt}",
            "runsOn": ctx.clusters[m.target].plan.name, "user": mirror_user(src, tgt),
            "topicsPattern": pattern(tuple(m.topic_prefixes)),
            "replicationPolicy": m.replication_policy,
            "remoteTopicPrefix": f"{src}." if m.replication_policy == "prefix" else "",
        })
    pulumi.export(KAFKA_OUTPUT, {**output, "mirrors": mirrors})
    # SCRAM users from config connect from other sites: hand their clients the password through
    # `pulumi stack output --show-secrets kafkaUserPasswords`, never by copying Secrets around.
    pulumi.export(KAFKA_PASSWORDS_OUTPUT, pulumi.Output.secret({
        ctx.clusters[ref].plan.name: k.scram_passwords for ref, k in built.items() if k.scram_passwords
    }))
    return KafkaBuilt(clusters=built)
