"""An on-prem GPU pool: existing nodes given the platform's GPU labels and taint."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.kubernetes.gpu_pool import GpuPoolSpec, node_labels, node_taint
from components.kubernetes.objects import object_labels
from components.tags import StandardTags

_NODE_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


class GpuNodePoolArgs(BaseModel):
    """Arguments of an on-prem GpuNodePool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: GpuPoolSpec = Field(
        description="The pool; target onprem, `nodes` names the existing nodes."
    )
    tags: StandardTags = Field(description="Standard tags, put on the nodes as labels.")

    @field_validator("pool")
    @classmethod
    def _onprem_nodes(cls, pool: GpuPoolSpec) -> GpuPoolSpec:
        if pool.target != "onprem":
            raise ValueError(
                f"pool {pool.name!r} targets {pool.target}; this component patches "
                "existing on-prem nodes (use the cloud's GpuNodePool)"
            )
        bad = [n for n in pool.nodes if not _NODE_NAME.match(n)]
        if bad:
            raise ValueError(f"not Kubernetes node names: {bad}")
        dupes = sorted({n for n in pool.nodes if pool.nodes.count(n) > 1})
        if dupes:
            raise ValueError(f"nodes {dupes} are listed twice")
        return pool


class GpuNodePool(pulumi.ComponentResource):
    """Labels and taints the existing nodes of an on-prem GPU pool, one server-side apply each.

    Guarantees: every node of the pool carries `node_labels(pool)` (GPU present, type, pool, and
    the GPU operator's MIG / time-slicing selectors) and the taint `nvidia.com/gpu=true:NoSchedule`,
    so only pods tolerating it land there. The nodes themselves are not created or deleted.
    """

    # Plain values, as on the cloud pools: all known from config before anything runs.
    pool_name: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    nodes: list[str]

    def __init__(
        self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("hybridml:onprem:GpuNodePool", name, None, opts)
        pool = args.pool
        labels = node_labels(pool)
        taints = [node_taint()]
        for node in pool.nodes:
            k8s.core.v1.NodePatch(
                f"{name}-{node}",
                metadata={
                    "name": node,
                    "labels": {**object_labels(args.tags), **labels},
                    # spec.taints is an atomic list: server-side apply owns it whole, and the
                    # node's taints were set by another field manager (kubeadm at join, or an
                    # admin's kubectl taint), so a plain apply fails with a conflict. Forcing
                    # makes this list the node's taints; taints the node controller manages
                    # (not-ready, unreachable) are re-added by it when they apply.
                    "annotations": {"pulumi.com/patchForce": "true"},
                },
                spec={"taints": taints},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.pool_name = pool.name
        self.labels = labels
        self.taints = taints
        self.nodes = list(pool.nodes)
        self.register_outputs(
            {
                "pool_name": self.pool_name,
                "labels": self.labels,
                "taints": self.taints,
                "nodes": self.nodes,
            }
        )
