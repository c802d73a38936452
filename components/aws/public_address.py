"""Static public addresses for an internet-facing Network Load Balancer in front of an EKS Service.

The EKS control plane's AWS cloud provider (the Service controller of kubernetes/cloud-provider-aws,
no AWS Load Balancer Controller needed) builds an NLB for a `LoadBalancer` Service annotated
`service.beta.kubernetes.io/aws-load-balancer-type: nlb`, and takes its per-zone addresses from
`aws-load-balancer-eip-allocations` (one allocation per subnet of `aws-load-balancer-subnets`,
paired by position; it refuses a count mismatch, and an Elastic IP is not zonal, so any pairing
works). Addresses reserved here outlive the load
balancer, so DNS records and client allow-lists keep working when the Service is recreated.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from components.tags import StandardTags, aws_tags

#: Service annotations the AWS cloud provider reads (kubernetes/cloud-provider-aws, pkg/providers/v1).
NLB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
NLB_EIPS = "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"
NLB_SUBNETS = "service.beta.kubernetes.io/aws-load-balancer-subnets"
NLB_CROSS_ZONE = "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"


class PublicAddressArgs(BaseModel):
    """Arguments of the public addresses of one internet-facing NLB."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    purpose: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$",
                         description="What the addresses front, e.g. `serving`; part of names.")
    region: str = Field(description="AWS region (must match the provider).")
    subnet_ids: list[str | pulumi.Output[str]] = Field(
        min_length=1, description="Public subnets, one per zone, the NLB is placed in "
                                  "(`Network.public_subnet_ids`); one address each.")
    tags: StandardTags = Field(description="Standard tags put on every address.")
    protect: bool = Field(description="Protect the addresses (clients and DNS rely on them).")


class PublicAddress(pulumi.ComponentResource):
    """One Elastic IP per public subnet, and the Service annotations that pin an NLB to them.

    Guarantees: the addresses are static for the life of the stack (protected when `protect`);
    the load balancer is internet-facing, spans exactly `subnet_ids`, and balances across zones
    (cross-zone on), so every address reaches every healthy proxy whatever zone it runs in.
    """

    addresses: list[pulumi.Output[str]]
    allocation_ids: list[pulumi.Output[str]]
    service_annotations: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: PublicAddressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:PublicAddress", name, None, opts)
        tags = aws_tags(args.tags)
        eips = [
            aws.ec2.Eip(
                f"{name}-{i}", domain="vpc",
                tags={**tags, "Name": f"{args.prefix}-{args.region}-{args.purpose}-{i}"},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            for i in range(len(args.subnet_ids))
        ]
        self.addresses = [e.public_ip for e in eips]
        self.allocation_ids = [e.allocation_id for e in eips]
        self.service_annotations = {
            NLB_TYPE: "nlb",
            NLB_SUBNETS: pulumi.Output.all(*args.subnet_ids).apply(lambda ids: ",".join(ids)),
            NLB_EIPS: pulumi.Output.all(*self.allocation_ids).apply(lambda ids: ",".join(ids)),
            NLB_CROSS_ZONE: "true",
        }
        self.register_outputs({"addresses": self.addresses, "allocation_ids": self.allocation_ids})
