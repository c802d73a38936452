"""A static regional external address for a GKE LoadBalancer Service.

GKE pins a LoadBalancer Service to a reserved address by name with the annotation
`networking.gke.io/load-balancer-ip-addresses` (the replacement for the deprecated
`spec.loadBalancerIP`; ingress-gce reads it first), and `cloud.google.com/l4-rbs: enabled`
makes it the backend-service-based external passthrough Network Load Balancer GKE recommends.
The address is regional, external and in the Premium tier, like the load balancer.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field

from components.tags import StandardTags, gcp_labels

#: Service annotations GKE reads (LoadBalancer Service parameters).
GKE_ADDRESS = "networking.gke.io/load-balancer-ip-addresses"
GKE_RBS = "cloud.google.com/l4-rbs"


class PublicAddressArgs(BaseModel):
    """Arguments of one static external address."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    purpose: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$",
                         description="What the address fronts, e.g. `serving`; part of the name.")
    project: str = Field(description="GCP project of the cluster.")
    region: str = Field(description="Region of the cluster (regional address, same as the load balancer).")
    tags: StandardTags = Field(description="Standard tags, as GCP labels.")
    protect: bool = Field(description="Protect the address (clients and DNS rely on it).")


class PublicAddress(pulumi.ComponentResource):
    """A reserved external IPv4 address and the Service annotations that use it.

    Guarantees: static for the life of the stack (protected when `protect`), in the cluster's
    region (residency), Premium tier.
    """

    addresses: list[pulumi.Output[str]]
    address_name: str
    service_annotations: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: PublicAddressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:PublicAddress", name, None, opts)
        self.address_name = f"{args.prefix}-{args.purpose}-{args.region}"
        address = gcp.compute.Address(
            f"{name}-address",
            name=self.address_name,
            project=args.project,
            region=args.region,
            address_type="EXTERNAL",
            network_tier="PREMIUM",
            ip_version="IPV4",
            description=f"Public entry of {args.purpose} ({args.prefix})",
            labels=gcp_labels(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.addresses = [address.address]
        self.service_annotations = {
            GKE_RBS: "enabled",
            # By name, known at preview; resolved once the reservation exists (its URN resolves
            # when the engine has created it), so the Service waits for it.
            GKE_ADDRESS: address.urn.apply(lambda _: self.address_name),
        }
        self.register_outputs({"addresses": self.addresses})
