"""HA VPN from one GCP region to the on-prem VPN devices, with BGP on a Cloud Router."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components import network_plan, vpn_keys
from components.network_plan import OnPremDevice, Tunnel
from components.tags import StandardTags, gcp_labels

#: `network_plan.CRYPTO` in Cloud VPN's spelling: IKEv2, AES-256-GCM-16 (an AEAD, so no
#: separate integrity algorithm), PRF HMAC-SHA2-384, DH/PFS group 20 (ECP-384).
CIPHER_SUITE: dict[str, dict[str, list[str]]] = {
    "phase1": {"encryptions": ["AES-GCM-16-256"], "prves": ["PRF-HMAC-SHA2-384"],
               "dhs": ["Group-20"]},
    "phase2": {"encryptions": ["AES-GCM-16-256"], "pfs": ["Group-20"]},
}
#: MED of the routes advertised to on-prem; equal on both tunnels, so on-prem uses ECMP.
ROUTE_PRIORITY = 100
_GCP_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class SiteVpnArgs(BaseModel):
    """Arguments of the HA VPN of one GCP region."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(pattern=_GCP_NAME, max_length=30,
                        description="Name prefix of every resource, e.g. `hml-prod`.")
    project: str = Field(description="GCP project id that owns the VPN.")
    region: str = Field(description="GCP region of the HA VPN gateway and its Cloud Router.")
    network_self_link: pulumi.Output[str] | str = Field(
        description="Self link (or id) of the VPC the gateway and router attach to.")
    asn: int = Field(description="Cloud Router ASN (the tunnels' `cloud_asn`).")
    tunnels: list[Tunnel] = Field(
        description="The region's two planned tunnels, HA VPN interfaces 0 and 1 "
                    "(`network_plan.region_tunnels`).")
    devices: list[OnPremDevice] = Field(
        min_length=1, max_length=2,
        description="The on-prem VPN devices, in config order; index = peer gateway interface.")
    advertised_ranges: list[str] = Field(
        min_length=1, description="The region's CIDRs advertised to on-prem over BGP.")
    psk_rotation: int = Field(ge=0, description="Bump to replace every pre-shared key.")
    bfd: bool = Field(default=False, description="Run BFD (active) on the BGP sessions; the "
                      "on-prem BGP daemon must run BFD too.")
    tags: StandardTags = Field(description="Standard tags, applied as GCP labels.")

    @model_validator(mode="after")
    def _tunnels_match_region(self) -> SiteVpnArgs:
        if sorted(t.cloud_interface for t in self.tunnels) != [0, 1]:
            raise ValueError("tunnels: HA VPN needs exactly one tunnel on interface 0 and one on 1")
        if len({d.name for d in self.devices}) != len(self.devices):
            raise ValueError("devices: device names must be unique")
        for t in self.tunnels:
            if (t.cloud, t.region, t.cloud_asn) != ("gcp", self.region, self.asn):
                raise ValueError(f"tunnels: {t.name} is not a gcp tunnel of {self.region} "
                                 f"with cloud ASN {self.asn}")
            if t.device not in self.devices:
                raise ValueError(f"tunnels: {t.name} uses device {t.device.name!r}, not in devices")
            for resource_name in (f"{self.prefix}-{t.name}", f"{t.name}-bgp"):
                if len(resource_name) > 63:
                    raise ValueError(f"tunnels: {resource_name} is longer than 63 characters")
        for cidr in self.advertised_ranges:
            ipaddress.IPv4Network(cidr)  # ValueError names the bad range
        return self


def _interface_ip(interfaces: list[Any] | None, interface_id: int) -> str | None:
    # Matched by interface id, not list position: the API does not promise an order.
    return next((i.ip_address for i in interfaces or [] if i.id == interface_id), None)


class SiteVpn(pulumi.ComponentResource):
    """Site-to-site HA VPN (99.99% topology) from one GCP region to on-prem.

    Creates: an HA VPN gateway (IPv4 only), an external VPN gateway describing
    the on-prem devices (two devices: TWO_IPS_REDUNDANCY; one device:
    SINGLE_IP_INTERNALLY_REDUNDANT), a Cloud Router with the region's ranges as
    custom BGP advertisements, and per planned tunnel a VPN tunnel, a router
    interface on the tunnel's planned /30 and a BGP peer at the on-prem inside
    address.

    Crypto: every tunnel pins IKEv2 and the agreed suite (`network_plan.CRYPTO`,
    AES-256-GCM-16 / PRF-HMAC-SHA2-384 / group 20 for IKE and PFS) through
    Cloud VPN's tunnel `cipher_suite`, and the on-prem end offers only that
    suite, so nothing weaker can be negotiated from either side. SA lifetimes
    are Google's fixed ones (`network_plan.IKE_LIFETIME["gcp"]`).

    Keys: each tunnel's pre-shared key is generated (`vpn_keys.pre_shared_key`)
    and only ever a Pulumi secret; `pre_shared_keys` hands them to the on-prem
    config as secrets.
    """

    tunnel_addresses: dict[str, pulumi.Output[str]]
    pre_shared_keys: dict[str, pulumi.Output[str]]
    router_name: pulumi.Output[str]

    def __init__(self, name: str, args: SiteVpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:SiteVpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = gcp_labels(args.tags)
        where = {"project": args.project, "region": args.region}

        gateway = gcp.compute.HaVpnGateway(
            f"{name}-gateway", name=f"{args.prefix}-havpn-{args.region}",
            network=args.network_self_link, stack_type="IPV4_ONLY", labels=labels,
            opts=child, **where,
        )
        two = len(args.devices) == 2
        peer = gcp.compute.ExternalVpnGateway(
            f"{name}-peer", name=f"{args.prefix}-onprem-{args.region}", project=args.project,
            redundancy_type="TWO_IPS_REDUNDANCY" if two else "SINGLE_IP_INTERNALLY_REDUNDANT",
            interfaces=[{"id": i, "ip_address": d.public_ip} for i, d in enumerate(args.devices)],
            description=", ".join(d.name for d in args.devices), labels=labels, opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router", name=f"{args.prefix}-vpn-{args.region}",
            network=args.network_self_link,
            bgp={
                "asn": args.asn,
                # Only this region's ranges: on-prem then enters each region through its
                # own tunnels even though the VPC's routing mode is GLOBAL.
                "advertise_mode": "CUSTOM",
                "advertised_ip_ranges": [{"range": r} for r in args.advertised_ranges],
            },
            opts=child, **where,
        )

        self.tunnel_addresses, self.pre_shared_keys = {}, {}
        for t in sorted(args.tunnels, key=lambda t: t.cloud_interface):
            role = f"{name}-tunnel{t.cloud_interface}"
            key = vpn_keys.pre_shared_key(role, args.psk_rotation, parent=self)
            tunnel = gcp.compute.VPNTunnel(
                role, name=f"{args.prefix}-{t.name}",
                vpn_gateway=gateway.id, vpn_gateway_interface=t.cloud_interface,
                peer_external_gateway=peer.id,
                peer_external_gateway_interface=args.devices.index(t.device),
                router=router.id, ike_version=network_plan.CRYPTO.ike_version,
                cipher_suite=CIPHER_SUITE, shared_secret=key,
                description=f"{t.name} to {t.device.name} ({t.device.public_ip})",
                labels=labels, opts=child, **where,
            )
            interface = gcp.compute.RouterInterface(
                f"{role}-interface", name=f"{t.name}-if", router=router.name,
                ip_range=f"{t.cloud_inside_ip}/30", vpn_tunnel=tunnel.name,
                opts=child, **where,
            )
            gcp.compute.RouterPeer(
                f"{role}-peer", name=f"{t.name}-bgp", router=router.name,
                interface=interface.name, ip_address=t.cloud_inside_ip,
                peer_ip_address=t.onprem_inside_ip, peer_asn=t.onprem_asn,
                advertised_route_priority=ROUTE_PRIORITY,
                bfd={"session_initialization_mode": "ACTIVE" if args.bfd else "DISABLED"},
                opts=child, **where,
            )
            iface_id = t.cloud_interface
            self.tunnel_addresses[t.name] = gateway.vpn_interfaces.apply(
                lambda ifs, i=iface_id: _interface_ip(ifs, i))
            self.pre_shared_keys[t.name] = key

        self.router_name = router.name
        self.register_outputs({
            "tunnel_addresses": self.tunnel_addresses,
            "pre_shared_keys": self.pre_shared_keys,
            "router_name": self.router_name,
        })
