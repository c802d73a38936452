"""What a Strimzi Kafka cluster is made of, as values: the API, listeners and ports, the
supported versions, container sizes, the DNS names a cluster advertises, and the validated
specs of its sizing, topics, users and ACLs. No Pulumi resources here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.kubernetes.charts import container_resources
from components.kubernetes.objects import quantity
from components.naming import DNS_LABEL

API = "kafka.strimzi.io/v1"
OPERATOR_NAMESPACE = "strimzi"
INTERNAL_LISTENER, INTERNAL_PORT = "tls", 9093
CROSS_SITE_LISTENER, CROSS_SITE_PORT = "crosssite", 9094
#: Kafka versions the pinned Strimzi release (1.0.x) runs; the newest is the default.
SUPPORTED_KAFKA_VERSIONS = ("4.1.0", "4.1.1", "4.1.2", "4.2.0")
#: Ports the Cluster Operator (in another namespace) opens on operands: KRaft control plane and
#: Cruise Control REST (9090), the replication listener (9091), the Kafka agent (8443) and the
#: Kafka Connect REST API of MirrorMaker 2 (8083).
OPERATOR_PORTS = (8083, 8443, 9090, 9091)
#: Kubernetes API ports (443 on EKS/GKE/AKS, 6443 on kubeadm-style on-prem control planes).
API_SERVER_PORTS = (443, 6443)
_SIZE = r"^[0-9]+(Gi|Ti)$"
_TOPIC = r"^[a-z0-9]([a-z0-9.-]{0,247}[a-z0-9])?$"

#: (cpu, memory) requests and limits of one container.
ContainerSize = tuple[tuple[str, str], tuple[str, str]]

# Container sizes of what the operator runs besides the brokers: (cpu, memory) requests and
# limits; memory limits equal requests (no overcommit), CPU may burst.
CONTROLLER = (("500m", "2Gi"), ("1", "2Gi"))
TOPIC_OPERATOR = (("100m", "512Mi"), ("500m", "512Mi"))
USER_OPERATOR = (("100m", "512Mi"), ("500m", "512Mi"))
KAFKA_EXPORTER = (("100m", "128Mi"), ("500m", "256Mi"))
CRUISE_CONTROL = (("500m", "1Gi"), ("1", "1Gi"))


def bootstrap_host(cluster_name: str, base_domain: str) -> str:
    """The cross-site bootstrap DNS name of a cluster's Kafka."""
    return f"kafka-bootstrap.{cluster_name}.{base_domain}"


def broker_host(cluster_name: str, base_domain: str, node_id: int | str) -> str:
    """The cross-site DNS name one broker advertises."""
    return f"kafka-{node_id}.{cluster_name}.{base_domain}"


def cluster_ca_cert_secret(kafka_name: str) -> str:
    """Strimzi's name of the Secret holding a cluster's CA certificate (what clients trust)."""
    return f"{kafka_name}-cluster-ca-cert"


def resources(spec: ContainerSize) -> dict[str, dict[str, str]]:
    """A container's `resources` from a (requests, limits) size."""
    (req_cpu, req_mem), (lim_cpu, lim_mem) = spec
    return container_resources(req_cpu, req_mem, lim_cpu, lim_mem)


class Usage(BaseModel):
    """What a set of pods asks of its namespace's ResourceQuota."""

    model_config = ConfigDict(frozen=True)

    requests_cpu: Decimal = Decimal(0)
    limits_cpu: Decimal = Decimal(0)
    requests_memory: Decimal = Decimal(0)
    limits_memory: Decimal = Decimal(0)
    storage: Decimal = Decimal(0)
    volume_claims: int = 0
    pods: int = 0

    @classmethod
    def of(cls, spec: ContainerSize, pods: int = 1, storage: str | None = None) -> Usage:
        (req_cpu, req_mem), (lim_cpu, lim_mem) = spec
        return cls(requests_cpu=quantity(req_cpu) * pods, limits_cpu=quantity(lim_cpu) * pods,
                   requests_memory=quantity(req_mem) * pods, limits_memory=quantity(lim_mem) * pods,
                   storage=quantity(storage) * pods if storage else Decimal(0),
                   volume_claims=pods if storage else 0, pods=pods)

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in Usage.model_fields})


class KafkaSizing(BaseModel):
    """How big one Kafka cluster is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: Literal["dedicated", "combined"] = Field(
        default="dedicated",
        description="dedicated: 3 KRaft controllers plus `brokers` brokers; combined: 3 "
                    "dual-role nodes (small clusters).")
    brokers: int = Field(default=3, ge=3, le=30, description="Brokers (combined: exactly 3).")
    broker_cpu: str = Field(default="1", description="CPU request per broker (limit: twice).")
    broker_memory: str = Field(default="4Gi", description="Memory per broker (request = limit).")
    broker_storage: str = Field(default="100Gi", pattern=_SIZE, description="Volume per broker.")
    controller_storage: str = Field(default="20Gi", pattern=_SIZE,
                                    description="Metadata volume per dedicated controller.")
    cruise_control: bool = Field(default=False, description="Run Cruise Control (rebalancing).")

    @field_validator("broker_cpu", "broker_memory")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value

    @model_validator(mode="after")
    def _combined_is_three(self) -> KafkaSizing:
        if self.layout == "combined" and self.brokers != 3:
            raise ValueError("the combined layout has exactly 3 dual-role nodes")
        return self

    @property
    def broker(self) -> ContainerSize:
        cpu = format((quantity(self.broker_cpu) * 2).normalize(), "f")
        return (self.broker_cpu, self.broker_memory), (cpu, self.broker_memory)

    def usage(self) -> Usage:
        """Requests, limits, storage, claims and pods of the cluster and its operators."""
        out = Usage.of(self.broker, self.brokers, self.broker_storage)
        if self.layout == "dedicated":
            out += Usage.of(CONTROLLER, 3, self.controller_storage)
        # The entity operator is one pod with two containers.
        out += Usage.of(TOPIC_OPERATOR) + Usage.of(USER_OPERATOR).model_copy(update={"pods": 0})
        out += Usage.of(KAFKA_EXPORTER)
        if self.cruise_control:
            out += Usage.of(CRUISE_CONTROL)
        return out


class KafkaAclSpec(BaseModel):
    """One ACL rule of a KafkaUser (Strimzi `simple` authorization)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_type: Literal["topic", "group", "cluster", "transactionalId"] = Field(
        description="What the rule is about.")
    name: str | None = Field(default=None, description="Resource name or prefix (not for cluster).")
    pattern_type: Literal["literal", "prefix"] = Field(default="literal",
                                                      description="How `name` matches.")
    operations: tuple[str, ...] = Field(min_length=1, description="Allowed operations.")

    @model_validator(mode="after")
    def _named(self) -> KafkaAclSpec:
        if (self.resource_type == "cluster") != (self.name is None):
            raise ValueError("cluster rules have no name; every other rule needs one")
        return self

    def body(self) -> dict:
        resource: dict = {"type": self.resource_type}
        if self.resource_type != "cluster":
            resource |= {"name": self.name, "patternType": self.pattern_type}
        return {"resource": resource, "operations": list(self.operations)}


class KafkaTopicSpec(BaseModel):
    """A topic managed by the Topic Operator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_TOPIC, description="Topic name (also the KafkaTopic name).")
    partitions: int = Field(ge=1, description="Partitions.")
    replicas: int = Field(default=3, ge=1, description="Replication factor.")
    min_insync_replicas: int = Field(default=2, ge=1, description="min.insync.replicas.")
    retention_ms: int = Field(ge=-1, description="retention.ms (-1: keep forever).")
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = Field(
        default="delete", description="cleanup.policy.")


class KafkaUserSpec(BaseModel):
    """A user managed by the User Operator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=DNS_LABEL, max_length=60, description="User (and KafkaUser) name.")
    authentication: Literal["tls", "scram-sha-512"] = Field(
        description="tls: a certificate from the clients CA, for the internal listener; "
                    "scram-sha-512: a generated password, for the cross-site listener.")
    acls: tuple[KafkaAclSpec, ...] = Field(default=(), description="What the user may do.")
