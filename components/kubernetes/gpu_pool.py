"""The one GPU node pool interface shared by EKS, GKE, AKS and on-prem.

`GpuPoolSpec` is what every target's `GpuNodePool` component takes: the same fields, validated
against `gpu_catalog` before any resource exists. Every target puts the same convention on its
GPU nodes, so a workload written once schedules anywhere:

- label `nvidia.com/gpu.present=true`, `hybridml.io/gpu-type=<type>`, `hybridml.io/gpu-pool=<pool>`
- taint `nvidia.com/gpu=true:NoSchedule` (on GKE, GKE's own `nvidia.com/gpu=present:NoSchedule`:
  GKE refuses a second taint with that key and effect); tolerate with `gpu_toleration()`

Sharing: GKE partitions (MIG) and time-shares GPUs natively (node pool settings); on EKS, AKS and
on-prem the NVIDIA GPU operator does it, steered by node labels: `nvidia.com/mig.config` for the
MIG manager and `nvidia.com/device-plugin.config` naming a key of the device plugin's
time-slicing ConfigMap (`time_slicing_config`).
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.gpu_catalog import (
    GPU_PRESENT_LABEL_KEY,
    GPU_PRESENT_LABEL_VALUE,
    GPU_TAINT_EFFECT,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    GPU_TYPE_LABEL_KEY,
    check_gpu_pool,
)

Target = Literal["aws", "gcp", "azure", "onprem"]

GPU_POOL_LABEL_KEY = "hybridml.io/gpu-pool"
#: Node label read by the GPU operator's MIG manager (values from mig-parted's default config).
MIG_CONFIG_LABEL_KEY = "nvidia.com/mig.config"
#: Node label choosing a key of the device plugin's config map (time-slicing).
DEVICE_PLUGIN_CONFIG_LABEL_KEY = "nvidia.com/device-plugin.config"
#: The value of the taint GKE puts on GPU nodes itself (see `node_taint`).
GKE_GPU_TAINT_VALUE = "present"
#: Name of the ConfigMap (in the GPU operator namespace) holding the time-slicing configs.
TIME_SLICING_CONFIGMAP = "time-slicing-config"


class GpuPoolSpec(BaseModel):
    """One GPU node pool, the same on every target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Target = Field(description="Where the pool runs: aws (EKS), gcp (GKE), azure (AKS), onprem.")
    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$",
                      description="Pool name, 1-12 lowercase alphanumerics (AKS agent pool rule).")
    gpu_type: str = Field(description="Canonical GPU type from components.gpu_catalog, e.g. nvidia-l4.")
    gpu_count: int = Field(ge=1, description="GPUs per node.")
    machine_type: str | None = Field(
        default=None, description="Instance/machine/VM type carrying the GPUs (clouds); unset on-prem.")
    min_size: int = Field(default=0, ge=0, description="Minimum nodes (autoscaling lower bound).")
    max_size: int = Field(default=1, ge=1, description="Maximum nodes (autoscaling upper bound).")
    spot: bool = Field(default=False, description="Spot/preemptible capacity (cheaper, can be reclaimed).")
    disk_size_gb: int = Field(default=200, ge=50, le=4096,
                              description="Node OS/root disk size in GB; always encrypted with the cluster's key.")
    mig_profile: str | None = Field(
        default=None, description="Partition every GPU into this MIG profile (e.g. 1g.10gb); MIG-capable GPUs only.")
    time_slicing_replicas: int | None = Field(
        default=None, description="Share every GPU between this many pods (time-slicing).")
    nodes: tuple[str, ...] = Field(
        default=(), description="On-prem only: names of the existing GPU nodes of this pool.")

    @model_validator(mode="after")
    def _valid_for_target(self) -> GpuPoolSpec:
        problems = check_gpu_pool(self.target, self.gpu_type, self.gpu_count, self.machine_type,
                                  self.mig_profile, self.time_slicing_replicas)
        if self.min_size > self.max_size:
            problems.append(f"min size {self.min_size} is larger than max size {self.max_size}")
        if self.mig_profile is not None and self.time_slicing_replicas is not None:
            problems.append("choose MIG or time-slicing for a pool, not both")
        if self.target == "onprem" and not self.nodes:
            problems.append("an on-prem pool names its existing GPU nodes (nodes)")
        if self.target != "onprem" and self.nodes:
            problems.append("nodes only apply on-prem; cloud pools create their nodes")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def time_slicing_key(self) -> str | None:
        """Key of this pool's entry in the time-slicing ConfigMap (GPU-operator targets)."""
        return self.name if self.time_slicing_replicas is not None else None


def pool_problems(target: str, pools: tuple[GpuPoolSpec, ...]) -> list[str]:
    """Pools handed to a `target` component that belong to another target, or share a name."""
    names = [p.name for p in pools]
    problems = [f"GPU pool {p.name!r} targets {p.target}; allowed here: target {target}"
                for p in pools if p.target != target]
    return problems + [f"GPU pool name {n!r} is used twice" for n in sorted(set(names))
                       if names.count(n) > 1]


def node_labels(spec: GpuPoolSpec) -> dict[str, str]:
    """The labels every node of the pool carries (GKE adds its own sharing labels itself)."""
    labels = {
        GPU_PRESENT_LABEL_KEY: GPU_PRESENT_LABEL_VALUE,
        GPU_TYPE_LABEL_KEY: spec.gpu_type,
        GPU_POOL_LABEL_KEY: spec.name,
    }
    if spec.target != "gcp":
        if spec.mig_profile is not None:
            labels[MIG_CONFIG_LABEL_KEY] = f"all-{spec.mig_profile}"
        if spec.time_slicing_key is not None:
            labels[DEVICE_PLUGIN_CONFIG_LABEL_KEY] = spec.time_slicing_key
    return labels


def node_taint(target: str = "aws") -> dict[str, str]:
    """The taint GPU nodes of `target` carry, in Kubernetes spelling: {key, value, effect}.

    GKE taints GPU nodes itself with `nvidia.com/gpu=present:NoSchedule` (when the cluster has
    non-GPU pools) and refuses a node pool that asks for a second taint with the same key and
    effect ("Found more than one taint with key nvidia.com/gpu and effect NO_SCHEDULE"), so on
    GKE the value is GKE's `present`. Key and effect are the same everywhere: tolerate with
    `gpu_toleration()`.
    """
    value = GKE_GPU_TAINT_VALUE if target == "gcp" else GPU_TAINT_VALUE
    return {"key": GPU_TAINT_KEY, "value": value, "effect": GPU_TAINT_EFFECT}


def gpu_toleration() -> dict[str, str]:
    """The toleration GPU workloads carry: matches the GPU taint on every target."""
    return {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": GPU_TAINT_EFFECT}


def time_slicing_config(specs: list[GpuPoolSpec]) -> dict[str, str]:
    """ConfigMap data for the GPU operator's device plugin: one time-slicing config per pool.

    Format: NVIDIA k8s-device-plugin config file `version: v1, sharing.timeSlicing.resources`.
    """
    data: dict[str, str] = {}
    for spec in specs:
        if spec.target == "gcp" or spec.time_slicing_key is None:
            continue
        config = {"version": "v1", "sharing": {"timeSlicing": {"resources": [
            {"name": "nvidia.com/gpu", "replicas": spec.time_slicing_replicas}]}}}
        data[spec.time_slicing_key] = yaml.safe_dump(config, sort_keys=False)
    return data


def wants_mig(specs: list[GpuPoolSpec]) -> bool:
    return any(s.mig_profile is not None and s.target != "gcp" for s in specs)
