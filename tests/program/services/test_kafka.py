"""Kafka end to end: the prod stack with `services.kafka` (on-prem and AWS, MirrorMaker 2 from
on-prem to AWS) previews schema-valid and policy-clean; each cluster is a Strimzi v1 KRaft
cluster with node pools, rack awareness, RF 3 / min ISR 2 and TLS-only listeners, with its own
program-generated CAs; topics and users come from config; MirrorMaker 2 runs on the target,
reads the source over its cross-site listener with the source's CA and a SCRAM password that
the program put on both sides (and nowhere in plain); bad config is refused with the key path."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.kubernetes.charts import CHARTS
from components.kubernetes.kafka import (
    KafkaCluster,
    KafkaClusterArgs,
    KafkaSizing,
    KafkaTopicSpec,
    StrimziOperator,
    StrimziOperatorArgs,
)
from components.tags import StandardTags
from stacks.checks.problems import ConfigError
from stacks.plan.kafka import namespace_usage
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.offline import SECRET_SIG, SIG_KEY
from stacks.program.validate import parse_platform
from tests.conftest import CANARY, ROOT, canary_mocks, component_plan, stack_platform, write_stack
from tests.conftest import config_problems as problems_of

# The snippets the lead pastes under `services:` (also /tmp/spec/kafka-stack.yaml).
SNIPPET = yaml.safe_load("""
prod:
  kafka:
    namespace: kafka              # a platform namespace (default-deny, restricted PSS, quota)
    operatorNamespace: strimzi    # Strimzi's own add-on namespace
    version: "4.2.0"              # newest Kafka of the pinned Strimzi 1.0.1
    clusters:
      - cluster: onprem           # 3 controllers + 3 brokers across racks
        rackTopologyKey: topology.kubernetes.io/zone   # the label the on-prem nodes carry
      - cluster: aws/eu-west-1
    topics:
      - name: features-online
        clusters: [onprem]
        partitions: 12
        retentionHours: 168
      - name: training-events
        clusters: [onprem]
        partitions: 6
        retentionHours: 336
      - name: inference-requests
        clusters: [aws/eu-west-1]
        partitions: 6
        retentionHours: 72
    users:
      - name: feature-pipeline    # in-cluster producer on-prem: mTLS on 9093
        clusters: [onprem]
        authentication: tls
        acls:
          - resource: topic
            name: features-
            patternType: prefix
            operations: [Write, Describe]
          - resource: topic
            name: training-
            patternType: prefix
            operations: [Write, Describe]
      - name: edge-ingest         # a producer at another site: SCRAM on the cross-site listener
        clusters: [onprem]
        authentication: scram-sha-512   # password generated; Secret edge-ingest-password
        acls:
          - resource: topic
            name: features-
            patternType: prefix
            operations: [Write, Describe]
      - name: trainer             # reads the mirrored topics on AWS
        clusters: [aws/eu-west-1]
        authentication: tls
        acls:
          - resource: topic
            name: onprem.
            patternType: prefix
            operations: [Read, Describe]
          - resource: group
            name: training-
            patternType: prefix
            operations: [Read]
    mirrors:
      - source: onprem            # MirrorMaker 2 runs on the target (aws/eu-west-1)
        target: aws/eu-west-1
        topicPrefixes: [features-, training-]
        groupPrefixes: [training-]
        replicationPolicy: prefix # remote topics onprem.features-*, onprem.training-*

dev:
  kafka:
    clusters:
      - cluster: onprem
        layout: combined          # 3 dual-role nodes: small
        brokerStorage: 50Gi
    topics:
      - name: features-online
        clusters: [onprem]
        partitions: 3
      - name: training-events
        clusters: [onprem]
        partitions: 3
""")
K = "hybrid-ml-platform:platform.services.kafka"
ONPREM, AWS = "onprem-prod", "hml-prod-aws-eu-west-1"
BASE = "ml.hml.internal"
MM2_USER = "mm2-onprem-to-aws-eu-west-1"
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def with_kafka(stack: str, **over: Any) -> dict[str, Any]:
    platform = stack_platform(stack)
    platform.setdefault("services", {})["kafka"] = {**copy.deepcopy(SNIPPET[stack]["kafka"]), **over}
    return platform


def _mocks():
    """Canary passwords, and CA certificates whose PEM names the resource that made them."""
    base = type(canary_mocks())

    class Mocks(base):
        def new_resource(self, args):
            rid, outputs = super().new_resource(args)
            if args.typ == "tls:index/selfSignedCert:SelfSignedCert":
                outputs = {**outputs, "certPem": f"PEM-{args.name}"}
            return rid, outputs

    return Mocks()


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    from stacks.preview.run import run_preview

    project = write_stack(tmp_path_factory.mktemp("kafka-prod"), "prod", with_kafka("prod"))
    return run_preview(project, "prod", resource_mocks=_mocks())


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    from stacks.preview.run import run_preview

    project = write_stack(tmp_path_factory.mktemp("kafka-dev"), "dev", with_kafka("dev"))
    return run_preview(project, "dev")


def _objects(result, kind: str, cluster: str | None = None) -> list:
    return [o for o in kubernetes_objects(result.plan)
            if o.kind == kind and (cluster is None or o.cluster == cluster)]


def _one(result, kind: str, cluster: str, name: str) -> dict[str, Any]:
    [body] = [o.body for o in _objects(result, kind, cluster) if o.name == name]
    return body


def _raw(result, kind: str, cluster_name: str, name: str) -> dict[str, Any]:
    """The wire inputs (secrets still wrapped) of one object, as the engine receives them."""
    [obj] = [o for o in _objects(result, kind, cluster_name) if o.name == name]
    [raw] = [r for r in result.capture.resources if r.urn == obj.urn]
    return raw.inputs


def _secret_value(wrapped: Any) -> str:
    assert isinstance(wrapped, dict) and wrapped.get(SIG_KEY) == SECRET_SIG, wrapped
    return wrapped["value"]


# --- the prod stack, end to end -------------------------------------------------------------------

def test_snippets_validate_for_both_stacks():
    for stack in ("dev", "prod"):
        cfg = parse_platform(with_kafka(stack))
        assert [c.cluster for c in cfg.services.kafka.clusters] == [
            c["cluster"] for c in SNIPPET[stack]["kafka"]["clusters"]]


def test_a_v1_kraft_cluster_runs_on_each_configured_cluster_only(prod):
    kafkas = {o.cluster: o for o in _objects(prod, "Kafka")}
    assert sorted(kafkas) == sorted([ONPREM, AWS])  # not on GCP or Azure
    for cluster, obj in kafkas.items():
        assert obj.body["apiVersion"] == "kafka.strimzi.io/v1" and obj.namespace == "kafka"
        pools = {o.name: o.body for o in _objects(prod, "KafkaNodePool", cluster)}
        assert {n: (p["spec"]["roles"], p["spec"]["replicas"]) for n, p in pools.items()} == {
            "controllers": (["controller"], 3), "brokers": (["broker"], 3)}
        for pool in pools.values():
            assert pool["apiVersion"] == "kafka.strimzi.io/v1"
            assert pool["metadata"]["labels"]["strimzi.io/cluster"] == obj.name
            [volume] = pool["spec"]["storage"]["volumes"]
            assert volume["type"] == "persistent-claim" and volume["deleteClaim"] is False
            assert volume["class"] == "encrypted"  # the encrypted default StorageClass
        spec = obj.body["spec"]["kafka"]
        assert "replicas" not in spec and "storage" not in spec  # v1: node pools only
        assert spec["rack"] == {"topologyKey": "topology.kubernetes.io/zone"}
        assert spec["version"] == "4.2.0"
        config = spec["config"]
        assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
        assert config["offsets.topic.replication.factor"] == 3
        assert config["transaction.state.log.replication.factor"] == 3
        assert config["transaction.state.log.min.isr"] == 2
        assert config["auto.create.topics.enable"] is False
        assert spec["authorization"] == {"type": "simple"}


def test_listeners_are_tls_only_mtls_inside_and_scram_across_sites(prod):
    for cluster in (ONPREM, AWS):
        [kafka] = _objects(prod, "Kafka", cluster)
        listeners = {x["name"]: x for x in kafka.body["spec"]["kafka"]["listeners"]}
        assert sorted(listeners) == ["crosssite", "tls"]
        assert all(x["tls"] is True for x in listeners.values())
        inside, across = listeners["tls"], listeners["crosssite"]
        assert (inside["port"], inside["type"], inside["authentication"]) == (
            9093, "internal", {"type": "tls"})
        assert (across["port"], across["type"], across["authentication"]) == (
            9094, "loadbalancer", {"type": "scram-sha-512"})
        conf = across["configuration"]
        assert conf["advertisedHostTemplate"] == f"kafka-{{nodeId}}.{cluster}.{BASE}"
        assert conf["bootstrap"]["alternativeNames"] == [f"kafka-bootstrap.{cluster}.{BASE}"]
        assert "10.0.0.0/14" in conf["loadBalancerSourceRanges"]
    [aws] = _objects(prod, "Kafka", AWS)
    template = aws.body["spec"]["kafka"]["template"]
    for service in ("externalBootstrapService", "perPodService"):  # private load balancers
        assert template[service]["metadata"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"


def test_cluster_and_clients_cas_are_generated_by_the_program(prod):
    for cluster, k in ((ONPREM, "onprem"), (AWS, "aws-eu-west-1")):
        [kafka] = _objects(prod, "Kafka", cluster)
        for role in ("clusterCa", "clientsCa"):
            assert kafka.body["spec"][role]["generateCertificateAuthority"] is False
        for role in ("cluster", "clients"):
            cert = _one(prod, "Secret", cluster, f"{k}-{role}-ca-cert")
            key = _one(prod, "Secret", cluster, f"{k}-{role}-ca")
            for secret in (cert, key):
                assert secret["metadata"]["labels"]["strimzi.io/kind"] == "Kafka"
                assert secret["metadata"]["labels"]["strimzi.io/cluster"] == k
            assert cert["metadata"]["annotations"] == {"strimzi.io/ca-cert-generation": "0"}
            assert key["metadata"]["annotations"] == {"strimzi.io/ca-key-generation": "0"}
            assert key["stringData"] == "[secret]"  # the CA key never shows
            raw = _raw(prod, "Secret", cluster, f"{k}-{role}-ca-cert")
            assert _secret_value(raw["stringData"]) == {"ca.crt": f"PEM-kafka-{cluster}-{role}-ca-cert"}
    keys = [r for r in prod.plan["resources"] if r["type"] == "tls:index/privateKey:PrivateKey"
            and "hybridml:kafka:KafkaCluster" in r["urn"]]
    assert len(keys) == 4 and all(r["protect"] for r in keys)  # prod: replacing one breaks trust
    assert all(r["inputs"]["algorithm"] == "RSA" for r in keys)


def test_operator_is_pinned_ha_restricted_and_watches_the_kafka_namespace(prod):
    pin = CHARTS["strimzi-kafka-operator"]
    releases = [r for r in prod.plan["helmReleases"] if r["chart"] == pin.chart]
    assert sorted(r["cluster"] for r in releases) == sorted([ONPREM, AWS])
    for r in releases:
        assert r["version"] == pin.version and r["namespace"] == "strimzi"
        values = r["values"]
        assert values["replicas"] == 2 and values["leaderElection"] == {"enable": True}
        assert values["watchNamespaces"] == ["kafka"]
        assert {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"} in values["extraEnvs"]
        assert "[secret]" not in json.dumps(values) and "PEM-" not in json.dumps(values)
        [ns] = [o.body for o in _objects(prod, "Namespace", r["cluster"]) if o.name == "strimzi"]
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_topics_and_users_come_from_config(prod):
    topics = {(o.cluster, o.name): o.body for o in _objects(prod, "KafkaTopic")}
    assert sorted(topics) == sorted([(ONPREM, "features-online"), (ONPREM, "training-events"),
                                     (AWS, "inference-requests")])
    features = topics[(ONPREM, "features-online")]
    assert features["metadata"]["labels"]["strimzi.io/cluster"] == "onprem"
    assert features["spec"]["partitions"] == 12 and features["spec"]["replicas"] == 3
    assert features["spec"]["config"] == {"retention.ms": 168 * 3_600_000, "cleanup.policy": "delete",
                                          "min.insync.replicas": 2}
    users = {(o.cluster, o.name): o.body for o in _objects(prod, "KafkaUser")}
    assert sorted(users) == sorted([(ONPREM, "feature-pipeline"), (ONPREM, "edge-ingest"),
                                    (AWS, "trainer"), (ONPREM, MM2_USER), (AWS, MM2_USER)])
    pipeline = users[(ONPREM, "feature-pipeline")]["spec"]
    assert pipeline["authentication"] == {"type": "tls"}
    assert pipeline["authorization"]["acls"][0] == {
        "resource": {"type": "topic", "name": "features-", "patternType": "prefix"},
        "operations": ["Write", "Describe"]}
    for user in users.values():  # v1: `operations` lists, never the removed `operation`
        assert user["metadata"]["labels"]["strimzi.io/cluster"] in ("onprem", "aws-eu-west-1")
        assert all("operation" not in acl and acl["operations"]
                   for acl in user["spec"]["authorization"]["acls"])
    scram = users[(ONPREM, "edge-ingest")]["spec"]["authentication"]
    assert scram == {"type": "scram-sha-512", "password": {"valueFrom": {"secretKeyRef": {
        "name": "edge-ingest-password", "key": "password"}}}}
    raw = _raw(prod, "Secret", ONPREM, "edge-ingest-password")
    assert _secret_value(raw["stringData"]) == {"password": f"{CANARY}-kafka-{ONPREM}-user-edge-ingest-password"}


def test_mirror_maker_runs_on_the_target_and_reads_the_source_across_sites(prod):
    mm2s = _objects(prod, "KafkaMirrorMaker2")
    assert [(o.cluster, o.name) for o in mm2s] == [(AWS, "onprem-to-aws-eu-west-1")]
    spec = mm2s[0].body["spec"]
    assert mm2s[0].body["apiVersion"] == "kafka.strimzi.io/v1"
    assert "clusters" not in spec and "connectCluster" not in spec  # the v1 shape
    target = spec["target"]
    assert target["alias"] == "aws-eu-west-1"
    assert target["bootstrapServers"] == "aws-eu-west-1-kafka-bootstrap.kafka.svc:9093"
    assert target["authentication"]["certificateAndKey"]["secretName"] == MM2_USER
    assert all(target["config"][f"{t}.storage.replication.factor"] == 3
               for t in ("config", "offset", "status"))
    [mirror] = spec["mirrors"]
    source = mirror["source"]
    assert source["alias"] == "onprem"
    assert source["bootstrapServers"] == f"kafka-bootstrap.{ONPREM}.{BASE}:9094"
    assert mirror["topicsPattern"] == "features-.*|training-.*"
    assert mirror["groupsPattern"] == "training-.*"
    connector = mirror["sourceConnector"]["config"]
    assert connector["replication.factor"] == 3 and connector["offset-syncs.topic.replication.factor"] == 3
    assert connector["replication.policy.class"].endswith(".DefaultReplicationPolicy")
    assert mirror["checkpointConnector"]["config"]["checkpoints.topic.replication.factor"] == 3

    # Trust: the Secret MirrorMaker names holds the on-prem cluster CA the program generated.
    [trusted] = source["tls"]["trustedCertificates"]
    trust = _secret_value(_raw(prod, "Secret", AWS, trusted["secretName"])["stringData"])
    assert trust[trusted["certificate"]] == f"PEM-kafka-{ONPREM}-cluster-ca-cert"
    onprem_ca = _secret_value(_raw(prod, "Secret", ONPREM, "onprem-cluster-ca-cert")["stringData"])
    assert onprem_ca["ca.crt"] == trust["ca.crt"]

    # Credentials: one generated password, in a Secret of the same name on both sides.
    auth = source["authentication"]
    assert auth["type"] == "scram-sha-512" and auth["username"] == MM2_USER
    name, key = auth["passwordSecret"]["secretName"], auth["passwordSecret"]["password"]
    on_target = _secret_value(_raw(prod, "Secret", AWS, name)["stringData"])[key]
    on_source = _secret_value(_raw(prod, "Secret", ONPREM, name)["stringData"])[key]
    assert on_target == on_source == f"{CANARY}-kafka-mirror-onprem-to-aws-eu-west-1-password"
    source_user = _one(prod, "KafkaUser", ONPREM, MM2_USER)["spec"]
    assert source_user["authentication"]["password"]["valueFrom"]["secretKeyRef"] == {
        "name": name, "key": key}


def test_the_source_user_only_reads_and_the_target_user_writes_the_remote_topics(prod):
    reads = _one(prod, "KafkaUser", ONPREM, MM2_USER)["spec"]["authorization"]["acls"]
    granted = {op for acl in reads for op in acl["operations"]}
    assert granted <= {"Read", "Describe", "DescribeConfigs"}
    assert {(a["resource"].get("name"), tuple(a["operations"])) for a in reads
            if a["resource"]["type"] == "topic"} == {
        ("features-", ("Read", "Describe", "DescribeConfigs")),
        ("training-", ("Read", "Describe", "DescribeConfigs"))}
    writes = _one(prod, "KafkaUser", AWS, MM2_USER)["spec"]
    assert writes["authentication"] == {"type": "tls"}
    remote = [a for a in writes["authorization"]["acls"] if a["resource"].get("name") == "onprem."]
    assert remote and {"Create", "Write"} <= set(remote[0]["operations"])
    assert remote[0]["resource"]["patternType"] == "prefix"


def test_network_rules_name_ranges_and_ports(prod):
    policies = {(o.cluster, o.name): o.body["spec"] for o in _objects(prod, "NetworkPolicy")
                if o.namespace == "kafka"}
    egress = policies[(AWS, "onprem-to-aws-eu-west-1-egress-source")]
    assert egress["egress"] == [{"to": [{"ipBlock": {"cidr": "10.0.0.0/14"}}],
                                 "ports": [{"protocol": "TCP", "port": 9094}]}]
    assert egress["podSelector"]["matchLabels"]["strimzi.io/kind"] == "KafkaMirrorMaker2"
    ingress = policies[(ONPREM, "onprem-allow-cross-site")]["ingress"][0]
    assert {p["ipBlock"]["cidr"] for p in ingress["from"]} >= {"10.16.0.0/16", "10.0.0.0/14"}
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9094}]
    operator = policies[(AWS, "aws-eu-west-1-allow-strimzi-operator")]["ingress"][0]
    assert operator["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "strimzi"}
    api = policies[(AWS, "aws-eu-west-1-allow-api-server")]["egress"][0]
    assert api["to"] == [{"ipBlock": {"cidr": "10.16.0.0/16"}}]  # this cluster's own VPC
    for (cluster, name), spec in policies.items():
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0", (cluster, name)


def test_every_kafka_object_is_schema_valid_and_policy_clean(prod):
    from stacks.preview.analyzer_client import run_policy_pack

    assert prod.schema_check.errors == []
    mine = [r for r in prod.plan["resources"] if "hybridml:kafka:" in r["urn"]]
    core = [r for r in mine if r["type"].startswith(("kubernetes:core/", "kubernetes:networking"))]
    assert len(core) >= 20  # Secrets, ConfigMaps, NetworkPolicies: checked against 1.32/1.33
    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", prod.plan["resources"], config,
                             analyze_all_resources=True)
    assert [(d.policy_name, d.urn) for d in report.diagnostics
            if d.urn and "hybridml:kafka:" in d.urn] == []


def test_generated_secrets_never_appear_in_plain(prod):
    text = json.dumps(prod.plan)
    assert CANARY not in text
    # In the wire form a canary may only sit inside a secret-wrapped value.
    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            if value.get(SIG_KEY) == SECRET_SIG:
                return False
            return any(plain(v) for v in value.values())
        if isinstance(value, list):
            return any(plain(v) for v in value)
        return isinstance(value, str) and CANARY in value
    leaks = [r.urn for r in prod.capture.resources if plain(r.inputs)]
    assert leaks == []
    assert CANARY not in json.dumps(prod.capture.outputs.get("kafka", {}))


def test_stack_output_lists_bootstraps_topics_and_mirrors(prod):
    out = prod.plan["outputs"]["kafka"]
    assert out[ONPREM]["bootstrapCrossSite"] == f"kafka-bootstrap.{ONPREM}.{BASE}:9094"
    assert out[ONPREM]["bootstrapInternal"] == "onprem-kafka-bootstrap.kafka.svc:9093"
    assert out[AWS]["topics"] == ["inference-requests"]
    assert out["mirrors"] == [{
        "source": "onprem", "target": "aws/eu-west-1", "kafkaMirrorMaker2": "onprem-to-aws-eu-west-1",
        "runsOn": AWS, "user": MM2_USER, "topicsPattern": "features-.*|training-.*",
        "replicationPolicy": "prefix", "remoteTopicPrefix": "onprem."}]
    assert "[secret]" not in json.dumps(out)


def test_dev_runs_three_dual_role_nodes_on_prem(dev):
    [kafka] = _objects(dev, "Kafka")
    assert kafka.cluster == "onprem-dev"
    [pool] = [o.body for o in _objects(dev, "KafkaNodePool")]
    assert pool["spec"]["roles"] == ["controller", "broker"] and pool["spec"]["replicas"] == 3
    assert pool["spec"]["storage"]["volumes"][0]["size"] == "50Gi"
    assert _objects(dev, "KafkaMirrorMaker2") == []


# --- components --------------------------------------------------------------------------------

def _cluster_program(monitoring: bool):
    def program():
        provider = k8s.Provider("k8s", kubeconfig="unused", cluster_identifier="c1")
        import pulumi_random as random
        import pulumi_tls as tls

        crd = (k8s.apiextensions.CustomResource(
            "crds", api_version="v1", kind="ConfigMap", metadata={"name": "x"},
            opts=pulumi.ResourceOptions(provider=provider)) if monitoring else None)
        operator = StrimziOperator("op", StrimziOperatorArgs(tags=TAGS, watch_namespaces=("kafka",)),
                                   pulumi.ResourceOptions(provider=provider))
        KafkaCluster("kafka", KafkaClusterArgs(
            kafka_name="onprem", namespace="kafka", cluster_name="c1", site="onprem",
            base_domain="ml.example", version="4.2.0", cross_site_cidrs=("10.0.0.0/8",),
            api_server_cidrs=("10.0.0.0/8",), tags=TAGS, protect=False, monitoring_crd=crd,
            topics=(KafkaTopicSpec(name="t", partitions=1, retention_ms=-1),)),
            pulumi.ResourceOptions(providers=[provider, tls.Provider("tls"),
                                              random.Provider("random")], depends_on=[operator]))
    return program


@pytest.mark.parametrize("monitoring", [True, False])
def test_pod_monitor_only_with_the_monitoring_crds(monitoring):
    plan = component_plan(_cluster_program(monitoring))
    monitors = [r for r in plan["resources"] if r["type"] == "kubernetes:monitoring.coreos.com/v1:PodMonitor"]
    assert len(monitors) == (1 if monitoring else 0)
    if monitoring:
        spec = monitors[0]["inputs"]["spec"]
        assert spec["podMetricsEndpoints"] == [{"port": "tcp-prometheus", "path": "/metrics"}]
        assert spec["selector"]["matchLabels"] == {"strimzi.io/cluster": "onprem", "strimzi.io/kind": "Kafka"}
        [crd] = [r for r in plan["resources"] if r["name"] == "crds"]
        assert crd["urn"] in monitors[0]["dependencies"]


def test_metrics_config_produces_the_alerted_metric_names():
    from components.kubernetes.kafka import KAFKA_METRICS_RULES

    rules = yaml.safe_load(KAFKA_METRICS_RULES)
    assert rules["lowercaseOutputName"] is True
    import re

    mbean = "kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value"
    rule = next(r for r in rules["rules"] if re.fullmatch(r["pattern"], mbean))
    name = re.sub(r"\$(\d)", lambda m: re.fullmatch(rule["pattern"], mbean).group(int(m[1])), rule["name"])
    assert name.lower() == "kafka_server_replicamanager_underreplicatedpartitions"


def test_default_sizes_fit_the_default_namespace_quota():
    cfg = parse_platform(with_kafka("prod"))
    usage = namespace_usage(cfg.services.kafka, "aws/eu-west-1")  # the mirror's target
    assert usage.pods == 10 and usage.volume_claims == 6
    assert usage.requests_cpu <= 16 and usage.limits_cpu <= 32
    assert usage.limits_memory <= 64 * 2**30 and usage.storage == 360 * 2**30
    assert KafkaSizing(layout="combined").usage().pods == 5


# --- refusals ------------------------------------------------------------------------------------

def test_a_mirror_to_itself_is_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["mirrors"][0]["target"] = "onprem"
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.mirrors[0].target: bad value 'onprem'; a mirror copies between two")


def test_a_mirror_to_a_cluster_without_kafka_is_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["mirrors"][0]["target"] = "gcp/europe-west4"
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.mirrors[0].target: bad value 'gcp/europe-west4'; allowed: "
                           "clusters of services.kafka.clusters (onprem, aws/eu-west-1)")


def test_an_unknown_cluster_is_refused_with_the_clusters_of_the_stack():
    platform = with_kafka("dev")
    platform["services"]["kafka"]["clusters"].append({"cluster": "gcp/europe-west4"})
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.clusters[1].cluster: bad value 'gcp/europe-west4'; allowed: "
                           "clusters of this stack (onprem, aws/eu-west-1)")


def test_partitions_below_one_are_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["topics"][0]["partitions"] = 0
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.topics[0].partitions: bad value 0;")


def test_more_replicas_than_brokers_and_min_isr_above_replicas_are_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["topics"][0].update(replicas=4, minInsyncReplicas=5)
    assert problems_of(platform) == [
        f"{K}.topics[0].replicas: bad value 4; at most the 3 brokers of the Kafka cluster on onprem",
        f"{K}.topics[0].minInsyncReplicas: bad value 5; at most replicas (4)"]


def test_topics_users_on_clusters_without_kafka_are_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["topics"][1]["clusters"] = ["azure/westeurope"]
    platform["services"]["kafka"]["users"][0]["clusters"] = ["onprem", "nowhere/x"]
    lines = problems_of(platform)
    assert lines[0].startswith(f"{K}.topics[1].clusters[0]: bad value 'azure/westeurope'; allowed: "
                               "clusters of services.kafka.clusters")
    assert lines[1].startswith(f"{K}.users[0].clusters[1]: bad value 'nowhere/x';")


def test_identity_policy_both_ways_is_refused():
    platform = with_kafka("prod")
    mirrors = platform["services"]["kafka"]["mirrors"]
    mirrors[0]["replicationPolicy"] = "identity"
    mirrors.append({"source": "aws/eu-west-1", "target": "onprem", "topicPrefixes": ["inference-"]})
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.mirrors[0].replicationPolicy: bad value 'identity'; a mirror in both")


def test_reserved_user_names_bad_acls_and_namespaces_are_refused():
    platform = with_kafka("prod")
    kafka = platform["services"]["kafka"]
    kafka["users"][0]["name"] = "mm2-sneaky"
    kafka["users"][1]["acls"].append({"resource": "cluster", "name": "x", "operations": ["All"]})
    kafka["namespace"] = "kafka-nowhere"
    lines = problems_of(platform)
    assert any(x.startswith(f"{K}.namespace: bad value 'kafka-nowhere'; allowed: a platform namespace")
               for x in lines)
    assert f"{K}.users[0].name: bad value 'mm2-sneaky'; names starting with mm2- belong to MirrorMaker 2" in lines
    assert any(x.startswith(f"{K}.users[1].acls[1].name: bad value 'x'; cluster rules have no name")
               for x in lines)


def test_sizes_beyond_the_namespace_quota_name_the_quota_key():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["clusters"][1]["brokerStorage"] = "400Gi"
    [line] = problems_of(platform)
    assert line.startswith("hybrid-ml-platform:platform.kubernetes.namespaces[1].quota.storage: "
                           "bad value '500Gi'; services.kafka on aws/eu-west-1 needs at least 1260Gi")


def test_combined_layout_with_more_nodes_and_unsupported_versions_are_refused():
    platform = with_kafka("dev", version="3.9.0")
    platform["services"]["kafka"]["clusters"][0]["brokers"] = 5
    lines = problems_of(platform)
    assert lines[0].startswith(f"{K}.version: bad value '3.9.0'; allowed (the pinned Strimzi release): "
                               "4.1.0, 4.1.1, 4.1.2, 4.2.0")
    assert lines[1] == f"{K}.clusters[0].brokers: bad value 5; the combined layout has exactly 3 dual-role nodes"


def test_a_regex_where_a_prefix_belongs_is_refused():
    platform = with_kafka("prod")
    platform["services"]["kafka"]["mirrors"][0]["topicPrefixes"] = ["training-.*"]
    [line] = problems_of(platform)
    assert line.startswith(f"{K}.mirrors[0].topicPrefixes[0]: bad value 'training-.*'; letters, digits")


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [q for k, v in node.items() for q in _leaves(v, (*path, k))] + ([path] if path else [])
    if isinstance(node, list):
        return [q for i, v in enumerate(node) for q in _leaves(v, (*path, i))] + [path]
    return [path]


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**9, max_value=10**9),
                  st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3),
                  st.sampled_from(["onprem", "aws/eu-west-1", "gcp/europe-west4", "0", "-1",
                                   "1000Ti", "combined", "identity", "mm2-x", "*"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=_JUNK)
def test_random_bad_kafka_values_give_clean_errors(data, value):
    platform = with_kafka("prod")
    path = data.draw(st.sampled_from(_leaves(platform["services"]["kafka"])))
    node = platform["services"]["kafka"]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        parse_platform(platform)
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            line = str(problem)
            assert line.startswith("hybrid-ml-platform:platform.") and "\n" not in line


def test_scram_user_passwords_reach_their_clients_only_as_a_secret_output(prod):
    # edge-ingest produces from another site: its password is a secret stack output.
    assert prod.plan["outputs"]["kafkaUserPasswords"] == "[secret]"
    wrapped = prod.capture.outputs["kafkaUserPasswords"]
    assert wrapped.get(SIG_KEY) == SECRET_SIG
    assert set(wrapped["value"]["onprem-prod"]) == {"edge-ingest"}
    assert CANARY in wrapped["value"]["onprem-prod"]["edge-ingest"]
