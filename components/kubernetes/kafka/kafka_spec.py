"""KafkaCluster's arguments and the pure specs of its objects: node pools, the `Kafka`
resource, CA Secret metadata, network rules and the PodMonitor. No Pulumi resources here."""

from __future__ import annotations

from typing import Literal, NamedTuple

import pulumi
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.gateway import INTERNAL_LB_ANNOTATIONS
from components.kubernetes.kafka.metrics import METRICS_KEY
from components.kubernetes.kafka.specs import (
    API_SERVER_PORTS,
    CONTROLLER,
    CROSS_SITE_LISTENER,
    CROSS_SITE_PORT,
    CRUISE_CONTROL,
    INTERNAL_LISTENER,
    INTERNAL_PORT,
    KAFKA_EXPORTER,
    OPERATOR_NAMESPACE,
    OPERATOR_PORTS,
    SUPPORTED_KAFKA_VERSIONS,
    TOPIC_OPERATOR,
    USER_OPERATOR,
    ContainerSize,
    KafkaSizing,
    KafkaTopicSpec,
    KafkaUserSpec,
    bootstrap_host,
    broker_host,
    resources,
)
from components.kubernetes.objects import PLATFORM_NAMESPACE_LABEL, in_namespace
from components.naming import DNS_LABEL
from components.tags import StandardTags

#: The two CAs of a cluster, in the order they are created.
CA_ROLES = ("cluster", "clients")


class KafkaClusterArgs(BaseModel):
    """Arguments of KafkaCluster."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kafka_name: str = Field(pattern=DNS_LABEL, max_length=30,
                            description="Name of the Kafka resource (and MirrorMaker 2 alias).")
    namespace: str = Field(pattern=DNS_LABEL, description="Platform namespace of the cluster.")
    cluster_name: str = Field(description="Kubernetes cluster name (part of the DNS names).")
    site: Literal["aws", "gcp", "azure", "onprem"] = Field(description="Where it runs.")
    base_domain: str = Field(description="Platform DNS domain.")
    version: str = Field(description="Kafka version (one the pinned Strimzi supports).")
    sizing: KafkaSizing = Field(default_factory=KafkaSizing, description="Nodes and volumes.")
    rack_topology_key: str = Field(default="topology.kubernetes.io/zone",
                                   description="Node label naming the zone (rack awareness).")
    cross_site_cidrs: tuple[str, ...] = Field(
        min_length=1, description="Ranges allowed to the cross-site listener (9094): the other "
                                  "sites, and this site (load balancers that proxy).")
    api_server_cidrs: tuple[str, ...] = Field(
        min_length=1, description="Where this cluster's Kubernetes API server lives.")
    operator_namespace: str = Field(default=OPERATOR_NAMESPACE, description="Strimzi's namespace.")
    topics: tuple[KafkaTopicSpec, ...] = Field(default=(), description="Topics.")
    users: tuple[KafkaUserSpec, ...] = Field(default=(), description="Users.")
    ca_validity_days: int = Field(default=1825, ge=365, le=3650,
                                  description="Validity of the cluster and clients CAs.")
    ca_generation: int = Field(default=0, ge=0, description="Bump to re-issue the CA certs.")
    tags: StandardTags = Field(description="Standard tags, as labels on every object.")
    protect: bool = Field(description="Protect CAs, the cluster, node pools and topics (prod).")
    monitoring_crd: InstanceOf[pulumi.Resource] | None = Field(
        default=None, description="The Prometheus Operator CRDs; with them, a PodMonitor.")

    @field_validator("version")
    @classmethod
    def _version(cls, version: str) -> str:
        if version not in SUPPORTED_KAFKA_VERSIONS:
            raise ValueError(f"Kafka {version} is not one of {SUPPORTED_KAFKA_VERSIONS}")
        return version

    @model_validator(mode="after")
    def _topics_fit(self) -> KafkaClusterArgs:
        for t in self.topics:
            if t.replicas > self.sizing.brokers or t.min_insync_replicas > t.replicas:
                raise ValueError(f"topic {t.name}: need min ISR <= replicas <= brokers")
        return self


def owned_labels(labels: dict[str, str], kafka_name: str) -> dict[str, str]:
    """Labels of objects that belong to one Kafka (the operators select on `strimzi.io/cluster`)."""
    return {**labels, "strimzi.io/cluster": kafka_name}


def internal_bootstrap(kafka_name: str, namespace: str) -> str:
    """The in-cluster bootstrap address (mTLS listener)."""
    return f"{kafka_name}-kafka-bootstrap.{namespace}.svc:{INTERNAL_PORT}"


def cross_site_bootstrap(cluster_name: str, base_domain: str) -> str:
    """The cross-site bootstrap address (SCRAM listener behind the private load balancers)."""
    return f"{bootstrap_host(cluster_name, base_domain)}:{CROSS_SITE_PORT}"


def ca_secret_metadata(args: KafkaClusterArgs, role: str, part: Literal["cert", "key"],
                       labels: dict[str, str]) -> dict:
    """Metadata of one of Strimzi's "use your own CA" Secrets: these names, labels and
    generation annotations."""
    k = args.kafka_name
    strimzi = {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": k}
    if part == "cert":
        name = f"{k}-{role}-ca-cert"
        annotations = {"strimzi.io/ca-cert-generation": str(args.ca_generation)}
    else:
        name = f"{k}-{role}-ca"
        annotations = {"strimzi.io/ca-key-generation": "0"}
    return {"name": name, "namespace": args.namespace, "labels": {**labels, **strimzi},
            "annotations": annotations}


class NodePool(NamedTuple):
    """One KafkaNodePool: its name, roles, volume size, container size and node ids."""

    name: str
    roles: list[str]
    size: str
    container: ContainerSize
    node_ids: str


def node_pools(sizing: KafkaSizing) -> list[NodePool]:
    """The node pools of a layout. Brokers take ids 0.., controllers 100..: broker DNS names
    are kafka-0..."""
    s = sizing
    if s.layout == "combined":
        return [NodePool("nodes", ["controller", "broker"], s.broker_storage, s.broker, "[0-99]")]
    return [NodePool("controllers", ["controller"], s.controller_storage, CONTROLLER, "[100-199]"),
            NodePool("brokers", ["broker"], s.broker_storage, s.broker, "[0-99]")]


def pool_spec(args: KafkaClusterArgs, pool: NodePool) -> dict:
    """`spec` of a KafkaNodePool: replicas, JBOD volume on the default class, zone spread."""
    replicas = 3 if "controller" in pool.roles else args.sizing.brokers
    spread = {"maxSkew": 1, "topologyKey": args.rack_topology_key,
              "whenUnsatisfiable": "DoNotSchedule",
              "labelSelector": {"matchLabels": {"strimzi.io/cluster": args.kafka_name,
                                                "strimzi.io/pool-name": pool.name}}}
    return {
        "replicas": replicas,
        "roles": pool.roles,
        "storage": {"type": "jbod", "volumes": [{
            "id": 0, "type": "persistent-claim", "size": pool.size, "class": STORAGE_CLASS,
            "deleteClaim": False, "kraftMetadata": "shared"}]},
        "resources": resources(pool.container),
        "template": {"pod": {"topologySpreadConstraints": [spread]}},
    }


def listeners(args: KafkaClusterArgs) -> list[dict]:
    """The `tls` (internal, mTLS) and `crosssite` (load balancer, SCRAM) listeners."""
    cross_site: dict = {
        "bootstrap": {"alternativeNames": [bootstrap_host(args.cluster_name, args.base_domain)]},
        "advertisedHostTemplate": broker_host(args.cluster_name, args.base_domain, "{nodeId}"),
        # Keep the client's address where the load balancer passes it through, so the
        # network rules see the other site, not a node.
        "externalTrafficPolicy": "Local",
        "loadBalancerSourceRanges": list(args.cross_site_cidrs),
    }
    return [
        {"name": INTERNAL_LISTENER, "port": INTERNAL_PORT, "type": "internal", "tls": True,
         "authentication": {"type": "tls"},
         "networkPolicyPeers": [{"namespaceSelector": {
             "matchLabels": {PLATFORM_NAMESPACE_LABEL: "true"}}}]},
        {"name": CROSS_SITE_LISTENER, "port": CROSS_SITE_PORT, "type": "loadbalancer",
         "tls": True, "authentication": {"type": "scram-sha-512"},
         "configuration": cross_site,
         "networkPolicyPeers": [{"ipBlock": {"cidr": c}} for c in args.cross_site_cidrs]},
    ]


def kafka_spec(args: KafkaClusterArgs, metrics_config: str) -> dict:
    """`spec` of the `Kafka` resource: listeners, authorization, replication defaults, metrics,
    the program's own CAs, the entity operator, the Kafka Exporter and Cruise Control."""
    kafka: dict = {
        "version": args.version,
        "listeners": listeners(args),
        # Strimzi adds its own components as super users; nobody else is one.
        "authorization": {"type": "simple"},
        "rack": {"topologyKey": args.rack_topology_key},
        "config": {
            "default.replication.factor": 3, "min.insync.replicas": 2,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            "transaction.state.log.min.isr": 2,
            "auto.create.topics.enable": False,
            "ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
        },
        "metricsConfig": {"type": "jmxPrometheusExporter", "valueFrom": {
            "configMapKeyRef": {"name": metrics_config, "key": METRICS_KEY}}},
    }
    annotations = INTERNAL_LB_ANNOTATIONS[args.site]
    if annotations:
        service = {"metadata": {"annotations": dict(annotations)}}
        kafka["template"] = {"externalBootstrapService": service, "perPodService": service}
    ca = {"generateCertificateAuthority": False, "generateSecretOwnerReference": False,
          "validityDays": 365, "renewalDays": 30}
    spec: dict = {
        "kafka": kafka,
        "clusterCa": ca,
        "clientsCa": ca,
        "entityOperator": {"topicOperator": {"resources": resources(TOPIC_OPERATOR)},
                           "userOperator": {"resources": resources(USER_OPERATOR)}},
        # kafka_consumergroup_lag for every group and topic.
        "kafkaExporter": {"topicRegex": ".*", "groupRegex": ".*",
                          "resources": resources(KAFKA_EXPORTER)},
    }
    if args.sizing.cruise_control:
        spec["cruiseControl"] = {"resources": resources(CRUISE_CONTROL)}
    return spec


class NetworkRule(NamedTuple):
    """An extra NetworkPolicy: resource-name suffix, object name, spec and pods it applies to."""

    role: str
    name: str
    spec: dict
    pod_selector: dict


def network_rules(args: KafkaClusterArgs) -> list[NetworkRule]:
    """What the cluster needs besides Strimzi's generated policies: the operator's ports, the
    other sites on the cross-site listener, and the API server for the operands that read it."""
    k = args.kafka_name
    strimzi_pods = {"matchExpressions": [{"key": "strimzi.io/cluster", "operator": "Exists"}]}
    return [
        # The operator runs in its own namespace; Strimzi's generated policies admit it only
        # from the Kafka namespace, so it gets its ports here.
        NetworkRule("allow-operator", f"{k}-allow-strimzi-operator", {
            "policyTypes": ["Ingress"], "ingress": [{
                "from": [{**in_namespace(args.operator_namespace),
                          "podSelector": {"matchLabels": {"strimzi.io/kind": "cluster-operator"}}}],
                "ports": [{"protocol": "TCP", "port": p} for p in OPERATOR_PORTS]}]},
            strimzi_pods),
        NetworkRule("allow-cross-site", f"{k}-allow-cross-site", {
            "policyTypes": ["Ingress"], "ingress": [{
                "from": [{"ipBlock": {"cidr": c}} for c in args.cross_site_cidrs],
                "ports": [{"protocol": "TCP", "port": CROSS_SITE_PORT}]}]},
            {"matchLabels": {"strimzi.io/cluster": k, "strimzi.io/broker-role": "true"}}),
        # Entity operator (topics, users) and the brokers' rack init container read the API.
        NetworkRule("allow-api-server", f"{k}-allow-api-server", {
            "policyTypes": ["Egress"], "egress": [{
                "to": [{"ipBlock": {"cidr": c}} for c in args.api_server_cidrs],
                "ports": [{"protocol": "TCP", "port": p} for p in API_SERVER_PORTS]}]},
            strimzi_pods),
    ]


def pod_monitor_spec(kafka_name: str, namespace: str) -> dict:
    """`spec` of the PodMonitor scraping the brokers and the Kafka Exporter."""
    return {"selector": {"matchLabels": {"strimzi.io/cluster": kafka_name,
                                         "strimzi.io/kind": "Kafka"}},
            "namespaceSelector": {"matchNames": [namespace]},
            # Brokers (JMX exporter) and the Kafka Exporter both serve tcp-prometheus.
            "podMetricsEndpoints": [{"port": "tcp-prometheus", "path": "/metrics"}]}
