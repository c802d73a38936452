"""The pure builders of components/kubernetes/kafka/ and kafka_mirror.py, without Pulumi."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pulumi
import pytest
import yaml

from components.kubernetes.kafka import KAFKA_METRICS_RULES, KafkaClusterArgs, KafkaSizing
from components.kubernetes.kafka.kafka_spec import (
    ca_secret_metadata,
    cross_site_bootstrap,
    internal_bootstrap,
    kafka_spec,
    network_rules,
    node_pools,
    owned_labels,
    pod_monitor_spec,
    pool_spec,
)
from components.kubernetes.kafka.metrics import (
    METRICS_KEY,
    METRICS_RULES_FILE,
    metrics_config_data,
    metrics_config_name,
)
from components.kubernetes.kafka.specs import (
    CONTROLLER,
    KafkaAclSpec,
    KafkaTopicSpec,
    Usage,
    resources,
)
from components.kubernetes.kafka.strimzi import scram_authentication, topic_spec, user_spec
from components.kubernetes.kafka.strimzi_operator import StrimziOperatorArgs, operator_values
from components.kubernetes.kafka_mirror import (
    KafkaMirrorArgs,
    mirror_maker_name,
    mirror_maker_pods,
    mirror_maker_spec,
    mirror_spec,
    source_acls,
    source_egress_spec,
    target_acls,
)
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _args(**overrides) -> KafkaClusterArgs:
    values = {"kafka_name": "onprem", "namespace": "kafka", "cluster_name": "hml-prod-onprem",
              "site": "onprem", "base_domain": "ml.example.com", "version": "4.2.0",
              "cross_site_cidrs": ("10.20.0.0/16", "10.30.0.0/16"),
              "api_server_cidrs": ("10.0.0.10/32",), "tags": TAGS, "protect": False}
    return KafkaClusterArgs(**{**values, **overrides})


#: SHA-256 of the rules as they were when they lived in kafka.py as a string: the ConfigMap
#: (and so the brokers' metric names) must not change because the text moved to a file.
RULES_SHA256 = "348b57f1ca3c058d731892f059ecaafc3e918d287443befe0c653d44ece97af5"


def test_metrics_rules_are_unchanged_by_the_move_to_a_data_file():
    assert METRICS_RULES_FILE.name == "metrics_rules.yaml"
    assert hashlib.sha256(KAFKA_METRICS_RULES.encode()).hexdigest() == RULES_SHA256
    assert KAFKA_METRICS_RULES.startswith("lowercaseOutputName: true\nrules:\n")
    assert metrics_config_data() == {METRICS_KEY: KAFKA_METRICS_RULES}
    assert metrics_config_name("onprem") == "onprem-kafka-metrics"


def test_metrics_rules_keep_their_regex_escapes():
    rules = yaml.safe_load(KAFKA_METRICS_RULES)["rules"]
    percent = next(r for r in rules if r["name"] == "kafka_$1_$2_$3_percent")
    # A single backslash in the file: `\w` is a regex class, not an escaped `w`.
    assert percent["pattern"] == r"kafka.(\w+)<type=(.+), name=(.+)Percent\w*><>MeanRate"
    assert re.fullmatch(percent["pattern"], "kafka.network<type=X, name=IdlePercentX><>MeanRate")


def test_dedicated_layout_has_controllers_with_high_ids_and_brokers_from_zero():
    pools = node_pools(KafkaSizing(brokers=5))
    assert [(p.name, p.roles, p.node_ids) for p in pools] == [
        ("controllers", ["controller"], "[100-199]"), ("brokers", ["broker"], "[0-99]")]
    assert pools[0].container == CONTROLLER
    assert pools[1].container == (("1", "4Gi"), ("2", "4Gi"))


def test_combined_layout_is_one_dual_role_pool():
    [pool] = node_pools(KafkaSizing(layout="combined", broker_storage="50Gi"))
    assert (pool.name, pool.roles, pool.size, pool.node_ids) == (
        "nodes", ["controller", "broker"], "50Gi", "[0-99]")


def test_pool_spec_sizes_replicas_by_role_and_spreads_over_zones():
    args = _args(sizing=KafkaSizing(brokers=6))
    controllers, brokers = (pool_spec(args, p) for p in node_pools(args.sizing))
    assert controllers["replicas"] == 3 and brokers["replicas"] == 6
    [volume] = brokers["storage"]["volumes"]
    assert volume["size"] == "100Gi" and volume["deleteClaim"] is False
    [spread] = brokers["template"]["pod"]["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["labelSelector"]["matchLabels"] == {"strimzi.io/cluster": "onprem",
                                                      "strimzi.io/pool-name": "brokers"}
    assert brokers["resources"] == resources((("1", "4Gi"), ("2", "4Gi")))


def test_kafka_spec_listeners_are_tls_only_and_cross_site_is_restricted():
    spec = kafka_spec(_args(), metrics_config="onprem-kafka-metrics")
    internal, cross = spec["kafka"]["listeners"]
    assert (internal["name"], internal["port"], internal["authentication"]) == (
        "tls", 9093, {"type": "tls"})
    assert (cross["name"], cross["port"], cross["authentication"]) == (
        "crosssite", 9094, {"type": "scram-sha-512"})
    assert internal["tls"] and cross["tls"]
    assert cross["configuration"]["loadBalancerSourceRanges"] == ["10.20.0.0/16", "10.30.0.0/16"]
    assert cross["configuration"]["advertisedHostTemplate"] == (
        "kafka-{nodeId}.hml-prod-onprem.ml.example.com")
    assert spec["kafka"]["config"]["auto.create.topics.enable"] is False
    assert spec["kafka"]["metricsConfig"]["valueFrom"]["configMapKeyRef"] == {
        "name": "onprem-kafka-metrics", "key": METRICS_KEY}
    assert spec["clusterCa"]["generateCertificateAuthority"] is False
    # On-prem load balancers need no annotations; no Cruise Control unless asked.
    assert "template" not in spec["kafka"] and "cruiseControl" not in spec


def test_kafka_spec_annotates_cloud_load_balancers_internal_and_adds_cruise_control():
    spec = kafka_spec(_args(site="gcp", sizing=KafkaSizing(cruise_control=True)), "m")
    service = {"metadata": {"annotations": {"networking.gke.io/load-balancer-type": "Internal"}}}
    assert spec["kafka"]["template"] == {"externalBootstrapService": service,
                                         "perPodService": service}
    assert spec["cruiseControl"]["resources"]["limits"]["memory"] == "1Gi"


def test_ca_secret_metadata_follows_strimzis_own_ca_contract():
    labels = {"a": "b"}
    cert = ca_secret_metadata(_args(ca_generation=2), "clients", "cert", labels)
    key = ca_secret_metadata(_args(ca_generation=2), "clients", "key", labels)
    assert cert["name"] == "onprem-clients-ca-cert" and key["name"] == "onprem-clients-ca"
    assert cert["annotations"] == {"strimzi.io/ca-cert-generation": "2"}
    assert key["annotations"] == {"strimzi.io/ca-key-generation": "0"}
    assert cert["labels"] == {"a": "b", "strimzi.io/kind": "Kafka", "strimzi.io/cluster": "onprem"}


def test_network_rules_open_operator_ports_cross_site_and_api_server():
    rules = {r.role: r for r in network_rules(_args())}
    assert list(rules) == ["allow-operator", "allow-cross-site", "allow-api-server"]
    operator = rules["allow-operator"].spec["ingress"][0]
    assert [p["port"] for p in operator["ports"]] == [8083, 8443, 9090, 9091]
    cross = rules["allow-cross-site"]
    assert cross.name == "onprem-allow-cross-site"
    assert cross.pod_selector["matchLabels"]["strimzi.io/broker-role"] == "true"
    assert cross.spec["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9094}]
    api = rules["allow-api-server"].spec["egress"][0]
    assert api["to"] == [{"ipBlock": {"cidr": "10.0.0.10/32"}}]
    assert [p["port"] for p in api["ports"]] == [443, 6443]


def test_addresses_labels_and_pod_monitor():
    assert internal_bootstrap("onprem", "kafka") == "onprem-kafka-bootstrap.kafka.svc:9093"
    assert cross_site_bootstrap("c1", "ml.example.com") == "kafka-bootstrap.c1.ml.example.com:9094"
    assert owned_labels({"x": "y"}, "k") == {"x": "y", "strimzi.io/cluster": "k"}
    assert pod_monitor_spec("k", "kafka")["namespaceSelector"] == {"matchNames": ["kafka"]}


def test_topic_and_user_specs():
    topic = KafkaTopicSpec(name="events.raw", partitions=12, retention_ms=-1,
                           cleanup_policy="compact")
    assert topic_spec(topic) == {"partitions": 12, "replicas": 3, "config": {
        "retention.ms": -1, "cleanup.policy": "compact", "min.insync.replicas": 2}}
    acl = KafkaAclSpec(resource_type="topic", name="events.", pattern_type="prefix",
                       operations=("Read",)).body()
    auth = scram_authentication("u-password")
    assert auth["password"]["valueFrom"]["secretKeyRef"] == {"name": "u-password",
                                                             "key": "password"}
    assert user_spec(auth, [acl]) == {"authentication": auth,
                                      "authorization": {"type": "simple", "acls": [acl]}}


def test_usage_adds_up_pods_and_storage():
    total = Usage.of(CONTROLLER, 3, "20Gi") + Usage.of(CONTROLLER)
    assert total.pods == 4 and total.volume_claims == 3
    assert total.requests_cpu == Decimal("2.000")
    assert total.storage == 60 * Decimal(2) ** 30


def test_operator_values_are_restricted_and_watch_the_given_namespaces():
    values = operator_values(StrimziOperatorArgs(tags=TAGS, watch_namespaces=("kafka",)))
    assert values["watchNamespaces"] == ["kafka"] and values["replicas"] == 2
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"} in (
        values["extraEnvs"])


def _mirror(**overrides) -> KafkaMirrorArgs:
    values = {"source": "onprem", "target": "aws", "namespace": "kafka", "version": "4.2.0",
              "source_bootstrap": "kafka-bootstrap.a.example.com:9094",
              "target_bootstrap": "aws-kafka-bootstrap.kafka.svc:9093",
              "source_ca_cert_pem": "PEM", "source_cidrs": ("10.20.0.0/16",),
              "topic_prefixes": ("events.", "audit."), "tags": TAGS,
              # The builders never read the provider; an unregistered instance passes the
              # args' type check without a Pulumi runtime.
              "source_provider": pulumi.ProviderResource.__new__(pulumi.ProviderResource)}
    return KafkaMirrorArgs(**{**values, **overrides})


def test_mirror_source_user_only_reads_and_describes():
    acls = source_acls(_mirror(group_prefixes=("team-a-",)))
    assert acls == [
        {"resource": {"type": "topic", "name": "events.", "patternType": "prefix"},
         "operations": ["Read", "Describe", "DescribeConfigs"]},
        {"resource": {"type": "topic", "name": "audit.", "patternType": "prefix"},
         "operations": ["Read", "Describe", "DescribeConfigs"]},
        {"resource": {"type": "cluster"}, "operations": ["Describe"]},
        {"resource": {"type": "group", "name": "team-a-", "patternType": "prefix"},
         "operations": ["Describe"]},
    ]
    assert not any({"Write", "Create", "Alter"} & set(a["operations"]) for a in acls)


def test_mirror_target_user_writes_remote_topics_named_by_the_policy():
    def written(args: KafkaMirrorArgs) -> list[str]:
        return [a["resource"]["name"] for a in target_acls(args) if "Alter" in a["operations"]]

    assert written(_mirror()) == ["onprem."]
    assert written(_mirror(replication_policy="identity")) == ["events.", "audit."]
    names = [a["resource"].get("name") for a in target_acls(_mirror())]
    assert {"mm2-onprem-to-aws", "mm2-onprem-to-aws-", "onprem.checkpoints.internal",
            "mm2-offset-syncs."} <= set(names)


def test_mirror_spec_reads_the_source_over_scram_and_syncs_groups_only_when_asked():
    mirror = mirror_spec(_mirror())
    assert mirror["source"]["authentication"] == {
        "type": "scram-sha-512", "username": "mm2-onprem-to-aws",
        "passwordSecret": {"secretName": "mm2-onprem-to-aws-password", "password": "password"}}
    assert mirror["source"]["tls"]["trustedCertificates"] == [
        {"secretName": "mm2-onprem-to-aws-source-ca", "certificate": "ca.crt"}]
    assert mirror["topicsPattern"] == r"events\..*|audit\..*"
    assert "checkpointConnector" not in mirror and "groupsPattern" not in mirror
    with_groups = mirror_spec(_mirror(group_prefixes=("team-a-",)))
    assert with_groups["groupsPattern"] == "team-a-.*"
    assert with_groups["checkpointConnector"]["config"]["sync.group.offsets.enabled"] == "true"


def test_mirror_maker_spec_writes_the_target_over_mtls_at_rf3():
    spec = mirror_maker_spec(_mirror())
    target = spec["target"]
    assert target["authentication"]["certificateAndKey"]["secretName"] == "mm2-onprem-to-aws"
    assert target["tls"]["trustedCertificates"] == [
        {"secretName": "aws-cluster-ca-cert", "certificate": "ca.crt"}]
    assert set(target["config"].values()) == {3}
    assert spec["replicas"] == 2 and len(spec["mirrors"]) == 1


def test_mirror_egress_opens_only_the_source_listener():
    args = _mirror()
    assert mirror_maker_name(args) == "onprem-to-aws"
    assert source_egress_spec(args) == {"policyTypes": ["Egress"], "egress": [{
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
        "ports": [{"protocol": "TCP", "port": 9094}]}]}
    assert mirror_maker_pods(args)["matchLabels"]["strimzi.io/kind"] == "KafkaMirrorMaker2"


def test_sizing_rejects_a_combined_layout_of_other_than_three():
    with pytest.raises(ValueError, match="exactly 3"):
        KafkaSizing(layout="combined", brokers=4)
