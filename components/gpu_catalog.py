"""GPU catalog: which NVIDIA GPUs each target offers, on which machine types, and how they share.

Pure data and checks, no Pulumi: config validation and the per-cloud `GpuNodePool` components
read the same tables, so "does this cloud have that GPU, can that VM carry it, is that MIG
profile real" is answered once, offline, before any resource exists.

Kept as data rather than fetched (like `regions`): the preview must work offline. Each table
names the source it was checked against; a type missing here fails validation with the list of
what is known, and adding it is a one-line change with a source.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGETS: tuple[str, ...] = ("aws", "gcp", "azure", "onprem")

# One node convention on every target (issue 5): the GPU operator's own presence label, our
# type label, and a taint that keeps non-GPU pods off GPU nodes.
GPU_PRESENT_LABEL_KEY = "nvidia.com/gpu.present"
GPU_PRESENT_LABEL_VALUE = "true"
GPU_TYPE_LABEL_KEY = "hybridml.io/gpu-type"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "true"
GPU_TAINT_EFFECT = "NoSchedule"
GPU_TAINT = f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:{GPU_TAINT_EFFECT}"

# GKE caps time-sharing at 48 clients per physical GPU (max_shared_clients_per_gpu; "valid range
# 2-48" in https://cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass).
GKE_MAX_SHARED_CLIENTS_PER_GPU = 48


@dataclass(frozen=True)
class GpuType:
    """One GPU model under its canonical name, with the sharing modes it supports."""

    name: str
    memory_gb: int
    mig_profiles: tuple[str, ...] = ()
    time_slicing: bool = True

    @property
    def mig_supported(self) -> bool:
        return bool(self.mig_profiles)


@dataclass(frozen=True)
class MachineType:
    """A VM/instance type and the GPUs it can carry.

    `attached` types (GCP N1) take a chosen count of GPUs from `gpu_counts`; the others have
    their GPUs built in, and `gpu_counts` holds that one number.
    """

    name: str
    gpu_type: str
    gpu_counts: tuple[int, ...]
    attached: bool = False


# MIG profiles per GPU, from NVIDIA's own default mig-parted config (the names MIG Manager and
# the device plugin accept): github.com/NVIDIA/mig-parted deployments/systemd/config-default.yaml,
# cross-checked with docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html
# The "+me" media-extension variants are left out: one per GPU, not a pool-wide partitioning.
_MIG_40GB = ("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")
_MIG_80GB = ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
_MIG_94GB = ("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb")

_GPUS: tuple[GpuType, ...] = (
    GpuType("nvidia-t4", 16),
    GpuType("nvidia-l4", 24),
    GpuType("nvidia-a10g", 24),  # AWS's variant of the A10
    GpuType("nvidia-a10", 24),
    GpuType("nvidia-l40s", 48),
    GpuType("nvidia-a100-40gb", 40, _MIG_40GB),
    GpuType("nvidia-a100-80gb", 80, _MIG_80GB),
    GpuType("nvidia-h100-80gb", 80, _MIG_80GB),
    GpuType("nvidia-h100-nvl", 94, _MIG_94GB),  # Azure NCads H100 v5: H100 NVL, 94 GB
)
GPU_TYPES: dict[str, GpuType] = {g.name: g for g in _GPUS}


def _sizes(prefix: str, gpu: str, counts: dict[str, int], sep: str = ".") -> list[MachineType]:
    return [MachineType(f"{prefix}{sep}{size}", gpu, (n,)) for size, n in counts.items()]


_EIGHT_SIZES = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1,
                "12xlarge": 4, "16xlarge": 1, "24xlarge": 4, "48xlarge": 8}

# AWS: g5/g6/g6e/p4d/p5 from Karpenter's instance-type reference, generated from EC2
# DescribeInstanceTypes (github.com/aws/karpenter-provider-aws
# website/content/en/preview/reference/instance-types.md, instance-gpu-name/-count);
# g4dn/g5/g6 also in https://docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html;
# p4de ("8 NVIDIA A100 GPUs with 80GB") from the SageMaker API reference, ResourceConfig:
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html
_AWS = [
    *_sizes("g4dn", "nvidia-t4", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1,
                                  "12xlarge": 4, "16xlarge": 1}),
    *_sizes("g5", "nvidia-a10g", _EIGHT_SIZES),
    *_sizes("g6", "nvidia-l4", _EIGHT_SIZES),
    *_sizes("g6e", "nvidia-l40s", _EIGHT_SIZES),
    MachineType("p4d.24xlarge", "nvidia-a100-40gb", (8,)),
    MachineType("p4de.24xlarge", "nvidia-a100-80gb", (8,)),
    MachineType("p5.48xlarge", "nvidia-h100-80gb", (8,)),
]

# GCP: A2/A3/G2 fix their GPUs; map from Google's cluster-toolkit
# (github.com/GoogleCloudPlatform/cluster-toolkit modules/internal/gpu-definition/main.tf),
# see https://cloud.google.com/compute/docs/gpus. N1 takes 1, 2 or 4 T4s, at most 48 vCPUs with
# 1-2 GPUs and 96 with 4 (same page, as encoded in skypilot's gcp_catalog.py), so the two
# largest N1 types only take 4.
_GCP = [
    *[MachineType(f"a2-highgpu-{n}g", "nvidia-a100-40gb", (n,)) for n in (1, 2, 4, 8)],
    MachineType("a2-megagpu-16g", "nvidia-a100-40gb", (16,)),
    *[MachineType(f"a2-ultragpu-{n}g", "nvidia-a100-80gb", (n,)) for n in (1, 2, 4, 8)],
    MachineType("a3-highgpu-8g", "nvidia-h100-80gb", (8,)),
    *_sizes("g2-standard", "nvidia-l4", {"4": 1, "8": 1, "12": 1, "16": 1, "24": 2, "32": 1,
                                         "48": 4, "96": 8}, sep="-"),
    *[MachineType(f"n1-standard-{v}", "nvidia-t4", (1, 2, 4) if v <= 48 else (4,), attached=True)
      for v in (1, 2, 4, 8, 16, 32, 64, 96)],
]

# Azure: the size-series pages in github.com/MicrosoftDocs/azure-docs
# articles/virtual-machines/sizes/gpu-accelerated/ (ncast4v3, nca100v4, ncadsh100v5, ndasra100v4,
# ndma100v4, ndh100v5) and articles/virtual-machines/nva10v5-series.md. Only full-GPU NV A10 v5
# sizes: the smaller ones are 1/6 to 1/2 of a GPU.
_AZURE = [
    *_sizes("Standard_NC", "nvidia-t4", {"4as_T4_v3": 1, "8as_T4_v3": 1, "16as_T4_v3": 1,
                                         "64as_T4_v3": 4}, sep=""),
    *_sizes("Standard_NV", "nvidia-a10", {"36ads_A10_v5": 1, "36adms_A10_v5": 1,
                                          "72ads_A10_v5": 2}, sep=""),
    *_sizes("Standard_NC", "nvidia-a100-80gb", {"24ads_A100_v4": 1, "48ads_A100_v4": 2,
                                                "96ads_A100_v4": 4}, sep=""),
    MachineType("Standard_ND96asr_v4", "nvidia-a100-40gb", (8,)),
    MachineType("Standard_ND96amsr_A100_v4", "nvidia-a100-80gb", (8,)),
    MachineType("Standard_NC40ads_H100_v5", "nvidia-h100-nvl", (1,)),
    MachineType("Standard_NC80adis_H100_v5", "nvidia-h100-nvl", (2,)),
    MachineType("Standard_ND96isr_H100_v5", "nvidia-h100-80gb", (8,)),
]

MACHINE_TYPES: dict[str, dict[str, MachineType]] = {
    "aws": {m.name: m for m in _AWS},
    "gcp": {m.name: m for m in _GCP},
    "azure": {m.name: m for m in _AZURE},
    "onprem": {},
}

# GKE's accelerator type strings (node pool guest_accelerator.type); EKS and AKS have none, the
# GPU comes with the instance/VM type. Source: the cluster-toolkit map above and GKE's
# `gcloud container node-pools create --accelerator type=...` examples.
GKE_ACCELERATORS: dict[str, str] = {
    "nvidia-t4": "nvidia-tesla-t4",
    "nvidia-l4": "nvidia-l4",
    "nvidia-a100-40gb": "nvidia-tesla-a100",
    "nvidia-a100-80gb": "nvidia-a100-80gb",
    "nvidia-h100-80gb": "nvidia-h100-80gb",
}

_MACHINE_WORD = {"aws": "instance type", "gcp": "machine type", "azure": "VM size"}


def _check_target(target: object) -> str:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; allowed: {', '.join(TARGETS)}")
    return str(target)


def gpu_types(target: str) -> tuple[str, ...]:
    """Canonical GPU type names offered on `target` (on-prem: every known type)."""
    target = _check_target(target)
    if target == "onprem":
        return tuple(GPU_TYPES)
    offered = {m.gpu_type for m in MACHINE_TYPES[target].values()}
    return tuple(g for g in GPU_TYPES if g in offered)


def gpu_spec(gpu_type: str) -> GpuType:
    """The catalog entry for a canonical GPU type name."""
    if not isinstance(gpu_type, str) or gpu_type not in GPU_TYPES:
        raise ValueError(f"unknown gpu type {gpu_type!r}; known: {', '.join(GPU_TYPES)}")
    return GPU_TYPES[gpu_type]


def machine_types_for(target: str, gpu_type: str) -> tuple[str, ...]:
    """Machine/instance/VM types on `target` that carry `gpu_type`; empty on-prem."""
    target = _check_target(target)
    return tuple(m.name for m in MACHINE_TYPES[target].values() if m.gpu_type == gpu_type)


def cloud_accelerator(target: str, gpu_type: str) -> str | None:
    """The cloud's own accelerator name (GKE only); None where the machine type implies the GPU."""
    target = _check_target(target)
    if gpu_type not in gpu_types(target):
        raise ValueError(f"gpu type {gpu_type!r} is not offered on {target}; "
                         f"allowed: {', '.join(gpu_types(target))}")
    return GKE_ACCELERATORS[gpu_type] if target == "gcp" else None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _counts(counts: tuple[int, ...]) -> str:
    *head, last = (str(n) for n in counts)
    return f"{', '.join(head)} or {last}" if head else last


def _check_machine(target: str, gpu: GpuType, count: object, machine_type: object) -> list[str]:
    word = _MACHINE_WORD[target]
    allowed = ", ".join(machine_types_for(target, gpu.name))
    if machine_type is None or machine_type == "":
        return [f"{word} is required on {target}; {word}s with {gpu.name}: {allowed}"]
    table = MACHINE_TYPES[target]
    if not isinstance(machine_type, str) or machine_type not in table:
        return [f"unknown {word} {machine_type!r} on {target}; {word}s with {gpu.name}: {allowed}"]
    machine = table[machine_type]
    if machine.gpu_type != gpu.name:
        return [f"gpu type {gpu.name!r} is not offered on {target} by {word} {machine_type!r} "
                f"(it carries {machine.gpu_type}); {word}s with {gpu.name}: {allowed}"]
    if _is_count(count) and count not in machine.gpu_counts:
        how = "takes" if machine.attached else "carries exactly"
        return [f"{word} {machine_type!r} {how} {_counts(machine.gpu_counts)} x {gpu.name}; "
                f"gpu count {count} does not fit"]
    return []


def _check_sharing(target: str, gpu: GpuType, mig_profile: object, replicas: object) -> list[str]:
    problems: list[str] = []
    if mig_profile is not None:
        if not gpu.mig_supported:
            mig_gpus = [g for g in gpu_types(target) if GPU_TYPES[g].mig_supported]
            problems.append(f"MIG is not supported on {gpu.name}; MIG-capable gpu types on "
                            f"{target}: {', '.join(mig_gpus) or 'none'}")
        elif mig_profile not in gpu.mig_profiles:
            problems.append(f"MIG profile {mig_profile!r} is not valid for {gpu.name}; "
                            f"valid profiles: {', '.join(gpu.mig_profiles)}")
    if replicas is not None:
        limit = GKE_MAX_SHARED_CLIENTS_PER_GPU if target == "gcp" else None
        if not gpu.time_slicing:
            problems.append(f"time-slicing is not supported on {gpu.name}")
        elif not _is_count(replicas) or replicas < 2 or (limit and replicas > limit):
            upper = f" and at most {limit} on {target}" if limit else ""
            problems.append(f"time-slicing replicas must be a whole number >= 2{upper}; "
                            f"got {replicas!r}")
    return problems


def check_gpu_pool(
    target: str,
    gpu_type: str,
    gpu_count: int,
    machine_type: str | None,
    mig_profile: str | None = None,
    time_slicing_replicas: int | None = None,
) -> list[str]:
    """Every problem with one GPU pool spec, each naming what is allowed; empty when it is valid.

    Never raises: any value of any type is judged, so config validation can turn the list into
    one clean error. `gpu_count` is GPUs per node; on-prem takes no machine type (nodes exist).
    """
    if target not in TARGETS:
        return [f"unknown target {target!r}; allowed: {', '.join(TARGETS)}"]
    offered = gpu_types(target)
    if not isinstance(gpu_type, str) or gpu_type not in offered:
        return [f"gpu type {gpu_type!r} is not offered on {target}; "
                f"gpu types on {target}: {', '.join(offered)}"]
    gpu = GPU_TYPES[gpu_type]
    problems: list[str] = []
    if not _is_count(gpu_count) or gpu_count < 1:
        problems.append(f"gpu count must be a whole number >= 1; got {gpu_count!r}")
    if target == "onprem":
        if machine_type is not None:
            problems.append(f"machine type does not apply on onprem (the GPU nodes already "
                            f"exist); leave it unset, got {machine_type!r}")
    else:
        problems += _check_machine(target, gpu, gpu_count, machine_type)
    return problems + _check_sharing(target, gpu, mig_profile, time_slicing_replicas)
