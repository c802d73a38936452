"""Arguments of ModelServing: the served versions, the JWT issuer and the model's sizing,
validated before any object exists."""

from __future__ import annotations

import re
from typing import Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.kubernetes.objects import quantity
from components.tags import StandardTags

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ServedVersion(BaseModel):
    """One model version on one track."""

    model_config = ConfigDict(frozen=True)

    track: Literal["stable", "canary"] = Field(description="stable or canary.")
    version: str = Field(pattern=r"^[0-9]{1,9}$", description="MLflow registry version number.")
    image: str = Field(min_length=3, description="Pinned image built from that registry version.")
    weight: int = Field(ge=0, le=100, description="Percent of inference requests routed here.")
    min_replicas: int = Field(ge=1, description="Autoscaler lower bound.")
    max_replicas: int = Field(ge=1, description="Autoscaler upper bound.")

    @model_validator(mode="after")
    def _bounds(self) -> ServedVersion:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"{self.track}: min_replicas {self.min_replicas} > "
                             f"max_replicas {self.max_replicas}")
        tag = self.image.rsplit("/", 1)[-1].partition(":")[2]
        if "@" not in self.image and tag in ("", "latest"):
            raise ValueError(f"{self.track}: image {self.image!r} is not pinned "
                             "(tag other than latest, or digest)")
        return self


class JwtAuth(BaseModel):
    """The identity provider whose tokens inference requests carry."""

    model_config = ConfigDict(frozen=True)

    issuer: str = Field(description="Expected `iss` claim.")
    jwks_uri: str = Field(pattern=r"^https://", description="HTTPS URL of the issuer's JWKS.")
    audiences: tuple[str, ...] = Field(default=(),
                                       description="Accepted `aud` values (empty: any).")


class ModelServingArgs(BaseModel):
    """Arguments of one model on one cluster."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: str = Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
                       description="Serving name: object names and the hostname label.")
    registered_model: str = Field(min_length=1,
                                  description="MLflow registry name (annotation only).")
    namespace: str = Field(
        description="Platform namespace to run in (PSA restricted, quota with GPUs).")
    cluster_name: str = Field(
        description="Cluster name; the private host is <model>.<cluster>.<base_domain>.")
    site: Literal["aws", "gcp", "azure", "onprem"] = Field(description="Where the cluster runs.")
    base_domain: str = Field(description="Platform DNS domain.")
    versions: tuple[ServedVersion, ...] = Field(min_length=1, max_length=2,
                                                description="stable, and optionally canary.")
    gpus_per_replica: int = Field(ge=1,
                                  description="nvidia.com/gpu per replica (requests = limits).")
    gpu_types: tuple[str, ...] = Field(
        min_length=1, description="GPU types (node label hybridml.io/gpu-type) to run on.")
    spot: bool = Field(default=False, description="Allow Spot/preemptible GPU nodes.")
    cpu: str = Field(description="CPU request per replica.")
    cpu_limit: str = Field(description="CPU limit per replica.")
    memory: str = Field(description="Memory request and limit per replica.")
    shm_size: str = Field(default="1Gi", description="In-memory /dev/shm size.")
    tmp_size: str = Field(default="2Gi",
                          description="Writable /tmp size (the root filesystem is read-only).")
    workers: int = Field(default=1, ge=1, le=64,
                         description="Scoring server (uvicorn) worker processes per replica; each "
                                     "loads its own copy of the model (MLFLOW_MODELS_WORKERS).")
    request_timeout_seconds: int = Field(
        default=60, ge=1, le=3600,
        description="Seconds the scoring server spends on one request before answering 504 "
                    "(MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT); the route allows a few more.")
    run_as_user: int = Field(default=1000, ge=1,
                             description="Numeric non-root uid and gid (the image has no USER: "
                                         "it would run as root).")
    target_cpu_utilization: int = Field(
        default=70, ge=10, le=95, description="HPA target: average CPU utilisation in percent.")
    public_hostname: str | None = Field(
        default=None, description="Also serve on the `serving-public` Gateway under this name "
                                  "(the failover record, `<model>.<failover domain>`).")
    auth: JwtAuth | None = Field(default=None, description="Require a JWT on inference requests.")
    after: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="What the objects wait for (the namespace, the Gateways).")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")

    @field_validator("cpu", "cpu_limit", "memory", "shm_size", "tmp_size")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value

    @field_validator("public_hostname")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not a lowercase DNS name")
        return value

    @model_validator(mode="after")
    def _split(self) -> ModelServingArgs:
        tracks = [v.track for v in self.versions]
        problems = []
        if "stable" not in tracks or len(set(tracks)) != len(tracks):
            problems.append(f"versions need one stable and at most one canary; got {tracks}")
        if sum(v.weight for v in self.versions) != 100:
            problems.append(f"weights must add up to 100; got {[v.weight for v in self.versions]}")
        if quantity(self.cpu_limit) < quantity(self.cpu):
            problems.append(f"cpu_limit {self.cpu_limit} is below cpu {self.cpu}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def hostname(self) -> str:
        return f"{self.model}.{self.cluster_name}.{self.base_domain}"
