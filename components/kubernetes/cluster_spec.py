"""What every managed-cluster component (EKS, GKE, AKS) takes and hands back, cloud-neutrally.

Each cloud's `KubernetesCluster` takes a `SystemPoolSpec` and `ApiAccess` alongside its own
network inputs, and returns a `StorageClassSpec` so the cloud-neutral add-ons can create the
cluster's default encrypted StorageClass without knowing the cloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator


class SystemPoolSpec(BaseModel):
    """The always-on, untainted pool that runs the add-ons and platform services."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    machine_type: str = Field(description="Instance/machine/VM type of the system nodes.")
    min_size: int = Field(default=2, ge=1, description="Minimum nodes (at least 2 for HA add-ons in prod).")
    max_size: int = Field(default=4, ge=1, description="Maximum nodes (cluster autoscaler bound).")
    disk_size_gb: int = Field(default=100, ge=30, le=2048, description="OS disk size in GB (encrypted).")

    @model_validator(mode="after")
    def _bounds(self) -> SystemPoolSpec:
        if self.min_size > self.max_size:
            raise ValueError(f"min size {self.min_size} is larger than max size {self.max_size}")
        return self


class ApiAccess(BaseModel):
    """Who reaches the Kubernetes API server.

    `private`: no public endpoint at all; `admin_cidrs` (on-prem ranges over the VPN, CI runner
    ranges) reach the private endpoint. `restricted`: a public endpoint, open only to
    `public_cidrs` (never 0.0.0.0/0), plus the private endpoint for `admin_cidrs`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["private", "restricted"] = Field(default="private", description="private or restricted.")
    admin_cidrs: tuple[str, ...] = Field(
        default=(), description="Private ranges (on-prem, VPN) allowed to the private API endpoint.")
    public_cidrs: tuple[str, ...] = Field(
        default=(), description="restricted only: public ranges allowed to the public endpoint.")

    @model_validator(mode="after")
    def _never_open(self) -> ApiAccess:
        # The one place these rules live: every cloud's cluster takes an ApiAccess.
        admin = _networks(self.admin_cidrs, "admin_cidrs")
        public = _networks(self.public_cidrs, "public_cidrs")
        problems = []
        if self.mode == "restricted" and not public:
            problems.append("restricted API access needs public_cidrs")
        if self.mode == "private" and public:
            problems.append("a private API has no public endpoint; public_cidrs only with restricted")
        if self.mode == "private" and not admin:
            problems.append("a private API without admin_cidrs is reachable by nobody")
        if any(n.prefixlen == 0 for n in admin + public):
            problems.append("the API is never open to the whole internet (/0)")
        elif any(n.is_global for n in admin):
            problems.append("admin_cidrs reach the private endpoint over the VPN and must be private "
                            "ranges; public ranges belong in public_cidrs (restricted)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _networks(values: tuple[str, ...], key: str) -> list[IPv4Network]:
    nets = []
    for value in values:
        try:
            nets.append(IPv4Network(value, strict=True))
        except ValueError as err:
            raise ValueError(f"{key}: {value!r} is not an IPv4 network ({err})") from None
    return nets


@dataclass(frozen=True)
class StorageClassSpec:
    """The cluster's default StorageClass: a CSI provisioner with encryption parameters."""

    provisioner: str
    parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
