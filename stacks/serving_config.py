"""Config of GPU model serving: models from the MLflow registry, canary splits, cross-site failover.

Structure here; what it means (clusters exist and have GPUs the model accepts, the serving
namespace's quota covers every replica, failover sites differ and can be reached from the
internet, images are pinned) is checked by `problems(cfg)` before anything is built.

The image contract (MLflow 3.18, the platform's pinned MLflow; details in
components/kubernetes/model_serving.py): each version's image is built by

    MLFLOW_TRACKING_URI=https://mlflow.<cluster>.<baseDomain> \
    mlflow models build-docker -m models:/<registeredModel>/<version> \
        -n <registry>/<repo>:<version> --env-manager local

with mlflow==3.18.0, pushed, and pinned here by digest. `--env-manager local` is required: the
CLI default (virtualenv) puts the model's environment under /root, which the non-root pods
cannot read. The container runs the image's own entrypoint with nginx disabled: the MLflow
scoring server (uvicorn) on port 8000, `POST /invocations`, `GET /ping` and `GET /health`, no
metrics endpoint.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from components import network_plan
from components.gpu_catalog import GPU_TYPES
from components.kubernetes.namespace import ContainerDefaults
from components.kubernetes.objects import quantity
from stacks.config_base import ConfigModel, Ipv4

if TYPE_CHECKING:
    from stacks.config import PlatformConfig
    from stacks.kubernetes_config import GpuPool
    from stacks.validation import ConfigProblem

#: A cluster of the stack (as in stacks/services_config.py, which imports this module).
ClusterRef = Annotated[str, Field(pattern=r"^(onprem|(aws|gcp|azure)/[a-z0-9-]+)$")]
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
_DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_HTTPS_URL = r"^https://[^\s/]+(/\S*)?$"
#: Largest canary share: a canary is an experiment, the stable version keeps the majority.
MAX_CANARY_WEIGHT = 50
#: Pods a Deployment may add above its replicas during a rollout (maxSurge): the quota needs room.
SURGE_PODS = 1


class ModelVersion(ConfigModel):
    """One registry version of the model, as a pinned serving image."""

    version: str = Field(pattern=r"^[0-9]{1,9}$")
    """MLflow model registry version number, e.g. "3" (models:/<registeredModel>/<version>)."""
    image: str = Field(min_length=3, max_length=512)
    """Image built from that registry version with MLflow 3.18 (`mlflow models build-docker -m
    models:/<registeredModel>/<version> -n <image> --env-manager local`), pinned by a tag other
    than latest or, better, by digest (`registry/app:v3@sha256:...`)."""
    min_replicas: int = Field(default=1, ge=1, le=100)
    """Replicas the autoscaler never goes below."""
    max_replicas: int = Field(default=1, ge=1, le=100)
    """Replicas the autoscaler never goes above (the serving namespace's GPU quota must cover them)."""


class CanaryVersion(ModelVersion):
    """The version under trial, taking a share of the traffic."""

    weight: int = Field(ge=0, le=MAX_CANARY_WEIGHT)
    """Percent of requests sent to the canary (0-50); the stable version gets the rest."""


class ModelFailover(ConfigModel):
    """Serve the model on two sites behind one health-checked DNS name."""

    primary: ClusterRef
    """Cluster that answers while it is healthy (`onprem` or `<cloud>/<region>`)."""
    secondary: ClusterRef
    """Cluster DNS answers with while the primary's health check fails."""


class Model(ConfigModel):
    """A registered model served on GPUs, with an optional canary and optional failover."""

    name: str = Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
    """Serving name (DNS label, at most 40 characters): object and route names and the hostnames
    `<name>.<cluster>.<baseDomain>` (and `<name>.<failover domain>`); requests go to
    `https://<hostname>/invocations`."""
    registered_model: str = Field(min_length=1, max_length=256)
    """Name of the model in the MLflow model registry the images are built from."""
    clusters: list[ClusterRef] = Field(min_length=1)
    """Clusters serving the model (each needs a GPU pool of an accepted type)."""
    gpu_types: list[str] = Field(default_factory=list)
    """GPU types the model runs on (e.g. nvidia-l4); empty: any GPU pool of the cluster."""
    gpus_per_replica: int = Field(default=1, ge=1, le=8)
    """nvidia.com/gpu each replica requests (requests = limits)."""
    spot: bool = False
    """Allow Spot/preemptible GPU nodes (cheaper, reclaimable); off: on-demand nodes only."""
    cpu: str = Field(default="2", pattern=_QUANTITY)
    """CPU request per replica."""
    cpu_limit: str | None = Field(default=None, pattern=_QUANTITY)
    """CPU limit per replica; defaults to the request."""
    memory: str = Field(default="16Gi", pattern=_QUANTITY)
    """Memory request and limit per replica (memory is not overcommitted; every worker holds
    its own copy of the model)."""
    shm_size: str = Field(default="1Gi", pattern=_QUANTITY)
    """Size of the in-memory /dev/shm (counts against the memory limit)."""
    workers: int = Field(default=1, ge=1, le=16)
    """Scoring server (uvicorn) worker processes per replica (MLFLOW_MODELS_WORKERS; unset, MLflow
    would start one per CPU of the node). Each loads its own copy of the model, on the GPU too."""
    request_timeout_seconds: int = Field(default=60, ge=1, le=3600)
    """Seconds the scoring server works on one request before answering 504
    (MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT); the route waits 5 s longer."""
    target_cpu_utilization: int = Field(default=70, ge=10, le=95)
    """Average CPU utilisation (percent of the request) the autoscaler aims for."""
    stable: ModelVersion
    """The version serving most traffic."""
    canary: CanaryVersion | None = None
    """A second version taking `weight` percent of the traffic."""
    failover: ModelFailover | None = None
    """Cross-site failover through Route 53 (needs `services.serving.failover` and `auth`)."""


class Jwt(ConfigModel):
    """The identity provider whose JSON Web Tokens inference requests must carry."""

    issuer: str = Field(pattern=_HTTPS_URL)
    """Expected `iss` claim, e.g. https://login.example.com/realms/ml."""
    jwks_uri: str = Field(pattern=_HTTPS_URL)
    """HTTPS URL of the issuer's public keys (JWKS), fetched by the gateway proxies."""
    audiences: list[str] = Field(default_factory=list)
    """Accepted `aud` values; empty: any audience of the issuer."""


class Failover(ConfigModel):
    """The public side of failover: DNS zone, health checks and each site's entry address."""

    domain: str = Field(pattern=_DNS_NAME, max_length=200)
    """Public DNS domain inside the hosted zone; each model's record is `<model>.<domain>`."""
    hosted_zone_id: str = Field(pattern=r"^Z[A-Z0-9]{1,31}$")
    """Route 53 public hosted zone id that holds `domain` (given, not looked up: previews stay offline)."""
    onprem_public_address: Ipv4 | None = None
    """Public IPv4 of the DMZ/NAT in front of the on-prem `serving-public` gateway (on-prem sites only)."""
    onprem_service_annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations for the on-prem public gateway's LoadBalancer Service (e.g. MetalLB address pin)."""
    health_check_interval: Literal[10, 30] = 30
    """Seconds between Route 53 checks from each checker region (10 costs more, fails over sooner)."""
    failure_threshold: int = Field(default=3, ge=1, le=10)
    """Consecutive failed checks before a site counts as down."""
    cluster_issuer: str = Field(default="platform-ca", pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    """cert-manager ClusterIssuer of the public entry's certificate (`*.<domain>`). The default,
    `platform-ca`, is private: internet clients must trust the platform root CA (stack output
    `platformRootCa`). For clients that cannot, name a publicly trusted ClusterIssuer the
    operators run on every failover cluster (e.g. ACME with a DNS-01 solver on this Route 53
    zone; wildcards need DNS-01). Route 53 health checks do not validate certificates either way."""


class Serving(ConfigModel):
    """GPU model serving with canary split and cross-site DNS failover."""

    namespace: str = "serving"
    """Platform namespace the models run in (one of kubernetes.namespaces; its quota needs GPUs)."""
    run_as_user: int = Field(default=1000, ge=1, le=2147483647)
    """Numeric non-root uid (and gid, fsGroup) of the model containers. The build-docker image has
    no USER (it would run as root); built with `--env-manager local` everything it reads is
    world-readable, so any uid works."""
    auth: Jwt | None = None
    """JWT required on inference requests (required when any model fails over: it is public)."""
    failover: Failover | None = None
    """DNS failover settings (required when any model has `failover`)."""
    models: list[Model] = Field(default_factory=list)
    """The served models."""


# --- meaning -----------------------------------------------------------------------------------------------


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


def cluster_gpu_pools(cfg: PlatformConfig, ref: str) -> list[GpuPool]:
    """The GPU pools of the cluster `ref` (`onprem` or `<cloud>/<region>`)."""
    k = cfg.kubernetes
    if k is None:
        return []
    if ref == "onprem":
        return list(k.onprem.gpu_pools) if k.onprem is not None else []
    site, _, region = ref.partition("/")
    cluster = getattr(k, site, {}).get(region)
    return list(cluster.gpu_pools) if cluster is not None else []


def accepted_pools(cfg: PlatformConfig, model: Model, ref: str) -> list[GpuPool]:
    """The pools of `ref` the model may run on: an accepted type, on-demand unless spot is allowed."""
    return [p for p in cluster_gpu_pools(cfg, ref)
            if (not model.gpu_types or p.gpu_type in model.gpu_types) and (model.spot or not p.spot)]


def _slots_per_node(pool: GpuPool) -> int:
    # Time-slicing multiplies what a node advertises; a MIG node advertises at least its GPU count.
    return pool.gpu_count * (pool.time_slicing_replicas or 1)


def cpu_limit(model: Model) -> str:
    return model.cpu_limit or model.cpu


def _peak_pods(model: Model) -> int:
    versions = [model.stable, *([model.canary] if model.canary else [])]
    return sum(v.max_replicas + SURGE_PODS for v in versions)


def problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    from stacks.cluster_plan import clusters_by_ref
    from stacks.validation import _MISSING, ConfigProblem, _path

    serving = cfg.services.serving
    if serving is None:
        return []
    out: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        out.append(ConfigProblem(_path(("services", "serving", *loc)), value, why))

    namespaces = cfg.kubernetes.namespaces if cfg.kubernetes is not None else []
    ns_index = next((i for i, ns in enumerate(namespaces) if ns.name == serving.namespace), None)
    if ns_index is None:
        add(("namespace",), serving.namespace,
            f"allowed: a platform namespace of kubernetes.namespaces ({', '.join(n.name for n in namespaces) or 'none'})")
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
            elif max(_slots_per_node(p) for p in pools) < model.gpus_per_replica:
                add((*loc, "gpusPerReplica"), model.gpus_per_replica,
                    f"no accepted GPU pool of {ref} has nodes with that many GPUs "
                    f"(largest: {max(_slots_per_node(p) for p in pools)})")
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
                    add(("failover", "onpremPublicAddress"), _MISSING,
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
            add(("failover",), _MISSING, "required when a model has failover: domain, hostedZoneId "
                "(a Route 53 public hosted zone) and, for on-prem sites, onpremPublicAddress")
        if serving.auth is None:
            add(("auth",), _MISSING, "required when a model has failover: its inference endpoint "
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
    from stacks.validation import ConfigProblem, _path

    assert cfg.kubernetes is not None
    quota = cfg.kubernetes.namespaces[ns_index].quota
    keys = ("gpus", "cpu", "memory", "pods")
    need: dict[str, dict[str, Decimal]] = {}
    for model in serving.models:
        pods = _peak_pods(model)
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
                _path(("kubernetes", "namespaces", ns_index, "quota", key)), getattr(quota, key),
                f"at least {_amount(top, key)}: the {serving.namespace} namespace must hold every "
                f"model replica of {ref} at maxReplicas plus {SURGE_PODS} rollout surge pod per "
                "Deployment"))
    return out


def secret_keys(cfg: PlatformConfig) -> list[str]:
    # Nothing secret: images are pulled by the nodes, JWT keys are public (JWKS).
    return []
