"""Public exposure on the network: no admin/data ports open to the internet, no public K8s API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers import (
    Findings,
    config_value,
    elements,
    is_unknown,
    keys,
    lookup,
    plain,
    validate_each,
)
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

# --- Sensitive ports open to the internet --------------------------------------------------------------------

#: SSH, RDP, Kubernetes API, etcd, kubelet, PostgreSQL, MySQL, MSSQL, Oracle, Redshift, MongoDB,
#: Redis, Elasticsearch, Kibana, Kafka (plain/TLS/SASL), ZooKeeper.
DEFAULT_SENSITIVE_PORTS = [
    22,
    3389,
    6443,
    2379,
    2380,
    10250,
    5432,
    3306,
    1433,
    1521,
    5439,
    27017,
    6379,
    9200,
    5601,
    9092,
    9093,
    9094,
    2181,
]
ANY_IPV4, ANY_IPV6 = "0.0.0.0/0", "::/0"
_AZURE_ANYWHERE = {"*", "0.0.0.0/0", "0.0.0.0", "internet", "any", "::/0"}
_ALL_PORTS = (0, 65535)


def _aws_ports(protocol: Any, from_port: Any, to_port: Any) -> list[tuple[int, int]]:
    proto = str(protocol).lower()
    if proto in ("-1", "all"):
        return [_ALL_PORTS]
    if proto in ("icmp", "1", "icmpv6", "58"):
        return []  # fromPort/toPort are ICMP types there, not ports
    if from_port is None and to_port is None:
        return [_ALL_PORTS]
    lo = int(from_port if from_port is not None else to_port)
    hi = int(to_port if to_port is not None else from_port)
    return [(lo, hi)]


def _range_text(text: str) -> tuple[int, int] | None:
    text = text.strip()
    if text in ("*", ""):
        return _ALL_PORTS
    lo, _, hi = text.partition("-")
    try:
        return (int(lo), int(hi or lo))
    except ValueError:
        return None


def _exposed(ranges: list[tuple[int, int]], sensitive: list[int]) -> list[int]:
    return sorted({p for p in sensitive for lo, hi in ranges if lo <= p <= hi})


def _known_all(values: list[Any], f: Findings) -> bool:
    """Record the first Unknown among ``values``; True when all are known."""
    for value in _flatten(values):
        if is_unknown(value):
            f.unknown(value)
            return False
    return True


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, list):
        return [x for v in values for x in _flatten(v)]
    if isinstance(values, dict):
        return [x for v in values.values() for x in _flatten(v)]
    return [values]


def _aws_rule(rule: Mapping[str, Any], sensitive: list[int]) -> list[int]:
    cidrs = list(rule.get("cidrBlocks") or []) + list(rule.get("ipv6CidrBlocks") or [])
    cidrs += [c for c in (rule.get("cidrIpv4"), rule.get("cidrIpv6")) if c]
    if not {ANY_IPV4, ANY_IPV6} & {str(c).strip() for c in cidrs}:
        return []
    protocol = rule.get("protocol", rule.get("ipProtocol", "-1"))
    return _exposed(_aws_ports(protocol, rule.get("fromPort"), rule.get("toPort")), sensitive)


def _gcp_firewall(rule: Mapping[str, Any], sensitive: list[int]) -> list[int]:
    if str(rule.get("direction") or "INGRESS").upper() != "INGRESS" or rule.get("disabled") is True:
        return []
    sources = rule.get("sourceRanges")
    if not sources and not rule.get("sourceTags") and not rule.get("sourceServiceAccounts"):
        sources = [ANY_IPV4]  # GCP's default source for an ingress rule without sources
    if not {ANY_IPV4, ANY_IPV6} & {str(s).strip() for s in sources or []}:
        return []
    ranges: list[tuple[int, int]] = []
    for allow in rule.get("allows") or []:
        proto = str(allow.get("protocol", "")).lower()
        if proto in ("icmp", "1", "ipip", "esp", "ah", "58"):
            continue
        ports = allow.get("ports") or []
        ranges += [_ALL_PORTS] if not ports else [r for p in ports if (r := _range_text(str(p)))]
    return _exposed(ranges, sensitive)


def _azure_rule(rule: Mapping[str, Any], sensitive: list[int]) -> list[int]:
    if (
        str(rule.get("direction", "")).lower() != "inbound"
        or str(rule.get("access", "")).lower() != "allow"
    ):
        return []
    sources = [rule.get("sourceAddressPrefix")] + list(rule.get("sourceAddressPrefixes") or [])
    if not {str(s).strip().lower() for s in sources if s} & _AZURE_ANYWHERE:
        return []
    ports = [rule.get("destinationPortRange")] + list(rule.get("destinationPortRanges") or [])
    ranges = [r for p in ports if p is not None and (r := _range_text(str(p)))]
    return _exposed(ranges, sensitive)


def check_open_ports(
    resource_type: str, props: object, sensitive: list[int], f: Findings
) -> list[str]:
    """Messages for rules that open a sensitive port to 0.0.0.0/0 or ::/0."""
    judge = _JUDGES.get(resource_type)
    if judge is None:
        return []
    rules: list[tuple[str, Any, tuple[str, ...]]]  # (label, rule, path of the rule in the inputs)
    if resource_type in _RULE_LISTS:
        key = _RULE_LISTS[resource_type]
        value = lookup(props, key)
        rules = (
            [(key, value, (key,))]
            if is_unknown(value)
            else [
                (f"{key}[{i}]", rule, (key, str(i)))
                for i, rule in enumerate(elements(value, (key,)))
            ]
        )
    else:
        rules = [("rule", props, ())]
    problems = []
    for where, rule, base in rules:
        if is_unknown(rule):
            f.unknown(rule)
            continue
        if resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule":
            kind = lookup(rule, "type")
            if is_unknown(kind):
                f.unknown(kind)
                continue
            if kind != "ingress":
                continue
        # Only the fields a judge reads need to be known; an unknown description does not matter.
        relevant = {
            k: plain(lookup(rule, k, base=base), (*base, k)) for k in _RELEVANT if k in keys(rule)
        }
        if not _known_all([relevant], f):
            continue
        ports = judge(relevant, sensitive)
        if ports:
            problems.append(f"{where} opens port(s) {ports} to the internet")
    return problems


_RELEVANT = frozenset(
    {
        "cidrBlocks",
        "ipv6CidrBlocks",
        "cidrIpv4",
        "cidrIpv6",
        "protocol",
        "ipProtocol",
        "fromPort",
        "toPort",
        "direction",
        "disabled",
        "sourceRanges",
        "sourceTags",
        "sourceServiceAccounts",
        "allows",
        "access",
        "sourceAddressPrefix",
        "sourceAddressPrefixes",
        "destinationPortRange",
        "destinationPortRanges",
    }
)
_JUDGES = {
    "aws:ec2/securityGroup:SecurityGroup": _aws_rule,
    "aws:ec2/securityGroupRule:SecurityGroupRule": _aws_rule,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _aws_rule,
    "gcp:compute/firewall:Firewall": _gcp_firewall,
    "azure-native:network:NetworkSecurityGroup": _azure_rule,
    "azure-native:network:SecurityRule": _azure_rule,
}
#: Types whose rules sit in a list input rather than at the top level.
_RULE_LISTS = {
    "aws:ec2/securityGroup:SecurityGroup": "ingress",
    "azure-native:network:NetworkSecurityGroup": "securityRules",
}


def _validate_open_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    sensitive = [
        int(p) for p in config_value(args.get_config(), "sensitivePorts", DEFAULT_SENSITIVE_PORTS)
    ]
    for why in check_open_ports(args.resource_type, args.props, sensitive, f):
        f.violation(f"{args.name}: {why}")
    f.settle()


no_public_sensitive_ports = ResourceValidationPolicy(
    name="no-public-sensitive-ports",
    display_name="Admin and data ports are never open to the internet",
    description=(
        "aws:ec2 SecurityGroup ingress / SecurityGroupRule, aws:vpc SecurityGroupIngressRule, "
        "gcp:compute Firewall and azure-native:network NetworkSecurityGroup / SecurityRule never allow "
        "0.0.0.0/0 or ::/0 (Azure: *, Internet) to a sensitive port (SSH 22, RDP 3389, Kubernetes 6443, "
        "PostgreSQL 5432, MySQL 3306, Kafka 9092, ...; see sensitivePorts)."
    ),
    validate=_validate_open_ports,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["public-exposure", "network"],
    config_schema=PolicyConfigSchema(
        properties={
            "sensitivePorts": {
                "type": "array",
                "items": {"type": "integer"},
                "default": DEFAULT_SENSITIVE_PORTS,
                "description": "Ports that may never be reachable from 0.0.0.0/0 or ::/0.",
            },
        }
    ),
    remediation_steps=(
        "Restrict the source to the on-prem/VPN ranges or a bastion/load balancer security group; reach "
        "admin ports through SSM Session Manager, IAP or Azure Bastion instead of opening them."
    ),
)


# --- Managed Kubernetes API endpoints ---------------------------------------------------------------------


def _open_cidrs(values: Any) -> bool:
    return any(str(v).strip() in (ANY_IPV4, ANY_IPV6) for v in values or [])


def check_cluster_endpoint(resource_type: str, props: object, f: Findings) -> list[str]:
    if resource_type == "aws:eks/cluster:Cluster":
        public = lookup(props, "vpcConfig", "endpointPublicAccess")
        if is_unknown(public):
            f.unknown(public)
            return []
        if public is False:
            return []
        cidrs = plain(
            lookup(props, "vpcConfig", "publicAccessCidrs"), ("vpcConfig", "publicAccessCidrs")
        )
        if not _known_all([cidrs], f):
            return []
        # Public endpoint on by default, and publicAccessCidrs defaults to 0.0.0.0/0.
        if not cidrs or _open_cidrs(cidrs):
            return [
                (
                    "the API endpoint is public to 0.0.0.0/0 (set vpcConfig.endpointPublicAccess false "
                    "or restrict publicAccessCidrs)"
                )
            ]
        return []
    if resource_type == "gcp:container/cluster:Cluster":
        private = lookup(props, "privateClusterConfig", "enablePrivateEndpoint")
        if private is True:
            return []
        networks = plain(
            lookup(props, "masterAuthorizedNetworksConfig"), ("masterAuthorizedNetworksConfig",)
        )
        if isinstance(networks, dict) and _known_all([networks], f):
            blocks = [
                b.get("cidrBlock") for b in networks.get("cidrBlocks") or [] if isinstance(b, dict)
            ]
            return (
                ["masterAuthorizedNetworksConfig allows 0.0.0.0/0"] if _open_cidrs(blocks) else []
            )
        if is_unknown(networks) or is_unknown(private):
            f.unknown(networks if is_unknown(networks) else private)
            return []
        if isinstance(networks, dict):
            return []  # undecided parts already recorded by _known_all
        return [
            (
                "the control plane is public: set privateClusterConfig.enablePrivateEndpoint or "
                "masterAuthorizedNetworksConfig"
            )
        ]
    if resource_type == "azure-native:containerservice:ManagedCluster":
        profile = plain(lookup(props, "apiServerAccessProfile"), ("apiServerAccessProfile",))
        if not _known_all([profile], f):
            return []
        profile = profile if isinstance(profile, dict) else {}
        if profile.get("enablePrivateCluster") is True:
            return []
        ranges = profile.get("authorizedIPRanges") or []
        if ranges and not _open_cidrs(ranges):
            return []
        return [
            (
                "the API server is public: set apiServerAccessProfile.enablePrivateCluster or "
                "authorizedIPRanges (without 0.0.0.0/0)"
            )
        ]
    return []


kubernetes_api_not_public = ResourceValidationPolicy(
    name="kubernetes-api-not-public",
    display_name="Managed Kubernetes API servers are not open to the internet",
    description=(
        "aws:eks Cluster: endpointPublicAccess false, or publicAccessCidrs set without 0.0.0.0/0; "
        "gcp:container Cluster: privateClusterConfig.enablePrivateEndpoint or "
        "masterAuthorizedNetworksConfig without 0.0.0.0/0; azure-native:containerservice ManagedCluster: "
        "apiServerAccessProfile enablePrivateCluster or authorizedIPRanges without 0.0.0.0/0."
    ),
    validate=validate_each(check_cluster_endpoint),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["public-exposure", "kubernetes"],
    remediation_steps=(
        "Prefer private endpoints reached over the VPN/on-prem link; otherwise restrict the public endpoint "
        "to the office/VPN egress CIDRs."
    ),
)
