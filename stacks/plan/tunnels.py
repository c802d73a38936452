"""The stack's tunnel plan from its validated config (pure: no Pulumi)."""

from __future__ import annotations

from components import network_plan as plan
from stacks.config.platform import PlatformConfig


def onprem_devices(cfg: PlatformConfig) -> list[plan.OnPremDevice]:
    """The on-prem VPN devices, as the tunnel plan names them."""
    net = cfg.network
    if net is None or net.onprem is None:
        return []
    return [plan.OnPremDevice(d.name, str(d.public_ip)) for d in net.onprem.vpn_devices]


def planned_tunnels(cfg: PlatformConfig) -> list[plan.Tunnel]:
    """Every tunnel of the stack, in a stable order (cloud, region, device)."""
    net = cfg.network
    if net is None or net.onprem is None or not cfg.onprem_enabled():
        return []
    devices = onprem_devices(cfg)
    tunnels: list[plan.Tunnel] = []
    for cloud in cfg.enabled_clouds():
        for index, region in enumerate(cfg.cloud_regions(cloud)):
            entry = getattr(net, cloud)[region]
            tunnels += plan.region_tunnels(
                cloud, region, index, str(net.tunnel_inside_pool), devices,
                entry.asn, net.onprem.asn,
            )
    return tunnels
