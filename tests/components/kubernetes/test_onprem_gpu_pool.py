"""The on-prem GpuNodePool under the offline preview: every configured node gets the agreed GPU
labels and taint through a forced server-side-apply patch; bad pool config fails validation."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
from pydantic import ValidationError

from components.kubernetes.gpu_pool import GpuPoolSpec
from components.kubernetes.onprem_gpu_pool import GpuNodePool, GpuNodePoolArgs
from components.tags import StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(
    owner="ml-platform",
    cost_center="ML-4100",
    environment="prod",
    data_classification="confidential",
)
NODE_PATCH = "kubernetes:core/v1:NodePatch"
TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}


def _pool(**over) -> GpuPoolSpec:
    fields = {
        "target": "onprem",
        "name": "h100",
        "gpu_type": "nvidia-h100-80gb",
        "gpu_count": 8,
        "nodes": ("gpu-01", "gpu-02.dc1.example.internal"),
        "mig_profile": "3g.40gb",
    }
    return GpuPoolSpec(**{**fields, **over})


def _program(pool: GpuPoolSpec):
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="<placeholder>")
        gpus = GpuNodePool(
            "gpus",
            GpuNodePoolArgs(pool=pool, tags=TAGS),
            pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("pool", gpus.pool_name)
        pulumi.export("nodes", gpus.nodes)
        pulumi.export("labels", gpus.labels)
        pulumi.export("taints", gpus.taints)

    return program


@pytest.fixture(scope="module")
def plan() -> dict:
    return component_plan(_program(_pool()))


def test_every_node_gets_the_agreed_labels_and_taint(plan):
    patches = {r["inputs"]["metadata"]["name"]: r for r in resources_of(plan, NODE_PATCH)}
    assert set(patches) == {"gpu-01", "gpu-02.dc1.example.internal"}
    for patch in patches.values():
        i = patch["inputs"]
        assert (i["apiVersion"], i["kind"]) == ("v1", "Node")
        labels = i["metadata"]["labels"]
        assert labels["nvidia.com/gpu.present"] == "true"
        assert labels["hybridml.io/gpu-type"] == "nvidia-h100-80gb"
        assert labels["hybridml.io/gpu-pool"] == "h100"
        assert (
            labels["nvidia.com/mig.config"] == "all-3g.40gb"
        )  # read by the operator's MIG manager
        assert labels["hybridml.io/owner"] == "ml-platform"
        assert i["spec"]["taints"] == [TAINT]
        # The taint list is atomic and owned by another manager: the patch must force.
        assert i["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
        assert patch["provider"].endswith("::k8s")
        kubernetes_validate.validate(i, "1.33.0", strict=True)
    assert plan["outputs"]["pool"] == "h100"
    assert plan["outputs"]["nodes"] == ["gpu-01", "gpu-02.dc1.example.internal"]
    assert plan["outputs"]["taints"] == [TAINT]
    assert plan["outputs"]["labels"]["hybridml.io/gpu-pool"] == "h100"


def test_time_slicing_pool_selects_its_device_plugin_config():
    pool = _pool(
        name="l40s", gpu_type="nvidia-l40s", gpu_count=4, mig_profile=None, time_slicing_replicas=4
    )
    plan = component_plan(_program(pool))
    for patch in resources_of(plan, NODE_PATCH):
        labels = patch["inputs"]["metadata"]["labels"]
        assert labels["nvidia.com/device-plugin.config"] == "l40s"
        assert "nvidia.com/mig.config" not in labels


def test_policy_pack_passes(plan):
    cfg = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    res = run_policy_pack(ROOT / "policies", plan["resources"], cfg, analyze_all_resources=True)
    assert [d for d in res.diagnostics if d.enforcement_level == "mandatory"] == []


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"nodes": ()}, "names its existing GPU nodes"),
        ({"machine_type": "p5.48xlarge"}, "machine type does not apply on onprem"),
        ({"mig_profile": "9g.99gb"}, "MIG profile '9g.99gb' is not valid"),
    ],
)
def test_bad_onprem_pool_config_names_the_problem(over, problem):
    with pytest.raises(ValidationError, match=problem):
        _pool(**over)


@pytest.mark.parametrize(
    ("nodes", "problem"),
    [
        (("gpu-01", "gpu-01"), "listed twice"),
        (("GPU_01",), "not Kubernetes node names"),
    ],
)
def test_bad_node_lists_are_rejected(nodes, problem):
    with pytest.raises(ValidationError, match=problem):
        GpuNodePoolArgs(pool=_pool(nodes=nodes), tags=TAGS)


def test_cloud_pools_are_rejected():
    cloud = GpuPoolSpec(
        target="aws", name="l4", gpu_type="nvidia-l4", gpu_count=1, machine_type="g6.xlarge"
    )
    with pytest.raises(ValidationError, match="targets aws"):
        GpuNodePoolArgs(pool=cloud, tags=TAGS)
