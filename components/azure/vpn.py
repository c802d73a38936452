"""Site-to-site VPN from on-prem to one Azure location: zone-redundant active-active gateway."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.azure.network import known_after
from components.network_plan import CRYPTO, OnPremDevice, Tunnel
from components.tags import StandardTags, azure_tags
from components.vpn_keys import pre_shared_key

#: The gateway's two instances (active-active); Tunnel.cloud_interface is the index.
INSTANCES = (0, 1)
#: Azure's default IPsec SA volume limit (102400000 KB); the lifetime in seconds rekeys first.
SA_DATA_SIZE_KB = 102_400_000


class SiteVpnArgs(BaseModel):
    """Arguments of the VPN between on-prem and one Azure location."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    subscription_id: str = Field(description="Subscription of the gateway (for its ids).")
    location: str = Field(description="Azure location of the gateway.")
    resource_group_name: str | pulumi.Output[str] = Field(
        description="Resource group of the gateway (the network's); must be known at preview.")
    gateway_subnet_id: str | pulumi.Output[str] = Field(description="Id of the GatewaySubnet.")
    asn: int = Field(description="BGP ASN of the Azure gateway.")
    tunnels: list[Tunnel] = Field(
        description="This location's tunnels: per device one on each gateway instance.")
    devices: list[OnPremDevice] = Field(min_length=1, description="The on-prem VPN devices.")
    onprem_cidrs: list[str] = Field(
        min_length=1, description="On-prem ranges; learned over BGP, not set as static prefixes.")
    psk_rotation: int = Field(ge=1, description="Bump to replace every pre-shared key.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")

    @model_validator(mode="after")
    def _tunnels_match_plan(self) -> SiteVpnArgs:
        names = {d.name for d in self.devices}
        for t in self.tunnels:
            if t.cloud != "azure" or t.region != self.location:
                raise ValueError(
                    f"tunnel {t.name} is for {t.cloud}/{t.region}, not azure/{self.location}")
            if t.device.name not in names:
                raise ValueError(f"tunnel {t.name} uses unknown device {t.device.name}")
            if t.cloud_asn != self.asn:
                raise ValueError(
                    f"tunnel {t.name} expects gateway ASN {t.cloud_asn}, not {self.asn}")
        for d in self.devices:
            mine = sorted(t.cloud_interface for t in self.tunnels if t.device == d)
            if mine != list(INSTANCES):
                raise ValueError(
                    f"device {d.name} needs one tunnel per gateway instance {INSTANCES}: {mine}")
        return self


def _ipsec_policy(tunnel: Tunnel) -> dict:
    """The agreed suite (network_plan.CRYPTO) as one custom policy: nothing else is offered."""
    return {
        "ike_encryption": CRYPTO.azure_ike_encryption,
        "ike_integrity": CRYPTO.azure_ike_integrity,
        "dh_group": CRYPTO.azure_dh_group,
        "ipsec_encryption": CRYPTO.azure_ipsec_encryption,
        "ipsec_integrity": CRYPTO.azure_ipsec_integrity,
        "pfs_group": CRYPTO.azure_pfs_group,
        "sa_life_time_seconds": tunnel.child_lifetime,
        "sa_data_size_kilobytes": SA_DATA_SIZE_KB,
    }


class SiteVpn(pulumi.ComponentResource):
    """Azure's end of every on-prem tunnel of one location.

    Creates two zone-redundant static public IPs, an active-active VpnGw2AZ
    (Generation2) route-based gateway with BGP on custom APIPA addresses, and
    per on-prem device a local network gateway (BGP peer, no static prefixes)
    and an IKEv2 connection pinned to one custom IPsec/IKE policy (the agreed
    suite) with a generated pre-shared key that only ever exists as a secret.
    """

    tunnel_addresses: dict[str, pulumi.Output[str]]
    pre_shared_keys: dict[str, pulumi.Output[str]]
    gateway_id: pulumi.Output[str]

    def __init__(self, name: str, args: SiteVpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:azure:SiteVpn", name, None, opts)
        tags = azure_tags(args.tags)
        ips = _public_ips(name, args, tags, self)
        gateway_name = f"vgw-{args.prefix}-{args.location}"
        # The gateway's own ip configuration ids appear in its BGP settings, before it exists:
        # build them from names so they are known at preview.
        ipconfig_ids = gateway_ipconfig_ids(args.subscription_id, args.resource_group_name,
                                            gateway_name)
        gateway = _gateway(name, args, gateway_name, ips, ipconfig_ids, tags, self)
        # Same ids, but now depending on the gateway, for the connections that reference them.
        built_ids = [
            pulumi.Output.concat(known_after(gateway, ""), ipconfig_id)
            for ipconfig_id in ipconfig_ids
        ]

        self.tunnel_addresses = {t.name: ips[t.cloud_interface].ip_address for t in args.tunnels}
        self.pre_shared_keys = {}
        for device in args.devices:
            pair = device_tunnels(device, args.tunnels)
            key = _device_connection(name, args, device, pair, gateway, built_ids, tags, self)
            for t in pair:
                self.pre_shared_keys[t.name] = key

        self.gateway_id = gateway.id
        self.register_outputs({
            "tunnel_addresses": self.tunnel_addresses,
            "pre_shared_keys": self.pre_shared_keys,
            "gateway_id": self.gateway_id,
        })


def ipconfig_name(instance: int) -> str:
    """The name of gateway instance `instance`'s ip configuration."""
    return f"gw-ipconfig-{instance}"


def gateway_ipconfig_ids(subscription_id: str, resource_group_name: pulumi.Input[str],
                         gateway_name: str) -> list[pulumi.Output[str]]:
    """The ids of the gateway's ip configurations (one per instance), built from names."""
    base = pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/resourceGroups/", resource_group_name,
        "/providers/Microsoft.Network/virtualNetworkGateways/", gateway_name,
    )
    return [pulumi.Output.concat(base, "/ipConfigurations/", ipconfig_name(i)) for i in INSTANCES]


def device_tunnels(device: OnPremDevice, tunnels: list[Tunnel]) -> list[Tunnel]:
    """`device`'s tunnels, ordered by gateway instance."""
    return sorted((t for t in tunnels if t.device == device), key=lambda t: t.cloud_interface)


def bgp_settings(asn: int, tunnels: list[Tunnel],
                 ipconfig_ids: list[pulumi.Input[str]]) -> dict:
    """The gateway's BGP: `asn`, and per instance the custom APIPA addresses of its tunnels."""
    return {
        "asn": asn,
        "bgp_peering_addresses": [
            {
                "ipconfiguration_id": ipconfig_ids[i],
                "custom_bgp_ip_addresses": [
                    t.cloud_inside_ip for t in tunnels if t.cloud_interface == i
                ],
            }
            for i in INSTANCES
        ],
    }


def _public_ips(name: str, args: SiteVpnArgs, tags: dict[str, str],
                parent: pulumi.Resource) -> list[azure.network.PublicIPAddress]:
    """One zone-redundant static public IP per gateway instance."""
    return [
        azure.network.PublicIPAddress(
            f"{name}-ip{i}",
            public_ip_address_name=f"pip-{args.prefix}-vpngw-{args.location}-{i}",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            zones=["1", "2", "3"],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for i in INSTANCES
    ]


def _gateway(name: str, args: SiteVpnArgs, gateway_name: str,
             ips: list[azure.network.PublicIPAddress], ipconfig_ids: list[pulumi.Output[str]],
             tags: dict[str, str],
             parent: pulumi.Resource) -> azure.network.VirtualNetworkGateway:
    """The active-active VpnGw2AZ route-based gateway with BGP."""
    return azure.network.VirtualNetworkGateway(
        f"{name}-gateway",
        virtual_network_gateway_name=gateway_name,
        resource_group_name=args.resource_group_name,
        location=args.location,
        gateway_type="Vpn",
        vpn_type="RouteBased",
        sku={"name": "VpnGw2AZ", "tier": "VpnGw2AZ"},
        vpn_gateway_generation="Generation2",
        active_active=True,
        enable_bgp=True,
        ip_configurations=[
            {
                "name": ipconfig_name(i),
                "private_ip_allocation_method": "Dynamic",
                "subnet": {"id": args.gateway_subnet_id},
                "public_ip_address": {"id": ips[i].id},
            }
            for i in INSTANCES
        ],
        bgp_settings=bgp_settings(args.asn, args.tunnels, ipconfig_ids),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _device_connection(name: str, args: SiteVpnArgs, device: OnPremDevice, pair: list[Tunnel],
                       gateway: azure.network.VirtualNetworkGateway,
                       built_ids: list[pulumi.Output[str]], tags: dict[str, str],
                       parent: pulumi.Resource) -> pulumi.Output[str]:
    """`device`'s local network gateway and IKEv2 connection; returns its pre-shared key."""
    child = pulumi.ResourceOptions(parent=parent)
    loc = args.location
    local = azure.network.LocalNetworkGateway(
        f"{name}-{device.name}-lgw",
        local_network_gateway_name=f"lgw-{args.prefix}-{device.name}-{loc}",
        resource_group_name=args.resource_group_name,
        location=loc,
        gateway_ip_address=device.public_ip,
        # One BGP address per device, which both gateway instances peer with (see
        # network_plan.region_tunnels). No static prefixes: on-prem ranges come over BGP,
        # so a dead session withdraws them instead of leaving a static route behind.
        bgp_settings={"asn": pair[0].onprem_asn,
                      "bgp_peering_address": pair[0].onprem_inside_ip},
        tags=tags,
        opts=child,
    )
    key = pre_shared_key(f"{name}-{device.name}", args.psk_rotation, parent)
    azure.network.VirtualNetworkGatewayConnection(
        f"{name}-{device.name}-connection",
        virtual_network_gateway_connection_name=f"cn-{args.prefix}-{device.name}-{loc}",
        resource_group_name=args.resource_group_name,
        location=loc,
        connection_type="IPsec",
        connection_protocol="IKEv2",
        virtual_network_gateway1={"id": gateway.id},
        local_network_gateway2={"id": local.id},
        enable_bgp=True,
        shared_key=key,
        use_policy_based_traffic_selectors=False,
        ipsec_policies=[_ipsec_policy(pair[0])],
        gateway_custom_bgp_ip_addresses=[
            {"ip_configuration_id": built_ids[t.cloud_interface],
             "custom_bgp_ip_address": t.cloud_inside_ip}
            for t in pair
        ],
        tags=tags,
        opts=child,
    )
    return key
