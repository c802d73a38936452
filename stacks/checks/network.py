"""What `network` means, checked: private, non-overlapping ranges, sizes, unique private ASNs,
VPN devices and the tunnel pool."""

from __future__ import annotations

from typing import Any

from components import network_plan as plan
from stacks.checks.problems import MISSING, ConfigProblem, key_path
from stacks.config.platform import PlatformConfig


def network_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    net = cfg.network
    if net is None:
        return []
    problems: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        problems.append(ConfigProblem(key_path(("network", *loc)), value, why))

    enabled = cfg.enabled_clouds()
    if net.onprem is None and cfg.onprem_enabled() and enabled:
        add(("onprem",), MISSING, "required when the on-prem site and a cloud are enabled "
            "(cidrs, asn, vpnDevices)")
    # Every range in the plan with the key that owns it, for the overlap check.
    ranges: list[tuple[str, Any]] = []
    asns: list[tuple[str, int]] = []
    if net.onprem is not None:
        for i, cidr in enumerate(net.onprem.cidrs):
            ranges.append((key_path(("network", "onprem", "cidrs", i)), cidr))
        asns.append((key_path(("network", "onprem", "asn")), net.onprem.asn))
        names: set[str] = set()
        for i, dev in enumerate(net.onprem.vpn_devices):
            if not plan.is_public_address(str(dev.public_ip)):
                add(("onprem", "vpnDevices", i, "publicIp"), str(dev.public_ip),
                    "must be a public IPv4 address (not RFC 1918, CGNAT, loopback, link-local or multicast)")
            if dev.name in names:
                add(("onprem", "vpnDevices", i, "name"), dev.name, "device names must be unique")
            names.add(dev.name)
        ips = [d.public_ip for d in net.onprem.vpn_devices]
        if len(set(ips)) != len(ips):
            add(("onprem", "vpnDevices"), [str(i) for i in ips], "each device needs its own public IP")
        if "azure" in enabled and net.onprem.asn in plan.AZURE_RESERVED_ASNS:
            add(("onprem", "asn"), net.onprem.asn,
                f"reserved by Azure ({', '.join(map(str, sorted(plan.AZURE_RESERVED_ASNS)))}); "
                "use another private ASN")

    for cloud in ("aws", "gcp", "azure"):
        entries = getattr(net, cloud)
        wanted = cfg.cloud_regions(cloud) if cloud in enabled else []
        site_key = "locations" if cloud == "azure" else "regions"
        for region in wanted:
            if region not in entries:
                add((cloud, region), MISSING,
                    f"every enabled region of sites.{cloud}.{site_key} needs a network (cidr, asn)")
        if len(wanted) > plan.REGIONS_PER_CLOUD:
            add((cloud,), sorted(entries), f"at most {plan.REGIONS_PER_CLOUD} regions per cloud")
        for region, entry in entries.items():
            if region not in wanted:
                add((cloud, region), str(entry.cidr),
                    f"not an enabled region of sites.{cloud}.{site_key} ({', '.join(wanted) or 'none'})")
                continue
            key = key_path(("network", cloud, region, "cidr"))
            ranges.append((key, entry.cidr))
            lo, hi = plan.MIN_PREFIX[cloud], plan.MAX_PREFIX[cloud]
            if not lo <= entry.cidr.prefixlen <= hi:
                add((cloud, region, "cidr"), str(entry.cidr),
                    f"allowed sizes /{lo} to /{hi}: smaller leaves no room for the subnets and "
                    f"cluster ranges ({_LAYOUT[cloud]})")
            asns.append((key_path(("network", cloud, region, "asn")), entry.asn))

    for i, extra in enumerate(net.extra_private_ranges):
        if extra.prefixlen < 8 or extra.overlaps(plan.LINK_LOCAL):
            add(("extraPrivateRanges", i), str(extra),
                "must be /8 or smaller and outside 169.254.0.0/16 (the tunnel link-local range)")
    pool = net.tunnel_inside_pool
    for key, cidr in ranges:
        if cidr.prefixlen < 8:
            problems.append(ConfigProblem(key, str(cidr), "must be /8 or smaller"))
        if cidr.overlaps(pool):
            problems.append(ConfigProblem(key, str(cidr), f"overlaps {key_path(('network', 'tunnelInsidePool'))} "
                                          f"({pool}), the tunnels' inside addresses"))
        if not plan.is_private(cidr, list(net.extra_private_ranges)):
            problems.append(ConfigProblem(key, str(cidr),
                "must be private: inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or "
                "network.extraPrivateRanges"))
    for i, (key_a, a) in enumerate(ranges):
        for key_b, b in ranges[i + 1:]:
            if a.overlaps(b):
                problems.append(ConfigProblem(key_a, str(a), f"overlaps {key_b} ({b})"))

    seen_asn: dict[int, str] = {}
    for key, asn in asns:
        if not plan.is_private_asn(asn):
            problems.append(ConfigProblem(key, asn, "must be a private ASN: 64512-65534 or "
                                          "4200000000-4294967294"))
        if asn in seen_asn:
            problems.append(ConfigProblem(key, asn, f"clashes with {seen_asn[asn]}; every BGP "
                                          "speaker in the plan needs its own ASN"))
        seen_asn.setdefault(asn, key)

    if not pool.subnet_of(plan.LINK_LOCAL) or pool.prefixlen > 24:
        add(("tunnelInsidePool",), str(pool), "must be a /24 (or larger) inside 169.254.0.0/16")
    elif net.azure and not any(pool.subnet_of(r) for r in plan.AZURE_APIPA):
        add(("tunnelInsidePool",), str(pool), "Azure takes APIPA BGP addresses only from "
            "169.254.21.0-169.254.22.255: use 169.254.21.0/24 or 169.254.22.0/24")
    elif any(pool.overlaps(r) for r in plan.AWS_RESERVED_INSIDE):
        add(("tunnelInsidePool",), str(pool), "overlaps inside ranges AWS reserves "
            f"({', '.join(map(str, plan.AWS_RESERVED_INSIDE))})")
    return problems


_LAYOUT = {
    "aws": "3 private /p+2 and 3 public /p+4 subnets; EKS needs private subnets of /22 or more",
    "gcp": "pods /p+1, nodes /p+3, services /p+4 for GKE",
    "azure": "AKS nodes /p+1, private endpoints /p+4, GatewaySubnet /27",
}
