"""The Strimzi Cluster Operator: its arguments, Helm values and component."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.kafka.specs import OPERATOR_NAMESPACE
from components.kubernetes.objects import add_on_namespace
from components.naming import DNS_LABEL
from components.tags import StandardTags


class StrimziOperatorArgs(BaseModel):
    """Arguments of StrimziOperator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tags: StandardTags = Field(description="Standard tags, as labels on the namespace.")
    namespace: str = Field(default=OPERATOR_NAMESPACE, pattern=DNS_LABEL,
                           description="Add-on namespace the operator runs in.")
    watch_namespaces: tuple[str, ...] = Field(min_length=1,
                                              description="Namespaces holding Kafka resources.")
    replicas: int = Field(default=2, ge=1, le=3, description="Operator replicas (leader elected).")


def operator_values(args: StrimziOperatorArgs) -> dict:
    """Helm values of the `strimzi-kafka-operator` chart: leader-elected replicas, restricted
    security contexts for the operator and (by the provider class) every operand."""
    return {
        "replicas": args.replicas,
        "leaderElection": {"enable": True},
        "watchNamespaces": list(args.watch_namespaces),
        "resources": container_resources("200m", "512Mi", "1", "512Mi"),
        "podSecurityContext": {"runAsNonRoot": True,
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "extraEnvs": [{"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}],
    }


class StrimziOperator(pulumi.ComponentResource):
    """The Strimzi Cluster Operator (pinned chart) in its own restricted namespace.

    Guarantees: two replicas with leader election; every operand it creates gets the
    restricted Pod Security profile (`STRIMZI_POD_SECURITY_PROVIDER_CLASS=restricted`); the
    operator container itself runs non-root, read-only, without capabilities; no secrets in
    the Helm values. The watched namespaces must exist first (the chart binds roles in them).
    """

    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: StrimziOperatorArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kafka:StrimziOperator", name, None, opts)
        ns = add_on_namespace(f"{name}-namespace", args.namespace, args.tags, "restricted", self)
        self.release = pinned_release(f"{name}-release", "strimzi-kafka-operator", args.namespace,
                                      operator_values(args), self, [ns])
        self.register_outputs({})
