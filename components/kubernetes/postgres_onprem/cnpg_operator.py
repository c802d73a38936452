"""The CloudNativePG operator: its arguments, Helm values and component."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field

from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.objects import add_on_namespace
from components.tags import StandardTags

#: The operator's namespace (the chart's default), created by us with Pod Security restricted.
OPERATOR_NAMESPACE = "cnpg-system"
#: Label the chart puts on the operator's pods.
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}


class CloudNativePgOperatorArgs(BaseModel):
    """Arguments of the CloudNativePG operator installation."""

    model_config = ConfigDict(frozen=True)

    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")
    replicas: int = Field(default=2, ge=1, le=3, description=(
        "Operator replicas (leader election: one works, the others take over)."))


def operator_values(args: CloudNativePgOperatorArgs) -> dict:
    """Helm values of the `cloudnative-pg` chart: replicas, resources, CRDs, no chart PodMonitor."""
    return {
        "replicaCount": args.replicas,
        "resources": container_resources("100m", "200Mi", "500m", "512Mi"),
        "crds": {"create": True},
        # PodMonitors are created per database where monitoring exists (the chart's
        # would need the Prometheus Operator CRDs at install time).
        "monitoring": {"podMonitorEnabled": False},
    }


class CloudNativePgOperator(pulumi.ComponentResource):
    """The CloudNativePG operator from the pinned `cloudnative-pg` chart.

    Creates the `cnpg-system` namespace (Pod Security restricted: the operator runs as
    non-root with a read-only root filesystem, no capabilities and the RuntimeDefault
    seccomp profile) and the Helm release with its CRDs and admission webhooks. Caller
    opts: providers=[the cluster's Kubernetes provider].
    """

    release: k8s.helm.v3.Release
    namespace: str

    def __init__(self, name: str, args: CloudNativePgOperatorArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:CloudNativePgOperator", name, None, opts)
        ns = add_on_namespace(f"{name}-namespace", OPERATOR_NAMESPACE, args.tags,
                              "restricted", self)
        self.release = pinned_release(f"{name}-release", "cloudnative-pg", OPERATOR_NAMESPACE,
                                      operator_values(args), self, [ns])
        self.namespace = OPERATOR_NAMESPACE
        self.register_outputs({"release": self.release, "namespace": self.namespace})
