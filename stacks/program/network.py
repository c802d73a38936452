"""Compose the hybrid network: one private network per cloud region, a VPN from on-prem to each.

The tunnel plan (inside addresses, ASNs, crypto) comes from
`components.network_plan`, so the cloud side built here and the on-prem device
config rendered from the `onpremVpn` stack output always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import network_plan as plan
from components.aws.network import Network as AwsNetwork
from components.aws.network import NetworkArgs as AwsNetworkArgs
from components.aws.vpn import SiteVpn as AwsSiteVpn
from components.aws.vpn import SiteVpnArgs as AwsSiteVpnArgs
from components.azure.network import Network as AzureNetwork
from components.azure.network import NetworkArgs as AzureNetworkArgs
from components.azure.vpn import SiteVpn as AzureSiteVpn
from components.azure.vpn import SiteVpnArgs as AzureSiteVpnArgs
from components.gcp.network import Network as GcpNetwork
from components.gcp.network import NetworkArgs as GcpNetworkArgs
from components.gcp.vpn import SiteVpn as GcpSiteVpn
from components.gcp.vpn import SiteVpnArgs as GcpSiteVpnArgs
from components.tags import StandardTags
from stacks.config.platform import PlatformConfig
from stacks.plan.tunnels import onprem_devices, planned_tunnels
from stacks.program.providers import Providers

#: Stack output with everything the on-prem VPN devices need except the keys.
ONPREM_OUTPUT = "onpremVpn"
#: Secret stack output with the pre-shared key of every tunnel, by tunnel name.
PSK_OUTPUT = "vpnPreSharedKeys"


@dataclass
class Networks:
    """The private networks built, for the clusters and services placed in them."""

    aws: dict[str, AwsNetwork] = field(default_factory=dict)
    gcp: GcpNetwork | None = None
    azure: dict[str, AzureNetwork] = field(default_factory=dict)
    tunnels: list[plan.Tunnel] = field(default_factory=list)


def _onprem_export(cfg: PlatformConfig, tunnels: list[plan.Tunnel],
                   addresses: dict[str, pulumi.Output[str]]) -> dict[str, Any]:
    net = cfg.network
    assert net is not None and net.onprem is not None
    return {
        "asn": net.onprem.asn,
        "advertisedRanges": [str(c) for c in net.onprem.cidrs],
        "devices": {d.name: {"publicIp": str(d.public_ip)} for d in net.onprem.vpn_devices},
        "tunnels": [
            {
                "name": t.name,
                "device": t.device.name,
                "cloud": t.cloud,
                "region": t.region,
                "cloudInterface": t.cloud_interface,
                "cloudAddress": addresses[t.name],
                "cloudAsn": t.cloud_asn,
                "cloudRanges": [str(getattr(net, t.cloud)[t.region].cidr)],
                "insideCidr": t.inside_cidr,
                "cloudInsideIp": t.cloud_inside_ip,
                "onpremInsideIp": t.onprem_inside_ip,
                "ikeVersion": plan.CRYPTO.ike_version,
                "ikeProposal": plan.CRYPTO.strongswan_ike,
                "espProposal": plan.CRYPTO.strongswan_esp,
                "ikeLifetime": t.ike_lifetime,
                "childLifetime": t.child_lifetime,
                "pskOutput": f"{PSK_OUTPUT}.{t.name}",
            }
            for t in tunnels
        ],
    }


def build_network(cfg: PlatformConfig, providers: Providers, tags: StandardTags) -> Networks:
    """Networks for every enabled cloud region, and VPNs to on-prem when it is enabled."""
    net = cfg.network
    out = Networks()
    if net is None:
        return out
    onprem_cidrs = [str(c) for c in net.onprem.cidrs] if net.onprem else []
    out.tunnels = planned_tunnels(cfg)
    by_region: dict[tuple[str, str], list[plan.Tunnel]] = {}
    for t in out.tunnels:
        by_region.setdefault((t.cloud, t.region), []).append(t)
    devices = onprem_devices(cfg)
    addresses: dict[str, pulumi.Output[str]] = {}
    keys: dict[str, pulumi.Output[str]] = {}
    clouds = cfg.enabled_clouds()

    if "aws" in clouds:
        for region in cfg.cloud_regions("aws"):
            entry = net.aws[region]
            opts = pulumi.ResourceOptions(providers=[providers.aws[region], providers.random])
            vpc = AwsNetwork(f"network-aws-{region}", AwsNetworkArgs(
                prefix=cfg.prefix, region=region, cidr=str(entry.cidr), zones=entry.zones,
                nat_gateways=entry.nat_gateways,
                flow_log_retention_days=net.flow_log_retention_days,
                account_id=cfg.sites.aws.account_id, tags=tags, protect=cfg.protect,
            ), opts)
            out.aws[region] = vpc
            if ("aws", region) in by_region:
                vpn = AwsSiteVpn(f"vpn-aws-{region}", AwsSiteVpnArgs(
                    prefix=cfg.prefix, region=region, vpc_id=vpc.vpc_id,
                    route_table_ids=vpc.private_route_table_ids, amazon_asn=entry.asn,
                    tunnels=by_region[("aws", region)], onprem_cidrs=onprem_cidrs,
                    psk_rotation=net.psk_rotation, tags=tags,
                ), opts)
                addresses.update(vpn.tunnel_addresses)
                keys.update(vpn.pre_shared_keys)

    if "gcp" in clouds:
        gcp_site = cfg.sites.gcp
        primary = cfg.cloud_regions("gcp")[0]
        regions = {r: str(net.gcp[r].cidr) for r in cfg.cloud_regions("gcp")}
        out.gcp = GcpNetwork("network-gcp", GcpNetworkArgs(
            prefix=cfg.prefix, project=gcp_site.project, regions=regions,
            onprem_cidrs=onprem_cidrs, tags=tags, protect=cfg.protect,
        ), pulumi.ResourceOptions(providers=[providers.gcp[primary], providers.random]))
        for region in cfg.cloud_regions("gcp"):
            if ("gcp", region) not in by_region:
                continue
            vpn = GcpSiteVpn(f"vpn-gcp-{region}", GcpSiteVpnArgs(
                prefix=cfg.prefix, project=gcp_site.project, region=region,
                network_self_link=out.gcp.network_self_link, asn=net.gcp[region].asn,
                tunnels=by_region[("gcp", region)], devices=devices,
                advertised_ranges=[regions[region]], psk_rotation=net.psk_rotation, tags=tags,
            ), pulumi.ResourceOptions(providers=[providers.gcp[region], providers.random]))
            addresses.update(vpn.tunnel_addresses)
            keys.update(vpn.pre_shared_keys)

    if "azure" in clouds:
        site = cfg.sites.azure
        for location in cfg.cloud_regions("azure"):
            entry = net.azure[location]
            opts = pulumi.ResourceOptions(providers=[providers.azure[location], providers.random])
            vnet = AzureNetwork(f"network-azure-{location}", AzureNetworkArgs(
                prefix=cfg.prefix, subscription_id=site.subscription_id,
                tenant_id=site.tenant_id, location=location, cidr=str(entry.cidr),
                onprem_cidrs=onprem_cidrs, flow_log_retention_days=net.flow_log_retention_days,
                tags=tags, protect=cfg.protect,
            ), opts)
            out.azure[location] = vnet
            if ("azure", location) in by_region:
                vpn = AzureSiteVpn(f"vpn-azure-{location}", AzureSiteVpnArgs(
                    prefix=cfg.prefix, subscription_id=site.subscription_id, location=location,
                    resource_group_name=vnet.resource_group_name,
                    gateway_subnet_id=vnet.subnet_ids["gateway"], asn=entry.asn,
                    tunnels=by_region[("azure", location)], devices=devices,
                    onprem_cidrs=onprem_cidrs, psk_rotation=net.psk_rotation, tags=tags,
                ), opts)
                addresses.update(vpn.tunnel_addresses)
                keys.update(vpn.pre_shared_keys)

    if out.tunnels:
        pulumi.export(ONPREM_OUTPUT, _onprem_export(cfg, out.tunnels, addresses))
        pulumi.export(PSK_OUTPUT, pulumi.Output.secret(keys))
    return out
