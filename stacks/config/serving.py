"""Config of GPU model serving: models from the MLflow registry, canary splits, cross-site failover.

Structure here; what it means (clusters exist and have GPUs the model accepts, the serving
namespace's quota covers every replica, failover sites differ and can be reached from the
internet, images are pinned) is checked by `problems(cfg)` before anything is built.

The image contract (MLflow 3.18, the platform's pinned MLflow; details in
components/kubernetes/model_serving/): each version's image is built by

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

from typing import Literal

from pydantic import Field

from stacks.config.base import ClusterRef, ConfigModel, Ipv4

#: A cluster of the stack (as in stacks/services_config.py, which imports this module).


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
