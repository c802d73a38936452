"""One Azure location's private network: VNet, subnets, NSGs and VNet flow logs."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_azure_native as azure
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components import network_plan
from components.azure.log_account import LogAccount, LogAccountArgs
from components.tags import StandardTags, azure_tags

#: Layout key -> Azure subnet name. A VPN gateway only goes into a subnet named GatewaySubnet.
SUBNET_NAMES = {"nodes": "aks-nodes", "endpoints": "private-endpoints",
                "apiserver": "aks-apiserver", "gateway": "GatewaySubnet",
                "postgres": "postgres-flexible"}
#: Subnets that get their own NSG (never GatewaySubnet: Azure does not support NSGs on it).
NSG_SUBNETS = ("nodes", "endpoints", "apiserver", "postgres")
#: The service the `postgres` subnet is delegated to (VNet-integrated flexible servers).
POSTGRES_DELEGATION = "Microsoft.DBforPostgreSQL/flexibleServers"
#: Azure creates one Network Watcher per subscription and location, here, as soon as a VNet exists
#: (unless the subscription opted out of automatic enablement). Only one may exist per location, so
#: the component uses it rather than creating its own.
NETWORK_WATCHER_GROUP = "NetworkWatcherRG"


def network_watcher_name(location: str) -> str:
    return f"NetworkWatcher_{location}"


def known_after(resource: pulumi.Resource, value: str) -> pulumi.Output[str]:
    """`value` (a name we chose) as an Output that depends on `resource`.

    Known at preview, unlike the resource's computed `name`/`id`, so ids built from it
    show in plans and the policy pack; yet whoever uses it still waits for the resource
    (its URN resolves once the engine has registered, i.e. created, it).
    """
    return resource.urn.apply(lambda _: value)


class NetworkArgs(BaseModel):
    """Arguments of one Azure location's network."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    subscription_id: str = Field(description="Subscription that holds the network.")
    tenant_id: str = Field(description="Entra ID tenant (for the flow-log key vault).")
    location: str = Field(description="Azure location of the network, e.g. `westeurope`.")
    cidr: str = Field(description="The VNet's range; subnets from `network_plan.azure_layout`.")
    onprem_cidrs: list[str] = Field(description="On-prem ranges allowed inbound (may be empty).")
    flow_log_retention_days: int = Field(ge=1, le=365, description="Days VNet flow logs are kept.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(description="Protect the flow-log account, vault and key.")

    @field_validator("cidr")
    @classmethod
    def _cidr_fits_layout(cls, value: str) -> str:
        net = ipaddress.IPv4Network(value)  # ValueError -> validation error
        lo, hi = network_plan.MIN_PREFIX["azure"], network_plan.MAX_PREFIX["azure"]
        if not lo <= net.prefixlen <= hi:
            raise ValueError(f"an Azure VNet must be /{lo} to /{hi}, not /{net.prefixlen}")
        return str(net)

    @field_validator("onprem_cidrs")
    @classmethod
    def _valid_cidrs(cls, values: list[str]) -> list[str]:
        nets = [ipaddress.IPv4Network(v) for v in values]
        if wide := [str(n) for n in nets if n.prefixlen < 8]:
            raise ValueError(f"{wide}: ranges that wide would open the NSGs to the internet")
        return [str(n) for n in nets]


def _nsg_rules(onprem_cidrs: list[str]) -> list[dict]:
    """Inbound: the VNet, on-prem and Azure's load-balancer probes; everything else denied.

    The explicit deny at 4096 sits above Azure's default rules (65000+), so what is admitted
    is exactly the list here, readable in the plan. Outbound keeps Azure's defaults (AKS
    nodes need egress).
    """
    def allow(name: str, priority: int, **source: object) -> dict:
        return {"name": name, "priority": priority, "direction": "Inbound", "access": "Allow",
                "protocol": "*", "source_port_range": "*", "destination_port_range": "*",
                "destination_address_prefix": "VirtualNetwork", **source}

    onprem = [allow("allow-onprem-inbound", 110, source_address_prefixes=list(onprem_cidrs))]
    return [
        allow("allow-vnet-inbound", 100, source_address_prefix="VirtualNetwork"),
        *(onprem if onprem_cidrs else []),  # Azure refuses a rule with no sources
        # Health probes of internal load balancers (AKS services) come from 168.63.129.16; the
        # deny-all below would otherwise hide every backend.
        allow("allow-azure-lb-inbound", 120, source_address_prefix="AzureLoadBalancer"),
        {"name": "deny-all-inbound", "priority": 4096, "direction": "Inbound", "access": "Deny",
         "protocol": "*", "source_port_range": "*", "destination_port_range": "*",
         "source_address_prefix": "*", "destination_address_prefix": "*"},
    ]


class Network(pulumi.ComponentResource):
    """A VNet with AKS-node, private-endpoint, PostgreSQL and gateway subnets, NSGs and VNet
    flow logs.

    Guarantees: subnets exactly as `network_plan.azure_layout(cidr)` carves them (the
    `postgres` one delegated to Azure Database for PostgreSQL flexible servers);
    NSGs on every subnet but GatewaySubnet admitting only the VNet, on-prem and
    load-balancer probes (nothing from the Internet); private endpoints obey
    NSGs and route tables; every flow in the VNet logged (VNet flow logs, the
    successor of retired NSG flow logs) for `flow_log_retention_days` into a
    CMK-encrypted, protected `LogAccount`.

    Assumes Azure's automatic Network Watcher (`NetworkWatcherRG` /
    `NetworkWatcher_<location>`) exists; a subscription that opted out must
    create it once (`az network watcher configure -g NetworkWatcherRG -l <location> --enabled`).
    Azure creates it shortly after the first VNet of a location, so the very first `up` in
    a new location may need a rerun if the flow log races it.
    """

    resource_group_name: pulumi.Output[str]
    vnet_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:Network", name, None, opts)
        tags = azure_tags(args.tags)
        layout = network_plan.azure_layout(args.cidr)
        group_name = _resource_group(name, args, tags, self)
        nsgs = _security_groups(name, args, group_name, tags, self)
        subnets = subnet_specs(layout, {role: nsg.id for role, nsg in nsgs.items()})
        vnet_name = _vnet(name, args, group_name, subnets, tags, self)
        # Ids from names (known at preview, see known_after), so users also wait for the VNet.
        vnet_id = pulumi.Output.concat(
            "/subscriptions/", args.subscription_id, "/resourceGroups/", group_name,
            "/providers/Microsoft.Network/virtualNetworks/", vnet_name,
        )
        _flow_logs(name, args, group_name, vnet_id, tags, self)

        self.resource_group_name = group_name
        self.vnet_id = vnet_id
        self.vnet_name = vnet_name
        self.subnet_ids = {
            role: pulumi.Output.concat(vnet_id, "/subnets/", SUBNET_NAMES[role]) for role in layout
        }
        self.register_outputs({
            "resource_group_name": self.resource_group_name,
            "vnet_id": self.vnet_id,
            "vnet_name": self.vnet_name,
            "subnet_ids": self.subnet_ids,
        })


def subnet_specs(layout: dict[str, str], nsg_ids: dict[str, pulumi.Input[str]]) -> list[dict]:
    """The VNet's inline subnets: `layout` (role -> range) with each role's Azure name, its NSG
    (where `nsg_ids` has one), and the role's network policies and delegation."""
    subnets = []
    for role, prefix in layout.items():
        subnet: dict = {"name": SUBNET_NAMES[role], "address_prefix": prefix}
        if role in nsg_ids:
            subnet["network_security_group"] = {"id": nsg_ids[role]}
        if role == "endpoints":
            # Off by default: private endpoints would bypass the NSG and route tables.
            subnet["private_endpoint_network_policies"] = "Enabled"
        if role == "apiserver":
            # AKS API server VNet integration runs the API server's internal LB here.
            subnet["delegations"] = [{"name": "aks-apiserver",
                                      "service_name": "Microsoft.ContainerService/managedClusters"}]
        if role == "postgres":
            # Only flexible servers live here; they get private addresses from it and
            # resolve through a private DNS zone (no public endpoint at all).
            subnet["delegations"] = [{"name": "postgres-flexible",
                                      "service_name": POSTGRES_DELEGATION}]
        subnets.append(subnet)
    return subnets


def _resource_group(name: str, args: NetworkArgs, tags: dict[str, str],
                    parent: pulumi.Resource) -> pulumi.Output[str]:
    """The network's resource group; its name, known at preview."""
    group_name = f"rg-{args.prefix}-network-{args.location}"
    group = azure.resources.ResourceGroup(
        f"{name}-rg", resource_group_name=group_name, location=args.location, tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return known_after(group, group_name)


def _security_groups(name: str, args: NetworkArgs, group_name: pulumi.Output[str],
                     tags: dict[str, str], parent: pulumi.Resource
                     ) -> dict[str, azure.network.NetworkSecurityGroup]:
    """One NSG per subnet of `NSG_SUBNETS`, all with the same rules."""
    return {
        role: azure.network.NetworkSecurityGroup(
            f"{name}-{role}-nsg",
            network_security_group_name=f"nsg-{args.prefix}-{SUBNET_NAMES[role]}-{args.location}",
            resource_group_name=group_name, location=args.location,
            security_rules=_nsg_rules(args.onprem_cidrs), tags=tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role in NSG_SUBNETS
    }


def _vnet(name: str, args: NetworkArgs, group_name: pulumi.Output[str], subnets: list[dict],
          tags: dict[str, str], parent: pulumi.Resource) -> pulumi.Output[str]:
    """The VNet with its subnets inline; its name, known at preview.

    Subnets are inline: the VNet is their single owner, so there is no drift between a
    VNet's `subnets` and standalone Subnet resources fighting over the same list, and the
    subnet plan can only change through network_plan. Consumers get ids built from names.
    """
    vnet_name = f"vnet-{args.prefix}-{args.location}"
    vnet = azure.network.VirtualNetwork(
        f"{name}-vnet",
        virtual_network_name=vnet_name,
        resource_group_name=group_name,
        location=args.location,
        address_space={"address_prefixes": [args.cidr]},
        subnets=subnets,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return known_after(vnet, vnet_name)


def _flow_logs(name: str, args: NetworkArgs, group_name: pulumi.Output[str],
               vnet_id: pulumi.Output[str], tags: dict[str, str],
               parent: pulumi.Resource) -> None:
    """VNet flow logs into a CMK-encrypted `LogAccount`, through the location's Network Watcher."""
    loc = args.location
    logs = LogAccount(
        f"{name}-flowlogs",
        LogAccountArgs(prefix=args.prefix, purpose="flowlogs",
                       subscription_id=args.subscription_id, tenant_id=args.tenant_id,
                       location=loc, resource_group_name=group_name, tags=args.tags,
                       protect=args.protect),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    azure.network.FlowLog(
        f"{name}-flow-log",
        flow_log_name=f"fl-vnet-{args.prefix}-{loc}",
        network_watcher_name=network_watcher_name(loc),
        resource_group_name=NETWORK_WATCHER_GROUP,
        location=loc,
        target_resource_id=vnet_id,
        storage_id=logs.account_id,
        enabled=True,
        format={"type": "JSON", "version": 2},
        retention_policy={"enabled": True, "days": args.flow_log_retention_days},
        # Writes with this identity's RBAC grant instead of account keys (shared keys are off).
        identity={"type": "UserAssigned",
                  "user_assigned_identities": [logs.writer_identity_id]},
        tags=tags,
        # After the writer's role grant (inside LogAccount), or the first writes are refused.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs]),
    )
