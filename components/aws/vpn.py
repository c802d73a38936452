"""Site-to-site VPN from the on-prem VPN devices to one AWS VPC, with BGP and pinned crypto."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components import network_plan

#: `pulumi.Input[str]` without the Awaitable arm, which pydantic cannot resolve.
from components.inputs import StrInput
from components.network_plan import CRYPTO, Tunnel
from components.tags import StandardTags, aws_tags
from components.vpn_keys import pre_shared_key

#: AWS takes 16-bit and low 32-bit ASNs in bgp_asn, the rest only in bgp_asn_extended.
_MAX_BGP_ASN = 2_147_483_647
#: Tunnel logs only help when an IKE negotiation fails; a month is enough to debug one.
TUNNEL_LOG_RETENTION_DAYS = 30


class SiteVpnArgs(BaseModel):
    """Arguments of the VPN between the on-prem devices and one AWS VPC."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    region: str = Field(description="AWS region of the VPC (must match the provider).")
    vpc_id: StrInput = Field(description="The VPC the virtual private gateway attaches to.")
    route_table_ids: list[StrInput] = Field(
        description="Route tables that receive the on-prem routes learnt over BGP.")
    amazon_asn: int = Field(description="BGP ASN of the AWS side (the virtual private gateway).")
    tunnels: list[Tunnel] = Field(
        min_length=2,
        description="This region's tunnels from `network_plan.region_tunnels`: two per device "
                    "(cloud_interface 1 and 2), one VPN connection per device.")
    onprem_cidrs: list[str] = Field(
        min_length=1,
        description="On-prem ranges. Routes come over BGP; these are checked against the tunnels.")
    psk_rotation: int = Field(ge=1, description="Bump to replace every tunnel's pre-shared key.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")

    @model_validator(mode="after")
    def _tunnels_fit(self) -> SiteVpnArgs:
        if not network_plan.is_private_asn(self.amazon_asn):
            raise ValueError(f"amazon_asn {self.amazon_asn} is not a private ASN")
        onprem = [ipaddress.ip_network(c) for c in self.onprem_cidrs]
        for t in self.tunnels:
            if (t.cloud, t.region) != ("aws", self.region):
                raise ValueError(f"tunnel {t.name} is not for aws/{self.region}")
            if t.cloud_asn != self.amazon_asn:
                raise ValueError(f"tunnel {t.name} expects cloud ASN {t.cloud_asn}, not "
                                 f"{self.amazon_asn}")
            inside = ipaddress.ip_network(t.inside_cidr)
            if (inside.prefixlen != 30 or not inside.subnet_of(network_plan.LINK_LOCAL)
                    or any(inside.overlaps(r) for r in network_plan.AWS_RESERVED_INSIDE)):
                raise ValueError(f"tunnel {t.name}: inside CIDR {inside} is not usable on AWS")
            if any(inside.overlaps(n) for n in onprem):
                raise ValueError(f"tunnel {t.name}: inside CIDR {inside} overlaps an on-prem range")
        for device, pair in _by_device(self.tunnels).items():
            if sorted(t.cloud_interface for t in pair) != [1, 2]:
                raise ValueError(f"device {device} needs exactly tunnels 1 and 2")
        if len({t.onprem_asn for t in self.tunnels}) != 1:
            raise ValueError("all tunnels must peer with the same on-prem ASN")
        return self


def _by_device(tunnels: list[Tunnel]) -> dict[str, list[Tunnel]]:
    groups: dict[str, list[Tunnel]] = defaultdict(list)
    for t in tunnels:
        groups[t.device.name].append(t)
    return dict(groups)


def _tunnel_options(
    n: int, tunnel: Tunnel, key: pulumi.Output[str], log_group_arn: pulumi.Output[str]
) -> dict:
    """The VpnConnection arguments of tunnel `n` (1 or 2): the agreed suite and nothing weaker.

    Every proposal list is pinned to one value: an unset list lets AWS also accept IKEv1,
    AES-128, SHA-1 and DH group 2.
    """
    p = f"tunnel{n}_"
    return {
        f"{p}inside_cidr": tunnel.inside_cidr,
        f"{p}preshared_key": key,
        f"{p}ike_versions": [f"ikev{CRYPTO.ike_version}"],
        f"{p}phase1_encryption_algorithms": [CRYPTO.aws_encryption],
        f"{p}phase2_encryption_algorithms": [CRYPTO.aws_encryption],
        f"{p}phase1_integrity_algorithms": [CRYPTO.aws_integrity],
        f"{p}phase2_integrity_algorithms": [CRYPTO.aws_integrity],
        f"{p}phase1_dh_group_numbers": [CRYPTO.aws_dh_group],
        f"{p}phase2_dh_group_numbers": [CRYPTO.aws_dh_group],
        f"{p}phase1_lifetime_seconds": tunnel.ike_lifetime,
        f"{p}phase2_lifetime_seconds": tunnel.child_lifetime,
        # AWS initiates too, so a tunnel comes back after an outage without waiting for on-prem
        # traffic; on DPD timeout it restarts IKE instead of leaving the tunnel down.
        f"{p}startup_action": "start",
        f"{p}dpd_timeout_action": "restart",
        f"{p}dpd_timeout_seconds": 30,
        f"{p}log_options": {"cloudwatch_log_options": {
            "log_enabled": True, "log_group_arn": log_group_arn, "log_output_format": "json",
            "bgp_log_enabled": True, "bgp_log_group_arn": log_group_arn,
            "bgp_log_output_format": "json",
        }},
    }


class SiteVpn(pulumi.ComponentResource):
    """A virtual private gateway attached to the VPC, propagating routes into every given route
    table, and per on-prem device a customer gateway and a VPN connection with both tunnels.

    Guarantees: dynamic routing (BGP); both tunnels pinned to IKEv2, AES-256-GCM-16, SHA2-384
    and DH group 20 for IKE and PFS (`network_plan.CRYPTO`), lifetimes from the plan; inside
    addresses exactly as the tunnel plan; generated pre-shared keys that exist only as Pulumi
    secrets; tunnel and BGP logs in CloudWatch.
    """

    tunnel_addresses: dict[str, pulumi.Output[str]]
    pre_shared_keys: dict[str, pulumi.Output[str]]
    gateway_id: pulumi.Output[str]

    def __init__(self, name: str, args: SiteVpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:SiteVpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = aws_tags(args.tags)
        base = f"{args.prefix}-{args.region}"

        # Attached by vpc_id: creation waits for the attachment, so propagation can follow.
        vgw = aws.ec2.VpnGateway(
            f"{name}-vgw", vpc_id=args.vpc_id, amazon_side_asn=str(args.amazon_asn),
            tags={**tags, "Name": base}, opts=child,
        )
        for i, table in enumerate(args.route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagation-{i}", vpn_gateway_id=vgw.id, route_table_id=table, opts=child)

        # Default (AWS-owned key) encryption: tunnel logs hold addresses and IKE states, no data.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-tunnel-logs", name=f"/{args.prefix}/{args.region}/site-vpn",
            retention_in_days=TUNNEL_LOG_RETENTION_DAYS, tags=tags, opts=child,
        )

        addresses: dict[str, pulumi.Output[str]] = {}
        keys: dict[str, pulumi.Output[str]] = {}
        for device, pair in _by_device(args.tunnels).items():
            t1, t2 = sorted(pair, key=lambda t: t.cloud_interface)
            asn = t1.onprem_asn
            asn_arg = "bgp_asn" if asn <= _MAX_BGP_ASN else "bgp_asn_extended"
            cgw = aws.ec2.CustomerGateway(
                f"{name}-{device}-cgw", type="ipsec.1", ip_address=t1.device.public_ip,
                device_name=device,
                **{asn_arg: str(asn)},
                tags={**tags, "Name": f"{base}-{device}"}, opts=child,
            )
            k1 = pre_shared_key(f"{name}-{device}-t1", args.psk_rotation, self)
            k2 = pre_shared_key(f"{name}-{device}-t2", args.psk_rotation, self)
            vpn = aws.ec2.VpnConnection(
                f"{name}-{device}-vpn", type="ipsec.1", vpn_gateway_id=vgw.id,
                customer_gateway_id=cgw.id, static_routes_only=False,
                tunnel_inside_ip_version="ipv4",
                **_tunnel_options(1, t1, k1, logs.arn), **_tunnel_options(2, t2, k2, logs.arn),
                tags={**tags, "Name": f"{base}-{device}"}, opts=child,
            )
            addresses[t1.name] = vpn.tunnel1_address
            addresses[t2.name] = vpn.tunnel2_address
            keys[t1.name], keys[t2.name] = k1, k2

        self.tunnel_addresses = addresses
        self.pre_shared_keys = keys
        self.gateway_id = vgw.id
        self.register_outputs({
            "tunnel_addresses": self.tunnel_addresses,
            "pre_shared_keys": self.pre_shared_keys,
            "gateway_id": self.gateway_id,
        })
