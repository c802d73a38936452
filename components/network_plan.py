"""The hybrid address plan and tunnel plan: pure functions, no Pulumi.

Every cloud network's subnets and every VPN tunnel's inside addresses are
derived here from the stack config, so the cloud components, the on-prem
device config and the tests all read the same numbers.

Layouts (for a network of prefix /p):
- AWS VPC: private subnet per zone /p+2 (quarters 0-2), public subnet per zone
  /p+4 in the last quarter (NAT gateways and load balancers only).
- GCP region: pods secondary range /p+1, nodes primary range /p+3, services
  secondary range /p+4, in that order; the last /p+3 of the region is reserved for
  Private Service Access (Cloud SQL and other Google-managed services peer into it).
- Azure VNet: AKS nodes /p+1, private endpoints /p+4, PostgreSQL flexible servers /p+4
  (right after the endpoints), AKS API server /28, GatewaySubnet /27.

Every block is carved from the configured network's own CIDR, so what the config
validation proves for the CIDRs (private, no overlaps with each other, on-prem, the
tunnel pool or the AKS overlay ranges) holds for every block: no extra config keys.

Tunnel inside addresses come from one link-local pool (default
169.254.21.0/24, valid for AWS, GCP and Azure APIPA BGP alike): a /26 per
cloud, a /28 per region (by its position in the cloud's region list, so adding
a region at the end never renumbers existing tunnels), a /30 per tunnel; the
cloud end takes the first host address and the on-prem end the second, as AWS
assigns them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from ipaddress import IPv4Network

#: Smallest network per cloud that still fits the layout with useful sizes.
MAX_PREFIX = {"aws": 20, "gcp": 20, "azure": 22}
#: Networks larger than this are refused (AWS caps VPC CIDRs at /16).
MIN_PREFIX = {"aws": 16, "gcp": 12, "azure": 12}
CLOUD_ORDER = ("aws", "gcp", "azure")
REGIONS_PER_CLOUD = 4
TUNNELS_PER_REGION = 4
#: Azure accepts APIPA BGP addresses only in 169.254.21.0 - 169.254.22.255.
AZURE_APIPA = (ipaddress.ip_network("169.254.21.0/24"), ipaddress.ip_network("169.254.22.0/24"))
LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
AZURE_GATEWAY_SUBNET_PREFIX = 27
AZURE_APISERVER_SUBNET_PREFIX = 28
AWS_ZONE_SUFFIXES = ("a", "b", "c")
#: Inside ranges AWS refuses for VPN tunnels.
AWS_RESERVED_INSIDE = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30",
    "169.254.4.0/30", "169.254.5.0/30", "169.254.169.252/30"))

RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))

#: ASNs usable for a private BGP plan (RFC 6996), 16- and 32-bit.
PRIVATE_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294))
#: Azure refuses these for anything but its own side (and 65515 is its default).
AZURE_RESERVED_ASNS = frozenset({65515, 65517, 65518, 65519, 65520})


@dataclass(frozen=True)
class Crypto:
    """The agreed IKE/IPsec suite, spelt the way each end wants it.

    IKEv2, AES-256-GCM-16, PRF/integrity SHA2-384, DH group 20 (ECP-384) for
    IKE and for PFS. GCP's tunnel ciphers are not configurable; this suite is in
    Google's supported set, and the on-prem end offers only it.
    """

    ike_version: int = 2
    aws_encryption: str = "AES256-GCM-16"
    aws_integrity: str = "SHA2-384"
    aws_dh_group: int = 20
    azure_ike_encryption: str = "GCMAES256"
    azure_ike_integrity: str = "SHA384"
    azure_dh_group: str = "ECP384"
    azure_ipsec_encryption: str = "GCMAES256"
    azure_ipsec_integrity: str = "GCMAES256"
    azure_pfs_group: str = "ECP384"
    strongswan_ike: str = "aes256gcm16-prfsha384-ecp384"
    strongswan_esp: str = "aes256gcm16-ecp384"


CRYPTO = Crypto()

#: SA lifetimes in seconds per cloud (GCP's are fixed by Google); the on-prem end matches them.
IKE_LIFETIME = {"aws": 28800, "gcp": 36000, "azure": 28800}
CHILD_LIFETIME = {"aws": 3600, "gcp": 10800, "azure": 3600}


@dataclass(frozen=True)
class OnPremDevice:
    """One on-prem VPN device (the peer of every cloud tunnel)."""

    name: str
    public_ip: str


@dataclass(frozen=True)
class Tunnel:
    """One IPsec tunnel with its BGP session, as both ends must see it."""

    name: str
    cloud: str
    region: str
    device: OnPremDevice
    #: AWS: the VPN connection's tunnel number (1, 2); GCP: the HA VPN interface;
    #: Azure: the active-active gateway instance.
    cloud_interface: int
    inside_cidr: str
    cloud_inside_ip: str
    onprem_inside_ip: str
    cloud_asn: int
    onprem_asn: int

    @property
    def ike_lifetime(self) -> int:
        return IKE_LIFETIME[self.cloud]

    @property
    def child_lifetime(self) -> int:
        return CHILD_LIFETIME[self.cloud]


class PlanError(ValueError):
    """A network or tunnel plan cannot be laid out; `key` names the config key."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}: {value!r}: {allowed}")


def _sub(net: IPv4Network, prefix: int, index: int) -> IPv4Network:
    """The `index`-th /prefix inside `net`."""
    if prefix < net.prefixlen or not 0 <= index < 2 ** (prefix - net.prefixlen):
        raise ValueError(f"no /{prefix} number {index} in {net}")
    return IPv4Network((int(net.network_address) + index * 2 ** (32 - prefix), prefix))


def aws_layout(cidr: str, zones: int) -> dict[str, list[str]]:
    net = ipaddress.ip_network(cidr)
    p = net.prefixlen
    return {
        "private": [str(_sub(net, p + 2, i)) for i in range(zones)],
        "public": [str(_sub(_sub(net, p + 2, 3), p + 4, i)) for i in range(zones)],
    }


def aws_zones(region: str, zones: int) -> list[str]:
    return [f"{region}{s}" for s in AWS_ZONE_SUFFIXES[:zones]]


def gcp_layout(cidr: str) -> dict[str, str]:
    net = ipaddress.ip_network(cidr)
    p = net.prefixlen
    pods = _sub(net, p + 1, 0)
    nodes = _sub(_sub(net, p + 1, 1), p + 3, 0)
    services = _sub(_sub(net, p + 1, 1), p + 4, 2)
    return {"pods": str(pods), "nodes": str(nodes), "services": str(services)}


def gcp_private_services_range(cidr: str) -> str:
    """The block of a GCP region's CIDR reserved for Private Service Access (Cloud SQL).

    The last /p+3 of the region: `gcp_layout` leaves the upper half's last quarter unused
    (nodes take its first quarter, services its third eighth). Sizes run /15 (region /12)
    to /23 (region /20), all at least the /24 Service Networking requires. Being inside the
    region's CIDR it never overlaps another configured range, and the region's HA VPN
    already advertises it to on-prem with the rest of the region.
    """
    net = ipaddress.ip_network(cidr)
    p = net.prefixlen
    return str(_sub(_sub(net, p + 1, 1), p + 3, 3))


def azure_layout(cidr: str) -> dict[str, str]:
    net = ipaddress.ip_network(cidr)
    p = net.prefixlen
    upper = _sub(net, p + 1, 1)
    return {
        "nodes": str(_sub(net, p + 1, 0)),
        "endpoints": str(_sub(upper, p + 4, 0)),
        # The /28 just below the gateway: AKS API server VNet integration (private KMS needs it).
        "apiserver": str(_sub(net, AZURE_APISERVER_SUBNET_PREFIX,
                              2 ** (AZURE_APISERVER_SUBNET_PREFIX - p) - 3)),
        # The last /27 of the VNet: Azure requires the name GatewaySubnet.
        "gateway": str(_sub(net, AZURE_GATEWAY_SUBNET_PREFIX,
                            2 ** (AZURE_GATEWAY_SUBNET_PREFIX - p) - 1)),
        # Delegated to Azure Database for PostgreSQL flexible servers (VNet integration): the
        # /p+4 after the endpoints, unused before, so no subnet moves. Listed last so the
        # VNet's subnet list only grows at its end.
        "postgres": str(_sub(upper, p + 4, 1)),
    }


def is_private(net: IPv4Network, extra: list[IPv4Network]) -> bool:
    return any(net.subnet_of(r) for r in (*RFC1918, *extra))


def is_public_address(ip: str) -> bool:
    """A usable internet address for a VPN peer (documentation ranges pass, for examples)."""
    addr = ipaddress.ip_address(ip)
    cgnat = ipaddress.ip_network("100.64.0.0/10")
    return not (
        any(addr in r for r in RFC1918) or addr in cgnat or addr.is_loopback
        or addr.is_link_local or addr.is_multicast or addr.is_unspecified
        or addr.is_reserved or addr.version != 4
    )


def is_private_asn(asn: int) -> bool:
    return any(lo <= asn <= hi for lo, hi in PRIVATE_ASN_RANGES)


def region_tunnels(
    cloud: str,
    region: str,
    region_index: int,
    pool: str,
    devices: list[OnPremDevice],
    cloud_asn: int,
    onprem_asn: int,
) -> list[Tunnel]:
    """The tunnels of one cloud region: AWS 2 per device (one VPN connection each),
    GCP 2 (HA VPN interface i to device i, or both to the only device), Azure 2 per
    device (one per active-active gateway instance)."""
    if region_index >= REGIONS_PER_CLOUD:
        raise PlanError(f"sites.{cloud}", region, f"at most {REGIONS_PER_CLOUD} regions per cloud")
    pool_net = ipaddress.ip_network(pool)
    if pool_net.prefixlen > 24:
        raise PlanError("network.tunnelInsidePool", pool, "must be a /24 or larger")
    cloud_block = _sub(pool_net, pool_net.prefixlen + 2, CLOUD_ORDER.index(cloud))
    block = _sub(cloud_block, 28, region_index)
    if cloud == "gcp":
        pairs = [(devices[i % len(devices)], i) for i in range(2)]
    else:
        pairs = [(d, i) for d in devices for i in range(2)]
    tunnels: list[Tunnel] = []
    for n, (device, iface) in enumerate(pairs):
        inside = _sub(block, 30, n)
        hosts = list(inside.hosts())
        number = iface + 1 if cloud == "aws" else iface
        onprem_ip = str(hosts[1])
        if cloud == "azure" and iface == 1:
            # An Azure local network gateway has one BGP address per device, which both
            # gateway instances peer with (multihop): reuse the device's first address.
            onprem_ip = tunnels[-1].onprem_inside_ip
        tunnels.append(Tunnel(
            name=f"{cloud}-{region}-{device.name}-t{iface + 1}",
            cloud=cloud, region=region, device=device,
            cloud_interface=number, inside_cidr=str(inside),
            cloud_inside_ip=str(hosts[0]), onprem_inside_ip=onprem_ip,
            cloud_asn=cloud_asn, onprem_asn=onprem_asn,
        ))
    return tunnels
