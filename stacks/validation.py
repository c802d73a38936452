"""Turn raw stack config into a `PlatformConfig`, or into one clear line per problem.

Structural problems come from pydantic; problems of meaning (regions outside
the residency plan, unknown classifications, stores on disabled sites) are
checked here, after the structure is sound. Either way the caller gets a
`ConfigError` listing every problem with its YAML key path, the bad value and
what is allowed.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from components import network_plan as plan
from components.regions import ONPREM, cloud_of
from stacks.config import CONFIG_KEY, PROJECT, PlatformConfig

ROOT_PATH = f"{PROJECT}:{CONFIG_KEY}"
_MISSING = object()


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid config value."""

    path: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        # One line per problem, whatever characters the config itself contains.
        if self.value is _MISSING:
            line = f"{self.path}: missing; {self.allowed}"
        else:
            line = f"{self.path}: bad value {_show(self.value)}; {self.allowed}"
        return line.replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(Exception):
    """The stack config is invalid; `problems` says where and why."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _path(loc: tuple[Any, ...]) -> str:
    out = ROOT_PATH
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _unwrap(annotation: Any) -> Any:
    """The model class behind Optional[...] / list[...] / dict[str, ...], if any."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (list, dict):
        return _unwrap(typing.get_args(annotation)[-1])
    return annotation


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = PlatformConfig
    for part in loc:
        if isinstance(part, int) or not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        field = next(
            (f for n, f in model.model_fields.items() if part in (n, f.alias)), None
        )
        if field is None:
            continue  # a dict key such as a classification name
        model = _unwrap(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _from_pydantic(err: ValidationError) -> list[ConfigProblem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            keys = ", ".join(_allowed_keys(loc[:-1]))
            # The value of an unknown key is not echoed: it could be anything, even a secret.
            problems.append(ConfigProblem(_path(loc), "<unknown key>", f"allowed keys here: {keys}"))
        elif e["type"] == "missing":
            problems.append(ConfigProblem(_path(loc), _MISSING, "this key is required"))
        else:
            problems.append(ConfigProblem(_path(loc), e.get("input"), e["msg"]))
    return problems


def _semantic_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    res = cfg.residency
    allowed = set(res.allowed_regions)

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        problems.append(ConfigProblem(_path(loc), value, why))

    for i, region in enumerate(res.allowed_regions):
        if cloud_of(region) in (None, ONPREM):
            add(("residency", "allowedRegions", i), region, "not a known AWS, GCP or Azure region")
    for name, cls in res.classifications.items():
        for i, region in enumerate(cls.allowed_regions):
            if region not in allowed:
                add(("residency", "classifications", name, "allowedRegions", i), region,
                    f"allowed: regions of residency.allowedRegions ({', '.join(sorted(allowed))})")
    classes = sorted(res.classifications)
    if res.default_classification not in res.classifications:
        add(("residency", "defaultClassification"), res.default_classification,
            f"allowed: {', '.join(classes)}")

    for cloud in cfg.enabled_clouds():
        key = "locations" if cloud == "azure" else "regions"
        regions = cfg.cloud_regions(cloud)
        for i, region in enumerate(regions):
            if region not in allowed:
                add(("sites", cloud, key, i), region,
                    f"outside the residency plan; allowed: {', '.join(sorted(allowed))}")
        if len(set(regions)) != len(regions):
            add(("sites", cloud, key), regions, "each region may appear once")

    enabled = cfg.enabled_clouds()
    seen: set[str] = set()
    for i, store in enumerate(cfg.storage.stores):
        loc = ("storage", "stores", i)
        if store.name in seen:
            add((*loc, "name"), store.name, "store names must be unique")
        seen.add(store.name)
        cls_name = cfg.store_classification(store)
        cls = res.classifications.get(cls_name)
        if cls is None:
            if store.data_classification is not None:
                add((*loc, "dataClassification"), cls_name, f"allowed: {', '.join(classes)}")
            continue
        for j, site in enumerate(cfg.store_sites(store)):
            site_loc = (*loc, "sites", j) if store.sites is not None else (*loc, "sites")
            if site not in enabled:
                add(site_loc, site, f"allowed: enabled cloud sites ({', '.join(enabled) or 'none'})")
                continue
            if cls.on_prem_required:
                add(site_loc, site, f"{cls_name!r} data must stay on-prem; allowed: no cloud site")
                continue
            region = cfg.cloud_regions(site)[0]
            if region not in cls.allowed_regions:
                add(site_loc, site,
                    f"its primary region {region} is outside the allowed regions of {cls_name!r} "
                    f"data ({', '.join(cls.allowed_regions) or 'none'})")
    return problems


def _network_problems(cfg: PlatformConfig) -> list[ConfigProblem]:
    net = cfg.network
    if net is None:
        return []
    problems: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], value: Any, why: str) -> None:
        problems.append(ConfigProblem(_path(("network", *loc)), value, why))

    enabled = cfg.enabled_clouds()
    if net.onprem is None:
        if cfg.onprem_enabled() and enabled:
            add(("onprem",), _MISSING, "required when the on-prem site and a cloud are enabled "
                "(cidrs, asn, vpnDevices)")
    # Every range in the plan with the key that owns it, for the overlap check.
    ranges: list[tuple[str, Any]] = []
    asns: list[tuple[str, int]] = []
    if net.onprem is not None:
        for i, cidr in enumerate(net.onprem.cidrs):
            ranges.append((_path(("network", "onprem", "cidrs", i)), cidr))
        asns.append((_path(("network", "onprem", "asn")), net.onprem.asn))
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
                add((cloud, region), _MISSING,
                    f"every enabled region of sites.{cloud}.{site_key} needs a network (cidr, asn)")
        if len(wanted) > plan.REGIONS_PER_CLOUD:
            add((cloud,), sorted(entries), f"at most {plan.REGIONS_PER_CLOUD} regions per cloud")
        for region, entry in entries.items():
            if region not in wanted:
                add((cloud, region), str(entry.cidr),
                    f"not an enabled region of sites.{cloud}.{site_key} ({', '.join(wanted) or 'none'})")
                continue
            key = _path(("network", cloud, region, "cidr"))
            ranges.append((key, entry.cidr))
            lo, hi = plan.MIN_PREFIX[cloud], plan.MAX_PREFIX[cloud]
            if not lo <= entry.cidr.prefixlen <= hi:
                add((cloud, region, "cidr"), str(entry.cidr),
                    f"allowed sizes /{lo} to /{hi}: smaller leaves no room for the subnets and "
                    f"cluster ranges ({_LAYOUT[cloud]})")
            asns.append((_path(("network", cloud, region, "asn")), entry.asn))

    for i, extra in enumerate(net.extra_private_ranges):
        if extra.prefixlen < 8 or extra.overlaps(plan.LINK_LOCAL):
            add(("extraPrivateRanges", i), str(extra),
                "must be /8 or smaller and outside 169.254.0.0/16 (the tunnel link-local range)")
    pool = net.tunnel_inside_pool
    for key, cidr in ranges:
        if cidr.prefixlen < 8:
            problems.append(ConfigProblem(key, str(cidr), "must be /8 or smaller"))
        if cidr.overlaps(pool):
            problems.append(ConfigProblem(key, str(cidr), f"overlaps {_path(('network', 'tunnelInsidePool'))} "
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


def parse_platform(raw: Any) -> PlatformConfig:
    """Validate raw config (the `platform` object) or raise `ConfigError`."""
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(ROOT_PATH, raw, "must be a mapping (the platform config)")])
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_from_pydantic(err)) from None
    from stacks.cluster_validation import cluster_problems  # it builds on this module
    from stacks.services_config import services_problems

    problems = _semantic_problems(cfg) + _network_problems(cfg) + cluster_problems(cfg)
    if not problems:  # services refer to clusters; judge them only once those are sound
        problems = services_problems(cfg)
    if not problems:  # teams refer to clusters and services
        from stacks.teams_config import problems as team_problems

        problems = team_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg
