"""What `services.serving` means, checked: clusters, GPU pools, images, canaries, failover and quotas."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from components import network_plan
from components.gpu_catalog import GPU_TYPES
from components.kubernetes.namespace import ContainerDefaults
from components.kubernetes.objects import quantity
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.platform import PlatformConfig
from stacks.config.serving import SURGE_PODS, Serving
from stacks.plan.clusters import clusters_by_ref
from stacks.plan.serving import accepted_pools, cpu_limit, peak_pods, slots_per_node


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned (no tag, latest), the rule the policy pack applies."""
    if "@sha256:" in image:
        return None
    if "@" in image:
        return "a digest must be sha256"
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag:
        return "no tag means latest; pin a version tag or a digest (image@sha256:...)"
    if tag == "latest":
        return "the latest tag is not a pin; use a version tag or a digest"
    return None


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    serving = cfg.services.serving
    if serving is None:
        return []
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        out.append(ConfigProblem(key_path(("services", "serving", *loc)), value, why))

    namespaces = cfg.kubernetes.namespaces if cfg.kubernetes is not None else []
    ns_index = next((i for i, ns in enumerate(namespaces) if ns.name == serving.namespace), None)
    if ns_index is None:
        add(("namespace",), serving.namespace,
            "allowed: a platform namespace of kubernetes.namespaces "
            f"({', '.join(n.name for n in namespaces) or 'none'})")
    known = clusters_by_ref(cfg)
    names = [m.name for m in serving.models]
    any_failover = False
    limits = ContainerDefaults()

    for i, model in enumerate(serving.models):
        loc = ("models", i)
        if names.count(model.name) > 1:
            add((*loc, "name"), model.name, "model names must be unique")
        for j, gpu in enumerate(model.gpu_types):
            if gpu not in GPU_TYPES:
                add((*loc, "gpuTypes", j), gpu, f"allowed: {', '.join(sorted(GPU_TYPES))}")
        if len(set(model.clusters)) != len(model.clusters):
            add((*loc, "clusters"), model.clusters, "each cluster may appear once")
        for j, ref in enumerate(model.clusters):
            if ref not in known:
                add((*loc, "clusters", j), ref,
                    f"allowed: clusters of the stack ({', '.join(known) or 'none'})")
                continue
            pools = accepted_pools(cfg, model, ref)
            if not pools:
                wanted = ", ".join(model.gpu_types) or "any GPU"
                add((*loc, "clusters", j), ref,
                    f"has no {'' if model.spot else 'on-demand '}GPU pool of an accepted type "
                    f"({wanted}); add one under {known[ref].config_path}.gpuPools or pick another cluster")
            elif max(slots_per_node(p) for p in pools) < model.gpus_per_replica:
                add((*loc, "gpusPerReplica"), model.gpus_per_replica,
                    f"no accepted GPU pool of {ref} has nodes with that many GPUs "
                    f"(largest: {max(slots_per_node(p) for p in pools)})")
        for track in ("stable", "canary"):
            version = getattr(model, track)
            if version is None:
                continue
            if version.min_replicas > version.max_replicas:
                add((*loc, track, "minReplicas"), version.min_replicas,
                    f"must not exceed maxReplicas ({version.max_replicas})")
            if (why := image_problem(version.image)) is not None:
                add((*loc, track, "image"), version.image, why)
        if model.canary is not None and model.canary.version == model.stable.version:
            add((*loc, "canary", "version"), model.canary.version,
                "a canary serves another registry version than stable")
        for key, value, top in (("cpu", model.cpu, limits.max_cpu),
                                ("cpuLimit", cpu_limit(model), limits.max_cpu),
                                ("memory", model.memory, limits.max_memory)):
            if quantity(value) > quantity(top):
                add((*loc, key), value, f"at most {top} (the namespace's per-container maximum)")
        if quantity(cpu_limit(model)) < quantity(model.cpu):
            add((*loc, "cpuLimit"), model.cpu_limit, f"must be at least the request ({model.cpu})")
        if quantity(model.shm_size) >= quantity(model.memory):
            add((*loc, "shmSize"), model.shm_size, f"must be below the memory limit ({model.memory})")

        fo = model.failover
        if fo is None:
            continue
        any_failover = True
        if fo.primary == fo.secondary:
            add((*loc, "failover", "secondary"), fo.secondary,
                f"must be another cluster than the primary ({fo.primary}): failover needs two sites")
        for role in ("primary", "secondary"):
            ref = getattr(fo, role)
            if ref not in model.clusters:
                add((*loc, "failover", role), ref,
                    f"allowed: a cluster the model is served on ({', '.join(model.clusters)})")
                continue
            if ref not in known:
                continue  # reported under clusters
            site, _, region = ref.partition("/")
            if ref == "onprem":
                if serving.failover is not None and serving.failover.onprem_public_address is None:
                    add(("failover", "onpremPublicAddress"), MISSING,
                        "required when on-prem is a failover site: the public IPv4 of the DMZ/NAT "
                        "in front of the on-prem serving-public gateway")
            elif site == "aws":
                net = cfg.network.aws.get(region) if cfg.network is not None else None
                if net is not None and net.nat_gateways == "none":
                    add((*loc, "failover", role), ref,
                        f"network.aws.{region}.natGateways is none: that VPC has no public subnets "
                        "for the internet-facing load balancer")

    if any_failover:
        if serving.failover is None:
            add(("failover",), MISSING, "required when a model has failover: domain, hostedZoneId "
                "(a Route 53 public hosted zone) and, for on-prem sites, onpremPublicAddress")
        if serving.auth is None:
            add(("auth",), MISSING, "required when a model has failover: its inference endpoint "
                "is public, so requests must carry a JWT (issuer, jwksUri)")
        if "aws" not in cfg.enabled_clouds():
            add(("models",), [m.name for m in serving.models if m.failover],
                "failover records live in Route 53: enable sites.aws (its first region's provider is used)")
    fo_cfg = serving.failover
    if fo_cfg is not None and fo_cfg.onprem_public_address is not None:
        address = str(fo_cfg.onprem_public_address)
        if not network_plan.is_public_address(address):
            add(("failover", "onpremPublicAddress"), address,
                "must be a public IPv4 address (not RFC 1918, CGNAT, loopback, link-local or "
                "multicast): Route 53 health checkers and clients come from the internet")

    if ns_index is not None and not out:
        out += _quota_problems(cfg, serving, ns_index)
    return out


def _amount(value: Decimal, key: str) -> str:
    if key == "memory":
        gib = -(-value // (Decimal(2) ** 30))  # ceiling
        return f"{gib}Gi"
    return format(value.normalize(), "f")


def _quota_problems(cfg: PlatformConfig, serving: Serving, ns_index: int) -> list[ConfigProblem]:
    """The serving namespace's quota (the same on every cluster) must hold every replica at its
    maximum plus one rollout surge pod per Deployment, on the busiest cluster."""
    assert cfg.kubernetes is not None
    quota = cfg.kubernetes.namespaces[ns_index].quota
    keys = ("gpus", "cpu", "memory", "pods")
    need: dict[str, dict[str, Decimal]] = {}
    for model in serving.models:
        pods = peak_pods(model)
        # limits.cpu of the quota is twice its cpu (stacks/platform_namespaces.py): count the
        # larger of request and half the limit against `cpu`.
        cpu = max(quantity(model.cpu), quantity(cpu_limit(model)) / 2)
        for ref in model.clusters:
            n = need.setdefault(ref, dict.fromkeys(keys, Decimal(0)))
            n["gpus"] += pods * model.gpus_per_replica
            n["cpu"] += pods * cpu
            n["memory"] += pods * quantity(model.memory)
            n["pods"] += pods
    have = {"gpus": Decimal(quota.gpus), "cpu": quantity(quota.cpu),
            "memory": quantity(quota.memory), "pods": Decimal(quota.pods)}
    out: list[ConfigProblem] = []
    for key in keys:
        ref, top = max(((r, n[key]) for r, n in need.items()), key=lambda x: x[1],
                       default=("", Decimal(0)))
        if top > have[key]:
            out.append(ConfigProblem(
                key_path(("kubernetes", "namespaces", ns_index, "quota", key)), getattr(quota, key),
                f"at least {_amount(top, key)}: the {serving.namespace} namespace must hold every "
                f"model replica of {ref} at maxReplicas plus {SURGE_PODS} rollout surge pod per "
                "Deployment"))
    return out
