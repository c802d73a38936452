"""The AWS network and site VPN components under the SDK mocks: layout, routing, flow logs,
tunnel plan, agreed crypto, secret keys and the policy pack."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components import network_plan
from components.aws.network import Network, NetworkArgs
from components.aws.vpn import SiteVpn, SiteVpnArgs
from components.network_plan import CRYPTO, OnPremDevice
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import CANARY, canary_mocks, component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
REGION, CIDR, ACCOUNT = "eu-west-1", "10.16.0.0/16", "444455556666"
DEVICES = [OnPremDevice("edge1", "198.51.100.10"), OnPremDevice("edge2", "198.51.100.11")]
TUNNELS = network_plan.region_tunnels("aws", REGION, 0, "169.254.21.0/24", DEVICES, 64620, 65010)
VPN = "aws:ec2/vpnConnection:VpnConnection"
PROPAGATION = "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation"
#: What the mocked RandomPassword returns in the leak test; it must never reach the plan.


def _net_args(**over) -> NetworkArgs:
    fields = {"prefix": "hml-prod", "region": REGION, "cidr": CIDR, "zones": 3,
              "nat_gateways": "perZone", "flow_log_retention_days": 90, "account_id": ACCOUNT,
              "tags": TAGS, "protect": True}
    return NetworkArgs(**{**fields, **over})


def _vpn_args(net: Network, **over) -> SiteVpnArgs:
    fields = {"prefix": "hml-prod", "region": REGION, "vpc_id": net.vpc_id,
              "route_table_ids": net.private_route_table_ids, "amazon_asn": 64620,
              "tunnels": TUNNELS, "onprem_cidrs": ["10.0.0.0/14"], "psk_rotation": 1, "tags": TAGS}
    return SiteVpnArgs(**{**fields, **over})


def _program(with_vpn: bool = True, **net_over):
    def program() -> None:
        opts = pulumi.ResourceOptions(providers=[aws.Provider("aws-eu-west-1", region=REGION),
                                                 random.Provider("random")])
        net = Network("net", _net_args(**net_over), opts)
        if with_vpn:
            vpn = SiteVpn("vpn", _vpn_args(net), opts)
            pulumi.export("keys", vpn.pre_shared_keys)
            pulumi.export("addresses", vpn.tunnel_addresses)
    return program


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


@pytest.fixture(scope="module")
def plan() -> dict:
    return component_plan(_program())


def test_subnets_follow_the_address_plan(plan):
    layout = network_plan.aws_layout(CIDR, 3)
    zones = network_plan.aws_zones(REGION, 3)
    [vpc] = resources_of(plan, "aws:ec2/vpc:Vpc")
    assert vpc["inputs"]["cidrBlock"] == CIDR
    assert vpc["inputs"]["enableDnsSupport"] is True and vpc["inputs"]["enableDnsHostnames"] is True
    subnets = resources_of(plan, "aws:ec2/subnet:Subnet")
    for tier, role in (("private", "internal-elb"), ("public", "elb")):
        got = sorted((s["inputs"]["availabilityZone"], s["inputs"]["cidrBlock"])
                     for s in subnets if s["inputs"]["tags"]["tier"] == tier)
        assert got == list(zip(zones, layout[tier], strict=True))
        assert all(s["inputs"]["tags"][f"kubernetes.io/role/{role}"] == "1"
                   for s in subnets if s["inputs"]["tags"]["tier"] == tier)
    assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in subnets)


@pytest.mark.parametrize(("mode", "nats"), [("none", 0), ("single", 1), ("perZone", 3)])
def test_nat_gateways_and_routes_per_mode(mode, nats):
    plan = component_plan(_program(with_vpn=False, nat_gateways=mode))
    names = _by_name(plan)
    nat_gws = resources_of(plan, "aws:ec2/natGateway:NatGateway")
    assert len(nat_gws) == nats == len(resources_of(plan, "aws:ec2/eip:Eip"))
    assert len(resources_of(plan, "aws:ec2/internetGateway:InternetGateway")) == (0 if mode == "none" else 1)
    private_rts = [r for r in resources_of(plan, "aws:ec2/routeTable:RouteTable") if "private" in r["name"]]
    assert len(private_rts) == 3  # one per zone, whatever the NAT mode
    defaults = [r for r in resources_of(plan, "aws:ec2/route:Route")
                if r["inputs"]["destinationCidrBlock"] == "0.0.0.0/0"]
    if mode == "none":
        # Fully private: no internet route anywhere, no public subnets.
        assert defaults == [] and not [s for s in resources_of(plan, "aws:ec2/subnet:Subnet")
                                       if s["inputs"]["tags"]["tier"] == "public"]
        return
    for z in "abc":
        route = names[f"net-private-{z}-default"]
        nat = names["net-nat-a" if mode == "single" else f"net-nat-{z}"]
        assert route["propertyDependencies"]["natGatewayId"] == [nat["urn"]]
        table = names[f"net-private-{z}-rt"]
        assert route["propertyDependencies"]["routeTableId"] == [table["urn"]]
    for nat in nat_gws:
        subnet = names[nat["name"].replace("nat", "public")]
        assert nat["propertyDependencies"]["subnetId"] == [subnet["urn"]]
    public_default = names["net-public-default"]
    assert public_default["propertyDependencies"]["gatewayId"] == [names["net-igw"]["urn"]]


def test_default_security_group_has_no_rules(plan):
    [sg] = resources_of(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg["inputs"]["ingress"] == [] and sg["inputs"]["egress"] == []


def test_flow_logs_all_traffic_to_cmk_encrypted_group(plan):
    names = _by_name(plan)
    [flow] = resources_of(plan, "aws:ec2/flowLog:FlowLog")
    assert flow["inputs"]["trafficType"] == "ALL"
    assert flow["inputs"]["logDestinationType"] == "cloud-watch-logs"
    group, key = names["net-flow-logs"], names["net-flow-logs-key"]
    role = names["net-flow-logs-role"]
    assert flow["propertyDependencies"]["logDestination"] == [group["urn"]]
    assert flow["propertyDependencies"]["iamRoleArn"] == [role["urn"]]
    assert names["net-flow-logs-write"]["urn"] in flow["dependencies"]
    assert group["inputs"]["retentionInDays"] == 90
    assert group["propertyDependencies"]["kmsKeyId"] == [key["urn"]]
    assert key["inputs"]["enableKeyRotation"] is True and key["protect"] and group["protect"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group['inputs']['name']}"
    [logs] = [s for s in json.loads(key["inputs"]["policy"])["Statement"]
              if s["Principal"].get("Service") == f"logs.{REGION}.amazonaws.com"]
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}
    [trust] = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    grants = json.loads(names["net-flow-logs-write"]["inputs"]["policy"])["Statement"]
    actions = {a for s in grants for a in _listed(s["Action"])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                       "logs:DescribeLogGroups"}
    assert all(r != "*" for s in grants for r in _listed(s["Resource"]))


TAGGABLE = ("ec2/vpc:Vpc", "ec2/subnet:Subnet", "ec2/routeTable:RouteTable",
            "ec2/internetGateway:InternetGateway", "ec2/natGateway:NatGateway", "ec2/eip:Eip",
            "ec2/defaultSecurityGroup:DefaultSecurityGroup", "ec2/flowLog:FlowLog",
            "cloudwatch/logGroup:LogGroup", "kms/key:Key", "iam/role:Role",
            "ec2/vpnGateway:VpnGateway", "ec2/customerGateway:CustomerGateway",
            "ec2/vpnConnection:VpnConnection")


@pytest.mark.parametrize("token", TAGGABLE)
def test_every_taggable_resource_carries_the_standard_tags(plan, token):
    resources = resources_of(plan, f"aws:{token}")
    assert resources
    for r in resources:
        assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"].get("tags", {})), r["name"]


def test_vpn_matches_the_tunnel_plan(plan):
    names = _by_name(plan)
    vgw = names["vpn-vgw"]
    assert vgw["inputs"]["amazonSideAsn"] == "64620"
    assert vgw["propertyDependencies"]["vpcId"] == [names["net-vpc"]["urn"]]
    propagated = {tuple(p["propertyDependencies"]["routeTableId"])
                  for p in resources_of(plan, PROPAGATION)}
    assert propagated == {(names[f"net-private-{z}-rt"]["urn"],) for z in "abc"}
    assert len(resources_of(plan, VPN)) == len(DEVICES)
    for t in TUNNELS:
        cgw = names[f"vpn-{t.device.name}-cgw"]["inputs"]
        assert cgw["ipAddress"] == t.device.public_ip
        assert (cgw["bgpAsn"], cgw["type"]) == (str(t.onprem_asn), "ipsec.1")
        vpn = names[f"vpn-{t.device.name}-vpn"]
        i, n = vpn["inputs"], t.cloud_interface
        assert i["staticRoutesOnly"] is False and i["type"] == "ipsec.1"
        assert i[f"tunnel{n}InsideCidr"] == t.inside_cidr
        assert i[f"tunnel{n}Phase1LifetimeSeconds"] == t.ike_lifetime
        assert i[f"tunnel{n}Phase2LifetimeSeconds"] == t.child_lifetime
        cgw_urn = names[f"vpn-{t.device.name}-cgw"]["urn"]
        assert vpn["propertyDependencies"]["customerGatewayId"] == [cgw_urn]


def test_every_tunnel_uses_only_the_agreed_crypto(plan):
    for vpn in resources_of(plan, VPN):
        for n in (1, 2):
            i = vpn["inputs"]
            assert i[f"tunnel{n}IkeVersions"] == ["ikev2"]
            for phase in (1, 2):
                assert i[f"tunnel{n}Phase{phase}EncryptionAlgorithms"] == [CRYPTO.aws_encryption]
                assert i[f"tunnel{n}Phase{phase}IntegrityAlgorithms"] == [CRYPTO.aws_integrity]
                assert i[f"tunnel{n}Phase{phase}DhGroupNumbers"] == [CRYPTO.aws_dh_group]


def test_keys_are_generated_secret_and_never_in_the_plan():
    # A preview never knows the generated key; the canary stand-in makes it known, to prove
    # the component never unwraps it into plain inputs or outputs.
    plan = component_plan(_program(), resource_mocks=canary_mocks())
    assert CANARY not in json.dumps(plan)
    passwords = resources_of(plan, "random:index/randomPassword:RandomPassword")
    assert len(passwords) == len(TUNNELS) and all(p["inputs"]["length"] >= 32 for p in passwords)
    for vpn in resources_of(plan, VPN):
        for n in (1, 2):
            assert vpn["inputs"][f"tunnel{n}PresharedKey"] == "[secret]"
    assert plan["outputs"]["keys"] == {t.name: "[secret]" for t in TUNNELS}
    assert set(plan["outputs"]["addresses"]) == {t.name for t in TUNNELS}


def _pack(resources: list[dict]):
    cfg = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    return run_policy_pack(ROOT / "policies", resources, cfg, analyze_all_resources=True)


def test_policy_pack_passes_and_catches_weak_tunnels(plan):
    res = _pack(plan["resources"])
    assert [d for d in res.diagnostics if d.enforcement_level == "mandatory"] == []
    # Decided at preview, not skipped as unknown: the crypto inputs are plain values.
    assert [u.policy_name for u in res.undecided] == []
    weak = copy.deepcopy(plan["resources"])
    target = next(r for r in weak if r["type"] == VPN)
    target["inputs"]["tunnel2IkeVersions"] = ["ikev1", "ikev2"]
    target["inputs"]["tunnel1Phase2DhGroupNumbers"] = [2]
    failed = [d for d in _pack(weak).diagnostics if d.policy_name == "vpn-strong-crypto"]
    assert {d.urn for d in failed} == {target["urn"]}
    messages = " ".join(d.message for d in failed)
    assert "tunnel2IkeVersions" in messages and "tunnel1Phase2DhGroupNumbers" in messages


@pytest.mark.parametrize("over", [
    {"cidr": "10.16.0.0/24"},  # too small for the layout
    {"zones": 4},
    {"flow_log_retention_days": 45},  # CloudWatch would refuse it at `pulumi up`
    {"account_id": "1234"},
])
def test_bad_network_args_are_rejected(over):
    with pytest.raises(ValidationError):
        _net_args(**over)


@pytest.mark.parametrize("tunnels", [
    TUNNELS[:1] + TUNNELS[2:],  # edge1 lost its second tunnel
    network_plan.region_tunnels("aws", "eu-central-1", 1, "169.254.21.0/24", DEVICES, 64620, 65010),
    network_plan.region_tunnels("aws", REGION, 0, "169.254.21.0/24", DEVICES, 64999, 65010),
])
def test_tunnels_not_fitting_this_gateway_are_rejected(tunnels):
    with pytest.raises(ValidationError):
        SiteVpnArgs(prefix="hml-prod", region=REGION, vpc_id="vpc-1", route_table_ids=["rtb-1"],
                    amazon_asn=64620, tunnels=tunnels, onprem_cidrs=["10.0.0.0/14"],
                    psk_rotation=1, tags=TAGS)
