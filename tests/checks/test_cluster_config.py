"""The `kubernetes` config: bad GPU pools, versions, API access and cluster ranges are refused
before anything is built, each naming its key and what is allowed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.gpu_catalog import GPU_TYPES, MACHINE_TYPES
from stacks.checks.problems import ConfigError
from stacks.plan.clusters import planned_clusters
from stacks.program.validate import parse_platform
from tests.config.test_config_validation import problems_of
from tests.conftest import ROOT, stack_platform, write_stack

K = "hybrid-ml-platform:platform.kubernetes"


def _one(p: dict) -> str:
    [line] = problems_of(p)
    return line


def test_shipped_stacks_plan_a_cluster_per_configured_region():
    prod = [(c.site, c.name, c.version) for c in planned_clusters(parse_platform(stack_platform("prod")))]
    assert prod == [("onprem", "onprem-prod", "1.32"),
                    ("aws", "hml-prod-aws-eu-west-1", "1.33"),
                    ("gcp", "hml-prod-gcp-europe-west4", "1.33"),
                    ("azure", "hml-prod-azure-westeurope", "1.33")]


def test_gpu_type_the_cloud_does_not_offer_names_the_key_and_the_choices():
    p = stack_platform("prod")
    p["kubernetes"]["gcp"]["europe-west4"]["gpuPools"][0]["gpuType"] = "nvidia-a10g"
    line = _one(p)
    assert line.startswith(f"{K}.gcp.europe-west4.gpuPools[0].gpuType: bad value 'nvidia-a10g'")
    assert "gpu types on gcp: nvidia-t4, nvidia-l4" in line


def test_machine_type_that_cannot_carry_the_gpu():
    p = stack_platform("prod")
    p["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]["machineType"] = "p4d.24xlarge"
    line = _one(p)
    assert line.startswith(f"{K}.aws.eu-west-1.gpuPools[0].machineType: bad value 'p4d.24xlarge'")
    assert "instance types with nvidia-l4: g6.xlarge" in line


def test_gpu_count_the_vm_size_does_not_have():
    p = stack_platform("prod")
    p["kubernetes"]["azure"]["westeurope"]["gpuPools"][0]["gpuCount"] = 2
    line = _one(p)
    assert line.startswith(f"{K}.azure.westeurope.gpuPools[0].gpuCount: bad value 2")
    assert "carries exactly 1 x nvidia-a100-80gb" in line


def test_mig_on_a_gpu_without_mig_and_both_sharing_modes():
    p = stack_platform("prod")
    pool = p["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]
    pool["migProfile"] = "1g.10gb"
    pool["timeSlicingReplicas"] = 4
    lines = problems_of(p)
    assert any(line.startswith(f"{K}.aws.eu-west-1.gpuPools[0].migProfile: bad value '1g.10gb'")
               and "MIG is not supported on nvidia-l4" in line for line in lines)
    assert any(".timeSlicingReplicas: bad value 4" in line and "not both" in line for line in lines)


def test_onprem_pool_needs_its_nodes_and_takes_no_machine_type():
    p = stack_platform("prod")
    pool = p["kubernetes"]["onprem"]["gpuPools"][1]
    pool["nodes"] = []
    pool["machineType"] = "g6.xlarge"
    lines = problems_of(p)
    assert any(line.startswith(f"{K}.onprem.gpuPools[1].nodes: missing") for line in lines)
    assert any(line.startswith(f"{K}.onprem.gpuPools[1].machineType: bad value 'g6.xlarge'")
               for line in lines)


def test_node_in_two_onprem_pools():
    p = stack_platform("prod")
    p["kubernetes"]["onprem"]["gpuPools"][1]["nodes"] = ["gpu-a100-01"]
    assert _one(p).startswith(f"{K}.onprem.gpuPools[1].nodes[0]: bad value 'gpu-a100-01'")


def test_min_above_max():
    p = stack_platform("dev")
    p["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]["minSize"] = 5
    assert _one(p).startswith(f"{K}.aws.eu-west-1.gpuPools[0].minSize: bad value 5; must not exceed maxSize (2)")


def test_unsupported_version_lists_the_allowed_ones():
    p = stack_platform("dev")
    p["kubernetes"]["onprem"]["version"] = "1.24"
    line = _one(p)
    assert line.startswith(f"{K}.onprem.version: bad value '1.24'; allowed Kubernetes versions: 1.30,")


def test_restricted_api_needs_public_ranges_and_never_the_internet():
    p = stack_platform("prod")
    p["kubernetes"]["aws"]["eu-west-1"]["apiAccess"] = "restricted"
    assert _one(p).startswith(f"{K}.aws.eu-west-1.publicCidrs: missing")
    p["kubernetes"]["aws"]["eu-west-1"]["publicCidrs"] = ["0.0.0.0/0", "10.1.0.0/16"]
    lines = problems_of(p)
    assert any(line.startswith(f"{K}.aws.eu-west-1.publicCidrs[0]: bad value '0.0.0.0/0'") for line in lines)
    assert any(line.startswith(f"{K}.aws.eu-west-1.publicCidrs[1]: bad value '10.1.0.0/16'") for line in lines)


def test_private_api_needs_the_onprem_network_to_be_reached_from():
    p = stack_platform("dev")
    p["sites"]["onprem"]["enabled"] = False
    del p["kubernetes"]["onprem"]
    del p["network"]["onprem"]
    line = _one(p)
    assert line.startswith(f"{K}.aws.eu-west-1.apiAccess: bad value 'private'")
    assert "use restricted with publicCidrs" in line


def test_cluster_in_a_region_without_network_or_site():
    p = stack_platform("prod")
    p["kubernetes"]["aws"]["eu-central-1"] = {}
    del p["network"]["aws"]["eu-central-1"]
    lines = problems_of(p)
    assert any(line.startswith(f"{K}.aws.eu-central-1: ") and "add network.aws.eu-central-1" in line
               for line in lines)
    p = stack_platform("dev")
    p["kubernetes"]["aws"]["eu-central-1"] = {}
    assert "allowed: enabled regions of sites.aws (eu-west-1)" in _one(p)


def test_aks_ranges_must_not_collide_with_the_address_plan():
    p = stack_platform("prod")
    p["kubernetes"]["azure"]["westeurope"]["serviceCidr"] = "10.48.0.0/20"
    line = _one(p)
    assert line.startswith(f"{K}.azure.westeurope.serviceCidr: bad value '10.48.0.0/20'")
    assert "overlaps hybrid-ml-platform:platform.network.azure.westeurope.cidr" in line


def test_onprem_storage_must_be_encrypted():
    p = stack_platform("dev")
    p["kubernetes"]["onprem"]["storage"]["parameters"]["encrypted"] = "false"
    assert _one(p).startswith(f"{K}.onprem.storage.parameters.encrypted: bad value 'false'; must be 'true'")
    p["kubernetes"]["onprem"]["storage"]["provisioner"] = "nfs.csi.k8s.io"
    assert "allowed (CSI drivers with known encryption): rbd.csi.ceph.com" in _one(p)


def test_platform_namespace_cannot_take_an_addon_namespace():
    p = stack_platform("dev")
    p["kubernetes"]["namespaces"] = [{"name": "mlflow"}, {"name": "kube-system"}]
    assert _one(p).startswith(f"{K}.namespaces[1].name: bad value 'kube-system'")


def test_cli_refuses_a_bad_gpu_pool_with_exit_2_and_writes_nothing(tmp_path):
    p = stack_platform("prod")
    p["kubernetes"]["azure"]["westeurope"]["gpuPools"][0]["machineType"] = "Standard_NC4as_T4_v3"
    project = write_stack(tmp_path, "prod", p)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "prod", "-C", str(project), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (f"{K}.azure.westeurope.gpuPools[0].machineType: bad value 'Standard_NC4as_T4_v3'; "
            "gpu type 'nvidia-a100-80gb' is not offered on azure by VM size") in proc.stderr
    assert not out.exists()


_machine = st.sampled_from(sorted({m for t in MACHINE_TYPES.values() for m in t}) + ["m5.large", ""])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cloud=st.sampled_from(["aws", "gcp", "azure"]),
       pool=st.fixed_dictionaries({
           "name": st.sampled_from(["a", "pool1", "Bad", "x" * 13]),
           "gpuType": st.sampled_from([*GPU_TYPES, "nvidia-v100", 7]),
           "gpuCount": st.one_of(st.integers(-2, 20), st.just("two")),
           "machineType": _machine,
           "minSize": st.integers(-1, 5), "maxSize": st.integers(0, 5),
           "migProfile": st.sampled_from([None, "1g.10gb", "3g.40gb", "9g.1tb"]),
           "timeSlicingReplicas": st.sampled_from([None, 0, 1, 4, 49]),
       }))
def test_any_gpu_pool_is_accepted_or_refused_cleanly(cloud, pool):
    region = {"aws": "eu-west-1", "gcp": "europe-west4", "azure": "westeurope"}[cloud]
    p = stack_platform("prod")
    p["kubernetes"][cloud][region]["gpuPools"] = [pool]
    try:
        cfg = parse_platform(p)
    except ConfigError as err:
        assert all(str(prob).startswith("hybrid-ml-platform:platform.") for prob in err.problems)
        return
    # Accepted means the component interface accepts it too.
    from stacks.plan.clusters import gpu_specs
    conf = getattr(cfg.kubernetes, cloud)[region]
    [spec] = gpu_specs(cloud, conf.gpu_pools)
    assert spec.machine_type in MACHINE_TYPES[cloud]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_configured_gpu_pool_is_a_valid_component_spec(stack):
    from stacks.plan.clusters import gpu_specs
    cfg = parse_platform(stack_platform(stack))
    k = cfg.kubernetes
    specs = list(gpu_specs("onprem", k.onprem.gpu_pools))
    for cloud in ("aws", "gcp", "azure"):
        for conf in getattr(k, cloud).values():
            specs += gpu_specs(cloud, conf.gpu_pools)
    assert specs and all(s.max_size >= s.min_size for s in specs)
