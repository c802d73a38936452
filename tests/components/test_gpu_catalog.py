"""GPU catalog: valid pools pass, wrong ones name what is allowed, and nothing ever raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import gpu_catalog as gc
from components.gpu_catalog import check_gpu_pool

VALID = [
    ("aws", "nvidia-t4", 1, "g4dn.xlarge", None, None),
    ("aws", "nvidia-a10g", 4, "g5.12xlarge", None, 4),
    ("aws", "nvidia-l4", 8, "g6.48xlarge", None, None),
    ("aws", "nvidia-l40s", 1, "g6e.xlarge", None, None),
    ("aws", "nvidia-a100-40gb", 8, "p4d.24xlarge", "1g.5gb", None),
    ("aws", "nvidia-a100-80gb", 8, "p4de.24xlarge", "3g.40gb", None),
    ("aws", "nvidia-h100-80gb", 8, "p5.48xlarge", "7g.80gb", 2),
    ("gcp", "nvidia-t4", 1, "n1-standard-4", None, None),
    ("gcp", "nvidia-t4", 2, "n1-standard-8", None, 48),
    ("gcp", "nvidia-t4", 4, "n1-standard-96", None, None),
    ("gcp", "nvidia-l4", 2, "g2-standard-24", None, None),
    ("gcp", "nvidia-a100-40gb", 16, "a2-megagpu-16g", "2g.10gb", None),
    ("gcp", "nvidia-a100-80gb", 1, "a2-ultragpu-1g", "1g.10gb", 7),
    ("gcp", "nvidia-h100-80gb", 8, "a3-highgpu-8g", "1g.20gb", None),
    ("azure", "nvidia-t4", 4, "Standard_NC64as_T4_v3", None, None),
    ("azure", "nvidia-a10", 2, "Standard_NV72ads_A10_v5", None, None),
    ("azure", "nvidia-a100-80gb", 1, "Standard_NC24ads_A100_v4", "7g.80gb", None),
    ("azure", "nvidia-a100-40gb", 8, "Standard_ND96asr_v4", None, None),
    ("azure", "nvidia-h100-nvl", 2, "Standard_NC80adis_H100_v5", "3g.47gb", None),
    ("azure", "nvidia-h100-80gb", 8, "Standard_ND96isr_H100_v5", None, None),
    ("onprem", "nvidia-a10g", 3, None, None, 10),
    ("onprem", "nvidia-h100-nvl", 1, None, "1g.12gb", None),
]


@pytest.mark.parametrize(("target", "gpu", "count", "machine", "mig", "slices"), VALID)
def test_valid_pools_pass(target, gpu, count, machine, mig, slices):
    assert check_gpu_pool(target, gpu, count, machine, mig, slices) == []


def test_gpu_on_the_wrong_instance_type_names_the_right_ones():
    assert check_gpu_pool("aws", "nvidia-h100-80gb", 8, "g5.xlarge") == [
        "gpu type 'nvidia-h100-80gb' is not offered on aws by instance type 'g5.xlarge' "
        "(it carries nvidia-a10g); instance types with nvidia-h100-80gb: p5.48xlarge"
    ]


def test_gpu_not_offered_on_target_lists_the_offered_ones():
    (problem,) = check_gpu_pool("gcp", "nvidia-l40s", 1, "g2-standard-4")
    assert "'nvidia-l40s' is not offered on gcp" in problem
    assert "nvidia-t4, nvidia-l4, nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb" in problem


def test_fixed_count_must_match_the_type():
    (problem,) = check_gpu_pool("gcp", "nvidia-l4", 2, "g2-standard-48")
    assert problem == (
        "machine type 'g2-standard-48' carries exactly 4 x nvidia-l4; gpu count 2 does not fit"
    )


def test_n1_t4_count_is_chosen_within_the_vcpu_limits():
    (problem,) = check_gpu_pool("gcp", "nvidia-t4", 3, "n1-standard-8")
    assert "takes 1, 2 or 4 x nvidia-t4" in problem
    (problem,) = check_gpu_pool("gcp", "nvidia-t4", 2, "n1-standard-64")
    assert "takes 4 x nvidia-t4" in problem


def test_unknown_and_missing_machine_types_list_the_candidates():
    (problem,) = check_gpu_pool("azure", "nvidia-t4", 1, "Standard_D4s_v5")
    assert problem.startswith(
        "unknown VM size 'Standard_D4s_v5' on azure; VM sizes with nvidia-t4:"
    )
    assert "Standard_NC4as_T4_v3" in problem
    (problem,) = check_gpu_pool("aws", "nvidia-l4", 1, None)
    assert problem.startswith("instance type is required on aws;") and "g6.xlarge" in problem


def test_onprem_takes_no_machine_type_and_any_known_gpu():
    assert check_gpu_pool("onprem", "nvidia-l40s", 1, "g6e.xlarge") == [
        "machine type does not apply on onprem (the GPU nodes already exist); "
        "leave it unset, got 'g6e.xlarge'"
    ]
    assert gc.gpu_types("onprem") == tuple(gc.GPU_TYPES)


@pytest.mark.parametrize("count", [0, -1, True, 1.5, "2", None])
def test_gpu_count_must_be_a_positive_whole_number(count):
    assert check_gpu_pool("onprem", "nvidia-t4", count, None) == [
        f"gpu count must be a whole number >= 1; got {count!r}"
    ]


def test_mig_on_a_non_mig_gpu_fails_naming_the_mig_gpus():
    assert check_gpu_pool("aws", "nvidia-a10g", 1, "g5.xlarge", mig_profile="1g.5gb") == [
        "MIG is not supported on nvidia-a10g; MIG-capable gpu types on aws: "
        "nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb"
    ]


def test_bad_mig_profile_names_the_valid_ones():
    assert check_gpu_pool("gcp", "nvidia-a100-40gb", 1, "a2-highgpu-1g", "1g.10gb") == []
    assert check_gpu_pool("gcp", "nvidia-a100-80gb", 1, "a2-ultragpu-1g", "1g.5gb") == [
        "MIG profile '1g.5gb' is not valid for nvidia-a100-80gb; valid profiles: "
        "1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb"
    ]


@pytest.mark.parametrize(("target", "replicas"), [("onprem", 1), ("aws", 0), ("gcp", 49)])
def test_time_slicing_replicas_are_bounded(target, replicas):
    machine = {"onprem": None, "aws": "g4dn.xlarge", "gcp": "n1-standard-4"}[target]
    (problem,) = check_gpu_pool(target, "nvidia-t4", 1, machine, time_slicing_replicas=replicas)
    assert problem.startswith("time-slicing replicas must be a whole number >= 2")


def test_several_problems_are_reported_together():
    problems = check_gpu_pool("aws", "nvidia-t4", 2, "g4dn.xlarge", "1g.5gb", 1)
    assert len(problems) == 3


def test_unknown_target():
    assert check_gpu_pool("ibm", "nvidia-t4", 1, None) == [
        "unknown target 'ibm'; allowed: aws, gcp, azure, onprem"
    ]
    with pytest.raises(ValueError, match="allowed: aws, gcp, azure, onprem"):
        gc.gpu_types("ibm")


@pytest.mark.parametrize("target", ["aws", "gcp", "azure"])
def test_every_machine_type_maps_back_to_its_gpu(target):
    for name, machine in gc.MACHINE_TYPES[target].items():
        assert machine.name == name
        assert machine.gpu_type in gc.GPU_TYPES
        assert machine.gpu_type in gc.gpu_types(target)
        assert name in gc.machine_types_for(target, machine.gpu_type)
        for count in machine.gpu_counts:
            assert check_gpu_pool(target, machine.gpu_type, count, name) == []


def test_every_offered_gpu_has_a_machine_type_and_mig_gpus_have_profiles():
    for target in ("aws", "gcp", "azure"):
        for gpu in gc.gpu_types(target):
            assert gc.machine_types_for(target, gpu)
    assert {g for g, spec in gc.GPU_TYPES.items() if spec.mig_supported} == {
        "nvidia-a100-40gb", "nvidia-a100-80gb", "nvidia-h100-80gb", "nvidia-h100-nvl"
    }
    assert all(spec.time_slicing for spec in gc.GPU_TYPES.values())
    assert gc.machine_types_for("onprem", "nvidia-t4") == ()


def test_cloud_accelerator_names():
    assert {g: gc.cloud_accelerator("gcp", g) for g in gc.gpu_types("gcp")} == {
        "nvidia-t4": "nvidia-tesla-t4",
        "nvidia-l4": "nvidia-l4",
        "nvidia-a100-40gb": "nvidia-tesla-a100",
        "nvidia-a100-80gb": "nvidia-a100-80gb",
        "nvidia-h100-80gb": "nvidia-h100-80gb",
    }
    assert gc.cloud_accelerator("aws", "nvidia-a10g") is None
    assert gc.cloud_accelerator("azure", "nvidia-h100-nvl") is None
    with pytest.raises(ValueError, match="not offered on gcp"):
        gc.cloud_accelerator("gcp", "nvidia-a10g")


def test_node_conventions():
    present = f"{gc.GPU_PRESENT_LABEL_KEY}={gc.GPU_PRESENT_LABEL_VALUE}"
    assert present == "nvidia.com/gpu.present=true"
    assert gc.GPU_TYPE_LABEL_KEY == "hybridml.io/gpu-type"
    assert gc.GPU_TAINT == "nvidia.com/gpu=true:NoSchedule"


_catalog_words = st.sampled_from(
    [*gc.TARGETS, *gc.GPU_TYPES, *[m for t in gc.MACHINE_TYPES.values() for m in t], "1g.5gb"]
)
_anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    _catalog_words, st.lists(st.text(max_size=3), max_size=2),
)


@given(_anything, _anything, _anything, _anything, _anything, _anything)
def test_check_gpu_pool_never_raises(target, gpu, count, machine, mig, replicas):
    problems = check_gpu_pool(target, gpu, count, machine, mig, replicas)
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)


@given(st.sampled_from(gc.TARGETS), st.sampled_from(list(gc.GPU_TYPES)),
       st.integers(min_value=-3, max_value=20), st.text(max_size=20) | st.none())
def test_check_gpu_pool_never_raises_near_valid_input(target, gpu, count, machine):
    check_gpu_pool(target, gpu, count, machine)
