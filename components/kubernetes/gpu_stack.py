"""The NVIDIA GPU operator, where a cluster needs it (EKS, AKS, on-prem; GKE manages its own).

The operator runs the GPU node software as daemonsets (driver and container toolkit where the
node image lacks them, device plugin, GPU feature discovery, DCGM exporter, MIG manager) and
steers sharing by node label: `nvidia.com/mig.config` for MIG, `nvidia.com/device-plugin.config`
naming a key of the time-slicing ConfigMap built from the pools (`gpu_pool.time_slicing_config`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.gpu_catalog import GPU_TAINT_EFFECT, GPU_TAINT_KEY
from components.kubernetes.charts import container_resources, pinned_release
from components.kubernetes.gpu_pool import (
    TIME_SLICING_CONFIGMAP,
    GpuPoolSpec,
    time_slicing_config,
    wants_mig,
)
from components.kubernetes.objects import add_on_namespace, object_labels
from components.tags import StandardTags

NAMESPACE = "gpu-operator"
#: The taint AKS puts on Spot nodes (kubernetes.azure.com/scalesetpriority=spot:NoSchedule).
AKS_SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"
#: Time-slicing ConfigMap key for GPU nodes whose pool does not time-slice. Made the device
#: plugin's default explicitly: with no default, a ConfigMap holding a single config becomes
#: every unlabelled node's config (the plugin's "single" fallback), time-slicing pools that
#: asked for whole GPUs. Pool names have no hyphen, so this key never clashes with one.
NO_SHARING_KEY = "no-sharing"


def _values(pools: Sequence[GpuPoolSpec], driver: bool, toolkit: bool, time_slicing: bool) -> dict:
    tolerations = [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": GPU_TAINT_EFFECT}]
    if any(p.spot and p.target == "azure" for p in pools):
        # AKS taints Spot nodes itself; without this no driver or device plugin lands there.
        tolerations.append({"key": AKS_SPOT_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"})
    values: dict = {
        "operator": {"resources": container_resources("200m", "128Mi", "500m", "512Mi")},
        "driver": {"enabled": driver},
        "toolkit": {"enabled": toolkit},
        # The chart's default already tolerates this taint; stated so a chart bump cannot drop
        # it. Operands need no nodeSelector: the operator schedules them only on nodes it labels
        # nvidia.com/gpu.deploy.<operand>=true, i.e. nodes with an NVIDIA GPU.
        "daemonsets": {"tolerations": tolerations},
        # ServiceMonitor needs the Prometheus operator CRDs; switched on with monitoring.
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "migManager": {"enabled": wants_mig(list(pools))},
    }
    if wants_mig(list(pools)):
        # single: every GPU of a MIG node is cut into the same profile, exposed as nvidia.com/gpu.
        values["mig"] = {"strategy": "single"}
    if time_slicing:
        values["devicePlugin"] = {
            "config": {"name": TIME_SLICING_CONFIGMAP, "default": NO_SHARING_KEY}
        }
    return values


def install_gpu_operator(
    name: str,
    pools: Sequence[GpuPoolSpec],
    driver: bool,
    toolkit: bool,
    tags: StandardTags,
    parent: pulumi.Resource,
) -> k8s.helm.v3.Release:
    """The gpu-operator namespace (PSA privileged: its daemonsets load kernel modules and mount
    host paths), the time-slicing ConfigMap when any pool time-slices, and the release."""
    ns = add_on_namespace(f"{name}-namespace", NAMESPACE, tags, "privileged", parent)
    sharing = time_slicing_config(list(pools))
    depends: list[pulumi.Resource] = [ns]
    if sharing:
        depends.append(
            k8s.core.v1.ConfigMap(
                f"{name}-time-slicing",
                metadata={
                    "name": TIME_SLICING_CONFIGMAP,
                    "namespace": NAMESPACE,
                    "labels": object_labels(tags),
                },
                data={**sharing, NO_SHARING_KEY: "version: v1\n"},
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[ns]),
            )
        )
    values = _values(pools, driver, toolkit, bool(sharing))
    return pinned_release(f"{name}-release", "gpu-operator", NAMESPACE, values, parent, depends)
