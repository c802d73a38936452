"""The validated arguments of ClusterMonitoring: what every cluster, the central one and each
remote-writing one need, checked before any resource exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.inputs import StrInput
from components.kubernetes.monitoring.constants import (
    ALERTMANAGER_REPLICAS,
    ALERTMANAGER_STORAGE,
    CENTRAL_REPLICAS,
    REMOTE_WRITE_PATH,
)
from components.kubernetes.objects import quantity
from components.tags import StandardTags

Site = Literal["aws", "gcp", "azure", "onprem"]

_DURATION = r"^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"
_DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


def remote_write_urls(central_domain: str, replicas: int) -> list[str]:
    """One remote-write URL per central replica, through the central cluster's Gateway."""
    return [f"https://prometheus-{i}.{central_domain}{REMOTE_WRITE_PATH}" for i in range(replicas)]


class AlertingArgs(BaseModel):
    """Where the central Alertmanager sends the platform's alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    receiver: Literal["webhook", "slack", "msteams"] = Field(
        description="The receiver's kind: webhook (Alertmanager's JSON), slack (incoming "
                    "webhook) or msteams (Teams Workflows webhook, msteamsv2).")
    url: StrInput = Field(description="The receiver's https URL (a secret Output).")
    receiver_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Private ranges of an internal receiver; empty: any public address. "
                    "Alertmanager may reach them on 443 only.")


class CentralArgs(BaseModel):
    """What only the central cluster runs."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    replicas: int = Field(default=CENTRAL_REPLICAS, ge=1, le=5,
                          description="Prometheus replicas (HA pair).")
    retention: str = Field(pattern=_DURATION, description="How long series are kept.")
    storage: str = Field(description="Volume size per Prometheus replica (a quantity).")
    senders: Mapping[str, StrInput] = Field(
        default_factory=dict,
        description="Every cluster that remote-writes here: cluster name (the basic-auth user) "
                    "to its remote-write password (a secret Output).")
    rule_groups: tuple[Mapping[str, Any], ...] = Field(
        description="`spec.groups` of the platform PrometheusRule (see alert_rules).")
    dashboards: Mapping[str, str] = Field(
        description="Grafana dashboard JSON by name; one ConfigMap each.")
    control_plane_rules: bool = Field(
        description="Keep the chart's scheduler/controller-manager/etcd/kube-proxy rules: only "
                    "when some cluster scrapes its control plane (else they alert forever).")
    alertmanager_replicas: int = Field(default=ALERTMANAGER_REPLICAS, ge=1, le=5,
                                       description="Alertmanager replicas.")
    alertmanager_storage: str = Field(default=ALERTMANAGER_STORAGE,
                                      description="Alertmanager volume size.")
    alerting: AlertingArgs | None = Field(
        default=None, description="The alert receiver; None: alerts stay in Alertmanager's UI.")

    @field_validator("storage", "alertmanager_storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value


class RemoteWriteArgs(BaseModel):
    """Where a non-central cluster sends its series."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    central_domain: str = Field(
        pattern=_DNS_NAME,
        description="`<central cluster>.<baseDomain>`: the central Gateway's wildcard domain.")
    replicas: int = Field(ge=1, le=5, description="Central Prometheus replicas (one URL each).")
    central_cidrs: tuple[str, ...] = Field(
        min_length=1, description="Private ranges holding the central Gateway's load balancer.")
    ca_pem: StrInput | None = Field(
        description="PEM of the CA the central Gateway's certificate chains to (the platform "
                    "root); None: the system trust store must already trust it.")

    @property
    def urls(self) -> list[str]:
        return remote_write_urls(self.central_domain, self.replicas)


class ClusterMonitoringArgs(BaseModel):
    """Arguments of ClusterMonitoring."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    cluster_name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="The cluster's name: the `cluster` label of its series.")
    site: Site = Field(description="Where the cluster runs: the `site` label of its series.")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    base_domain: str = Field(pattern=_DNS_NAME, description="The platform's DNS domain.")
    retention: str = Field(pattern=_DURATION, description="Local retention (non-central).")
    storage: str = Field(description="Local Prometheus volume size (non-central).")
    gpu_metrics: Literal["none", "operator", "gke-managed"] = Field(
        description="Where DCGM GPU metrics come from: none, the GPU operator's exporter, or "
                    "GKE's managed DCGM exporter.")
    control_plane: bool = Field(
        description="Scrape scheduler, controller manager, etcd and kube-proxy (on-prem only; "
                    "managed clouds hide them).")
    cluster_cidrs: tuple[str, ...] = Field(
        min_length=1,
        description="Private ranges of this cluster's nodes and API server endpoint (kubelet, "
                    "node-exporter and API egress; API server webhook calls in).")
    central: CentralArgs | None = Field(
        default=None, description="Set on the central cluster only.")
    remote_write: RemoteWriteArgs | None = Field(
        default=None, description="Set on every other cluster.")
    depends_on: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(),
        description="What must exist first: the cluster's add-ons (monitoring namespace, "
                    "Gateway, Gateway API and Envoy Gateway CRDs).")

    @field_validator("storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value

    @model_validator(mode="after")
    def _one_role(self) -> ClusterMonitoringArgs:
        if (self.central is None) == (self.remote_write is None):
            raise ValueError("a cluster is either central or remote-writes to it: set exactly "
                             "one of central and remote_write")
        if self.control_plane and self.site != "onprem":
            raise ValueError(f"{self.site} hides its control plane; control_plane is on-prem only")
        if self.gpu_metrics == "gke-managed" and self.site != "gcp":
            raise ValueError("gke-managed GPU metrics exist only on gcp")
        if self.central is not None and self.cluster_name in self.central.senders:
            raise ValueError("the central cluster does not remote-write to itself")
        return self

    @property
    def domain(self) -> str:
        return f"{self.cluster_name}.{self.base_domain}"
