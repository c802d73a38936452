"""Cross-site replication: one KafkaMirrorMaker2 (v1 `target` + `mirrors[].source` shape) from a
source Kafka cluster into a target Kafka cluster, with every credential provisioned by the
program.

MirrorMaker 2 runs on the TARGET cluster (it is a Kafka Connect cluster keeping its state
there). It reads the source over the source's cross-site listener (TLS + SCRAM-SHA-512 through
the VPN) and writes to the target through the target's internal mTLS listener. The program
creates, without anyone copying files between clusters:

- on the source: a read-only SCRAM user `mm2-<source>-to-<target>` whose password comes from a
  generated RandomPassword held in the Secret `mm2-<source>-to-<target>-password`;
- on the target: the same password in a Secret of the same name, the source cluster CA
  certificate (known to the program, which generated that CA) in the Secret
  `mm2-<source>-to-<target>-source-ca`, an mTLS user of the same name allowed to create and
  write the mirrored topics and MirrorMaker's own topics, and an egress rule to the source
  site's listener port.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from components.kubernetes.kafka import (
    API,
    CROSS_SITE_PORT,
    KafkaAclSpec,
    Usage,
    cluster_ca_cert_secret,
    kafka_user,
    password_secret,
    resources,
    scram_authentication,
)
from components.kubernetes.objects import network_policy, object_labels
from components.tags import StandardTags

#: One MirrorMaker 2 (Kafka Connect) worker.
MIRROR_MAKER = (("500m", "2Gi"), ("2", "2Gi"))
#: Java class of each replication policy. `prefix` (Kafka's default) names remote topics
#: `<source alias>.<topic>`: a topic never flows back to where it came from, so mirrors in both
#: directions are safe. `identity` keeps the names (consumers move sites without renaming) but
#: cannot tell local from remote topics: safe only one way.
REPLICATION_POLICIES = {
    "prefix": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
}
_RF = 3


def mirror_user(source: str, target: str) -> str:
    """The user MirrorMaker 2 is on both sides (SCRAM on the source, mTLS on the target)."""
    return f"mm2-{source}-to-{target}"


def pattern(prefixes: tuple[str, ...]) -> str:
    """A MirrorMaker 2 topic/group regex matching exactly the given name prefixes."""
    return "|".join(p.replace(".", r"\.") + ".*" for p in prefixes)


def mirror_usage(replicas: int) -> Usage:
    """What one mirror's workers ask of the target namespace's quota."""
    return Usage.of(MIRROR_MAKER, replicas)


def _acl(kind: str, name: str | None, ops: tuple[str, ...], pattern_type: str = "prefix") -> dict:
    return KafkaAclSpec(resource_type=kind, name=name, pattern_type=pattern_type,
                        operations=ops).body()


class KafkaMirrorArgs(BaseModel):
    """Arguments of KafkaMirror."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    source: str = Field(description="Kafka name (and MirrorMaker alias) of the source cluster.")
    target: str = Field(description="Kafka name (and MirrorMaker alias) of the target cluster.")
    namespace: str = Field(description="Kafka namespace, the same on both clusters.")
    version: str = Field(description="Kafka version of the MirrorMaker 2 workers.")
    source_bootstrap: str = Field(description="Source cross-site bootstrap, host:port.")
    target_bootstrap: str = Field(description="Target internal bootstrap, host:port.")
    source_ca_cert_pem: Any = Field(description="Source cluster CA certificate (PEM Input).")
    source_provider: InstanceOf[pulumi.ProviderResource] = Field(
        description="Kubernetes provider of the source cluster (the target's comes in opts).")
    source_cidrs: tuple[str, ...] = Field(min_length=1,
                                          description="Source site ranges (its load balancers).")
    topic_prefixes: tuple[str, ...] = Field(min_length=1, description="Mirrored topic prefixes.")
    group_prefixes: tuple[str, ...] = Field(default=(),
                                            description="Consumer groups whose offsets follow.")
    replication_policy: Literal["prefix", "identity"] = Field(default="prefix",
                                                              description="Remote topic naming.")
    replicas: int = Field(default=2, ge=1, le=10, description="MirrorMaker 2 workers.")
    tasks_max: int = Field(default=2, ge=1, le=64, description="Tasks of the source connector.")
    tags: StandardTags = Field(description="Standard tags, as labels on every object.")
    source_depends_on: list[InstanceOf[pulumi.Resource]] = Field(
        default_factory=list, description="Source-side prerequisites (its Kafka).")
    target_depends_on: list[InstanceOf[pulumi.Resource]] = Field(
        default_factory=list, description="Target-side prerequisites (its Kafka).")


def mirror_maker_name(args: KafkaMirrorArgs) -> str:
    """Name of the KafkaMirrorMaker2 (and of its Connect cluster's pods)."""
    return f"{args.source}-to-{args.target}"


def password_secret_name(user: str) -> str:
    """The Secret (same name on both clusters) holding the mirror user's SCRAM password."""
    return f"{user}-password"


def source_ca_secret_name(user: str) -> str:
    """The Secret on the target holding the source cluster's CA certificate."""
    return f"{user}-source-ca"


def source_acls(args: KafkaMirrorArgs) -> list[dict]:
    """The source user's ACLs: read and describe the mirrored topics, describe the cluster and
    the followed groups; nothing else."""
    reads = [_acl("topic", p, ("Read", "Describe", "DescribeConfigs")) for p in args.topic_prefixes]
    reads += [_acl("cluster", None, ("Describe",))]
    reads += [_acl("group", g, ("Describe",)) for g in args.group_prefixes]
    return reads


def target_acls(args: KafkaMirrorArgs) -> list[dict]:
    """The target user's ACLs: its Connect group and topics, the remote topics (by the
    replication policy's naming), the checkpoint and offset-sync topics, the followed groups."""
    user = mirror_user(args.source, args.target)
    remote = (f"{args.source}.",) if args.replication_policy == "prefix" else args.topic_prefixes
    rw = ("Create", "Describe", "DescribeConfigs", "Read", "Write")
    return [_acl("group", user, ("Read",), "literal"),
            _acl("topic", f"{user}-", rw),  # Connect's config/offset/status topics
            *[_acl("topic", p, (*rw, "Alter", "AlterConfigs")) for p in remote],
            _acl("topic", f"{args.source}.checkpoints.internal", rw, "literal"),
            _acl("topic", "mm2-offset-syncs.", rw),
            _acl("cluster", None, ("Describe",)),
            *[_acl("group", g, ("Read", "Describe")) for g in args.group_prefixes]]


def mirror_spec(args: KafkaMirrorArgs) -> dict:
    """The one `mirrors[]` entry: the source over TLS + SCRAM, the source connector, and with
    group prefixes the checkpoint connector syncing their offsets."""
    user = mirror_user(args.source, args.target)
    policy = {"replication.policy.class": REPLICATION_POLICIES[args.replication_policy],
              # Offset syncs live on the target, so the source user never writes.
              "offset-syncs.topic.location": "target"}
    mirror: dict = {
        "source": {
            "alias": args.source, "bootstrapServers": args.source_bootstrap,
            "tls": {"trustedCertificates": [{"secretName": source_ca_secret_name(user),
                                             "certificate": "ca.crt"}]},
            "authentication": {"type": "scram-sha-512", "username": user,
                               "passwordSecret": {"secretName": password_secret_name(user),
                                                  "password": "password"}},
        },
        "sourceConnector": {"tasksMax": args.tasks_max, "config": {
            **policy, "replication.factor": _RF, "offset-syncs.topic.replication.factor": _RF,
            # ACLs are the User Operator's; MirrorMaker must not copy them.
            "sync.topic.acls.enabled": "false", "refresh.topics.interval.seconds": 60}},
        "topicsPattern": pattern(args.topic_prefixes),
    }
    if args.group_prefixes:
        mirror["checkpointConnector"] = {"tasksMax": 1, "config": {
            **policy, "checkpoints.topic.replication.factor": _RF,
            "sync.group.offsets.enabled": "true", "emit.checkpoints.interval.seconds": 60,
            "sync.group.offsets.interval.seconds": 60, "refresh.groups.interval.seconds": 300}}
        mirror["groupsPattern"] = pattern(args.group_prefixes)
    return mirror


def mirror_maker_spec(args: KafkaMirrorArgs) -> dict:
    """`spec` of the KafkaMirrorMaker2: the target over mTLS (Connect state topics at RF 3),
    the mirror, the workers' resources."""
    user, tgt = mirror_user(args.source, args.target), args.target
    return {
        "version": args.version,
        "replicas": args.replicas,
        "target": {
            "alias": tgt, "bootstrapServers": args.target_bootstrap, "groupId": user,
            "configStorageTopic": f"{user}-config",
            "offsetStorageTopic": f"{user}-offsets",
            "statusStorageTopic": f"{user}-status",
            "tls": {"trustedCertificates": [{"secretName": cluster_ca_cert_secret(tgt),
                                             "certificate": "ca.crt"}]},
            "authentication": {"type": "tls", "certificateAndKey": {
                "secretName": user, "certificate": "user.crt", "key": "user.key"}},
            "config": {"config.storage.replication.factor": _RF,
                       "offset.storage.replication.factor": _RF,
                       "status.storage.replication.factor": _RF},
        },
        "mirrors": [mirror_spec(args)],
        "resources": resources(MIRROR_MAKER),
    }


def source_egress_spec(args: KafkaMirrorArgs) -> dict:
    """The workers' egress to the source site's load balancers, on the listener port only."""
    return {"policyTypes": ["Egress"], "egress": [{
        "to": [{"ipBlock": {"cidr": c}} for c in args.source_cidrs],
        "ports": [{"protocol": "TCP", "port": CROSS_SITE_PORT}]}]}


def mirror_maker_pods(args: KafkaMirrorArgs) -> dict:
    """Selector of the MirrorMaker 2 worker pods."""
    return {"matchLabels": {"strimzi.io/cluster": mirror_maker_name(args),
                            "strimzi.io/kind": "KafkaMirrorMaker2"}}


class KafkaMirror(pulumi.ComponentResource):
    """MirrorMaker 2 from one site's Kafka into another's, credentials and trust included.

    Guarantees: the source user can only read (describe) the mirrored topics and groups;
    MirrorMaker 2 verifies the source brokers against the source cluster CA and authenticates
    with SCRAM-SHA-512 over TLS; the password exists only as a Pulumi secret and in the two
    Secrets; every MirrorMaker topic has replication factor 3; the target egress opens only the
    source site's listener port.
    Caller opts: providers=[the TARGET cluster's Kubernetes provider, random provider].
    """

    mirror_maker_name: str
    user: str
    password_secret_name: str
    source_ca_secret: str
    topics_pattern: str

    def __init__(self, name: str, args: KafkaMirrorArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kafka:KafkaMirror", name, None, opts)
        src, tgt, ns = args.source, args.target, args.namespace
        user, mm2 = mirror_user(src, tgt), mirror_maker_name(args)
        secret_name, ca_secret = password_secret_name(user), source_ca_secret_name(user)
        labels = object_labels(args.tags)
        password = random.RandomPassword(f"{name}-password", length=32, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))

        # Source side: the read-only SCRAM user and its password.
        on_source = pulumi.ResourceOptions(parent=self, provider=args.source_provider,
                                           depends_on=args.source_depends_on)
        src_secret = password_secret(f"{name}-source-password", secret_name, ns, labels,
                                     password.result, on_source)
        src_user = kafka_user(user, f"{name}-source-user", ns, src, labels,
                              scram_authentication(secret_name), source_acls(args),
                              pulumi.ResourceOptions(parent=self, provider=args.source_provider,
                                                     depends_on=[*args.source_depends_on,
                                                                 src_secret]))

        # Target side: the same password, the source CA, an mTLS user that writes.
        on_target = pulumi.ResourceOptions(parent=self, depends_on=args.target_depends_on)
        tgt_secret = password_secret(f"{name}-target-password", secret_name, ns, labels,
                                     password.result, on_target)
        trust = k8s.core.v1.Secret(
            f"{name}-source-ca", metadata={"name": ca_secret, "namespace": ns, "labels": labels},
            type="Opaque", string_data={"ca.crt": args.source_ca_cert_pem}, opts=on_target)
        tgt_user = kafka_user(user, f"{name}-target-user", ns, tgt, labels, {"type": "tls"},
                              target_acls(args), on_target)

        k8s.apiextensions.CustomResource(
            f"{name}-mirror-maker", api_version=API, kind="KafkaMirrorMaker2",
            metadata={"name": mm2, "namespace": ns, "labels": labels},
            spec=mirror_maker_spec(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[
                *args.target_depends_on, tgt_secret, trust, tgt_user, src_user]))
        network_policy(f"{name}-egress", f"{mm2}-egress-source", ns, args.tags,
                       source_egress_spec(args), self, depends_on=args.target_depends_on,
                       pod_selector=mirror_maker_pods(args))

        self.mirror_maker_name, self.user = mm2, user
        self.password_secret_name, self.source_ca_secret = secret_name, ca_secret
        self.topics_pattern = pattern(args.topic_prefixes)
        self.register_outputs({"name": mm2, "user": user, "topics_pattern": self.topics_pattern})
