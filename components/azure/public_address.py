"""A static Standard public IP for an AKS LoadBalancer Service, in its own resource group.

AKS's cloud provider (kubernetes-sigs/cloud-provider-azure) puts a LoadBalancer Service on an
existing public IP named by `service.beta.kubernetes.io/azure-pip-name` in the resource group
named by `service.beta.kubernetes.io/azure-load-balancer-resource-group`. The cluster's identity
must be allowed to read, list and join public IPs there: it gets Network Contributor on a
resource group that holds nothing but these addresses, not on the network's group.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
from pydantic import BaseModel, ConfigDict, Field

from components.azure.roles import NETWORK_CONTRIBUTOR, grant_role
from components.tags import StandardTags, azure_tags

#: Service annotations cloud-provider-azure reads.
AZURE_PIP_NAME = "service.beta.kubernetes.io/azure-pip-name"
AZURE_PIP_GROUP = "service.beta.kubernetes.io/azure-load-balancer-resource-group"
# NETWORK_CONTRIBUTOR stays importable from here (the cluster identity's grant on the group).
__all__ = ["AZURE_PIP_GROUP", "AZURE_PIP_NAME", "NETWORK_CONTRIBUTOR", "PublicAddress",
           "PublicAddressArgs"]


class PublicAddressArgs(BaseModel):
    """Arguments of one public IP for an AKS load balancer."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    purpose: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$",
                         description="What the address fronts, e.g. `serving`; part of names.")
    subscription_id: str = Field(description="Subscription of the cluster.")
    location: str = Field(description="Azure location of the cluster.")
    cluster_principal_id: str | pulumi.Output[str] = Field(
        description="Principal (object) id of the AKS cluster's control-plane identity, which "
                    "runs the cloud provider that attaches the address to the load balancer.")
    zones: tuple[str, ...] = Field(default=("1", "2", "3"),
                                   description="Availability zones (zone-redundant by default).")
    tags: StandardTags = Field(description="Standard tags put on the group and the address.")
    protect: bool = Field(description="Protect the address (clients and DNS rely on it).")


class PublicAddress(pulumi.ComponentResource):
    """A resource group, a zone-redundant Standard static public IPv4 in it, and Network
    Contributor on that group for the cluster identity.

    Guarantees: the address is static (protected when `protect`), in the cluster's location;
    the cluster identity's extra rights reach only this group.
    """

    addresses: list[pulumi.Output[str]]
    resource_group_name: str
    address_name: str
    service_annotations: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: PublicAddressArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:PublicAddress", name, None, opts)
        tags = azure_tags(args.tags)
        self.resource_group_name = f"rg-{args.prefix}-{args.purpose}-{args.location}"
        self.address_name = f"pip-{args.prefix}-{args.purpose}-{args.location}"
        group = azure.resources.ResourceGroup(
            f"{name}-group", resource_group_name=self.resource_group_name, location=args.location,
            tags=tags, opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        pip = azure.network.PublicIPAddress(
            f"{name}-address",
            public_ip_address_name=self.address_name,
            resource_group_name=group.name,
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            zones=list(args.zones),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        grant = grant_role(f"{name}-network-contributor", args.cluster_principal_id,
                           args.subscription_id, NETWORK_CONTRIBUTOR, group.id,
                           pulumi.ResourceOptions(parent=self))
        self.addresses = [pip.ip_address.apply(lambda ip: ip or "")]
        # Names we chose, known at preview, yet resolved only once the address and the grant exist
        # (a URN resolves when the engine has created the resource): the Service waits for both.
        ready = pulumi.Output.all(pip.urn, grant.urn)
        self.service_annotations = {
            AZURE_PIP_NAME: ready.apply(lambda _: self.address_name),
            AZURE_PIP_GROUP: ready.apply(lambda _: self.resource_group_name),
        }
        self.register_outputs({"addresses": self.addresses})
