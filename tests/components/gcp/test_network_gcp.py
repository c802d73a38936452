"""GCP network and HA VPN under the SDK mocks: layout, tunnel plan, crypto, keys, policy."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components import network_plan as plan
from components.gcp.network import PODS_RANGE, SERVICES_RANGE, Network, NetworkArgs
from components.gcp.vpn import CIPHER_SUITE, SiteVpn, SiteVpnArgs
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import CANARY, canary_mocks, component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
PROJECT = "hml-prod-net"
REGIONS = {"europe-west4": "10.32.0.0/16", "europe-west1": "10.33.0.0/18"}
ONPREM = ["10.0.0.0/14"]
EDGES = [plan.OnPremDevice("edge1", "198.51.100.10"), plan.OnPremDevice("edge2", "198.51.100.11")]
POOL = "169.254.21.0/24"
T_NETWORK, T_SUBNET = "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"
T_TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"


def _tunnels(devices: list[plan.OnPremDevice], region: str = "europe-west4") -> list[plan.Tunnel]:
    return plan.region_tunnels("gcp", region, 0, POOL, devices, 64630, 65010)


def _vpn_args(devices: list[plan.OnPremDevice], link: pulumi.Input[str], **kw) -> SiteVpnArgs:
    fields = {"prefix": "hml-prod", "project": PROJECT, "region": "europe-west4",
              "network_self_link": link, "asn": 64630, "tunnels": _tunnels(devices),
              "devices": devices, "advertised_ranges": [REGIONS["europe-west4"]],
              "psk_rotation": 0, "tags": TAGS}
    return SiteVpnArgs(**{**fields, **kw})


def _program(regions: dict[str, str], devices: list[plan.OnPremDevice]):
    def program():
        west4 = gcp.Provider("gcp-europe-west4", project=PROJECT, region="europe-west4")
        rnd = random.Provider("random")
        args = NetworkArgs(prefix="hml-prod", project=PROJECT, regions=regions,
                           onprem_cidrs=ONPREM, tags=TAGS)
        net = Network("network-gcp", args, pulumi.ResourceOptions(providers=[west4, rnd]))
        SiteVpn("vpn-gcp-europe-west4", _vpn_args(devices, net.network_self_link),
                pulumi.ResourceOptions(providers=[west4, rnd]))
    return program


@pytest.fixture(scope="module")
def built() -> dict:
    return component_plan(_program(REGIONS, EDGES))


def test_vpc_is_custom_mode_with_global_routing(built):
    [vpc] = resources_of(built, T_NETWORK)
    assert vpc["inputs"]["autoCreateSubnetworks"] is False
    assert vpc["inputs"]["routingMode"] == "GLOBAL"
    assert vpc["inputs"]["name"] == "hml-prod-vpc"


def test_subnets_match_layout_with_gke_ranges_and_flow_logs(built):
    subnets = {s["inputs"]["region"]: s["inputs"] for s in resources_of(built, T_SUBNET)}
    assert set(subnets) == set(REGIONS)
    for region, cidr in REGIONS.items():
        layout, s = plan.gcp_layout(cidr), subnets[region]
        assert s["ipCidrRange"] == layout["nodes"]
        assert {r["rangeName"]: r["ipCidrRange"] for r in s["secondaryIpRanges"]} == {
            PODS_RANGE: layout["pods"], SERVICES_RANGE: layout["services"]}
        assert all(ipaddress.ip_network(r).subnet_of(ipaddress.ip_network(cidr))
                   for r in layout.values())
        assert s["privateIpGoogleAccess"] is True
        logs = s["logConfig"]
        assert logs["metadata"] == "INCLUDE_ALL_METADATA"
        assert logs["flowSampling"] in (0.5, 1.0) and logs["aggregationInterval"]


def test_every_region_has_logged_cloud_nat(built):
    routers = {r["inputs"]["region"] for r in resources_of(built, "gcp:compute/router:Router")
               if "bgp" not in r["inputs"]}
    nats = resources_of(built, "gcp:compute/routerNat:RouterNat")
    assert routers == set(REGIONS) and {n["inputs"]["region"] for n in nats} == set(REGIONS)
    for nat in nats:
        assert nat["inputs"]["logConfig"]["enable"] is True
        assert nat["inputs"]["logConfig"]["filter"] in ("ERRORS_ONLY", "ALL")
        assert nat["inputs"]["subnetworks"][0]["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]


def test_firewall_allows_only_cloud_and_onprem_ranges(built):
    rules = {r["inputs"]["name"]: r["inputs"] for r in resources_of(built, "gcp:compute/firewall:Firewall")}
    assert sorted(rules["hml-prod-allow-internal"]["sourceRanges"]) == sorted(REGIONS.values())
    assert rules["hml-prod-allow-onprem"]["sourceRanges"] == ONPREM
    for rule in rules.values():
        assert rule["direction"] == "INGRESS" and rule["sourceRanges"]
        assert not {"0.0.0.0/0", "::/0"} & set(rule["sourceRanges"])


def test_project_and_region_explicit_on_every_resource(built):
    for r in built["resources"]:
        if r["type"].startswith("gcp:compute/"):
            assert r["inputs"]["project"] == PROJECT, r["name"]
            if r["type"] not in (T_NETWORK, "gcp:compute/firewall:Firewall",
                                 "gcp:compute/externalVpnGateway:ExternalVpnGateway",
                                 "gcp:compute/globalAddress:GlobalAddress"):  # global resources
                assert r["inputs"]["region"] in REGIONS, r["name"]


def test_gateways_ha_vpn_and_two_device_peer(built):
    [gw] = resources_of(built, "gcp:compute/haVpnGateway:HaVpnGateway")
    assert gw["inputs"]["stackType"] == "IPV4_ONLY"
    [peer] = resources_of(built, "gcp:compute/externalVpnGateway:ExternalVpnGateway")
    assert peer["inputs"]["redundancyType"] == "TWO_IPS_REDUNDANCY"
    assert peer["inputs"]["interfaces"] == [{"id": 0, "ipAddress": "198.51.100.10"},
                                            {"id": 1, "ipAddress": "198.51.100.11"}]
    for r in (gw, peer, *resources_of(built, T_TUNNEL)):
        assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["labels"]), r["name"]


def test_router_advertises_region_ranges_over_bgp(built):
    [router] = [r for r in resources_of(built, "gcp:compute/router:Router") if "bgp" in r["inputs"]]
    bgp = router["inputs"]["bgp"]
    assert bgp["asn"] == 64630 and bgp["advertiseMode"] == "CUSTOM"
    assert bgp["advertisedIpRanges"] == [{"range": REGIONS["europe-west4"]}]


def test_tunnels_interfaces_and_peers_match_plan(built):
    by_name = {r["name"]: r["inputs"] for r in built["resources"]}
    for t in _tunnels(EDGES):
        role = f"vpn-gcp-europe-west4-tunnel{t.cloud_interface}"
        tunnel, iface, peer = by_name[role], by_name[f"{role}-interface"], by_name[f"{role}-peer"]
        assert tunnel["name"] == f"hml-prod-{t.name}"
        assert tunnel["vpnGatewayInterface"] == t.cloud_interface
        assert tunnel["peerExternalGatewayInterface"] == EDGES.index(t.device)
        assert iface["ipRange"] == f"{t.cloud_inside_ip}/30"
        assert ipaddress.ip_network(iface["ipRange"], strict=False) == ipaddress.ip_network(
            t.inside_cidr)
        assert iface["vpnTunnel"] == tunnel["name"]
        assert peer["interface"] == iface["name"]
        assert (peer["ipAddress"], peer["peerIpAddress"]) == (t.cloud_inside_ip, t.onprem_inside_ip)
        assert peer["peerAsn"] == t.onprem_asn == 65010


def test_every_tunnel_uses_the_agreed_crypto(built):
    tunnels = resources_of(built, T_TUNNEL)
    assert len(tunnels) == 2
    # The strongSwan spelling the on-prem end is rendered with, mapped to Cloud VPN's names.
    ike, esp = plan.CRYPTO.strongswan_ike.split("-"), plan.CRYPTO.strongswan_esp.split("-")
    gcp_name = {"aes256gcm16": "AES-GCM-16-256", "prfsha384": "PRF-HMAC-SHA2-384",
                "ecp384": "Group-20"}
    enc, prf, dh = (gcp_name[x] for x in ike)
    expected = {
        "phase1": {"encryptions": [enc], "prves": [prf], "dhs": [dh]},
        "phase2": {"encryptions": [gcp_name[esp[0]]], "pfs": [gcp_name[esp[1]]]},
    }
    assert expected == CIPHER_SUITE
    for t in tunnels:
        assert t["inputs"]["ikeVersion"] == plan.CRYPTO.ike_version == 2
        assert t["inputs"]["cipherSuite"] == expected


def test_keys_generated_long_and_only_secret(built):
    passwords = resources_of(built, "random:index/randomPassword:RandomPassword")
    assert len(passwords) == 2 and all(p["inputs"]["length"] >= 32 for p in passwords)
    assert all(t["inputs"]["sharedSecret"] == "[secret]" for t in resources_of(built, T_TUNNEL))


def test_known_key_never_reaches_the_plan():
    plan_ = component_plan(_program({"europe-west4": REGIONS["europe-west4"]}, EDGES),
                           resource_mocks=canary_mocks())
    assert CANARY not in json.dumps(plan_)
    assert all(t["inputs"]["sharedSecret"] == "[secret]" for t in resources_of(plan_, T_TUNNEL))


def test_single_device_peer_is_internally_redundant():
    plan_ = component_plan(_program({"europe-west4": REGIONS["europe-west4"]}, EDGES[:1]))
    [peer] = resources_of(plan_, "gcp:compute/externalVpnGateway:ExternalVpnGateway")
    assert peer["inputs"]["redundancyType"] == "SINGLE_IP_INTERNALLY_REDUNDANT"
    assert peer["inputs"]["interfaces"] == [{"id": 0, "ipAddress": "198.51.100.10"}]
    tunnels = resources_of(plan_, T_TUNNEL)
    assert sorted(t["inputs"]["vpnGatewayInterface"] for t in tunnels) == [0, 1]
    assert {t["inputs"]["peerExternalGatewayInterface"] for t in tunnels} == {0}


class _AppliedMocks(pulumi.runtime.Mocks):
    """Outputs as after an update: the HA VPN gateway's interfaces listed out of id order."""

    def new_resource(self, args):
        outs = dict(args.inputs)
        if args.typ == "gcp:compute/haVpnGateway:HaVpnGateway":
            outs["vpnInterfaces"] = [{"id": 1, "ipAddress": "35.220.0.2"},
                                     {"id": 0, "ipAddress": "35.242.0.1"}]
        if args.typ == "random:index/randomPassword:RandomPassword":
            outs["result"] = CANARY
        return f"{args.name}-id", outs

    def call(self, args):
        raise AssertionError(f"no invokes expected, got {args.token}")


@pytest.fixture
def applied():
    # run_program closes its event loop; the SDK's test runner needs a current one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_AppliedMocks(), preview=False)
    yield
    loop.close()


@pulumi.runtime.test
def test_outputs_tunnel_addresses_by_interface_and_secret_keys(applied):
    vpn = SiteVpn("vpn", _vpn_args(EDGES, "projects/p/global/networks/hml-prod-vpc"))
    names = [t.name for t in _tunnels(EDGES)]
    assert sorted(vpn.tunnel_addresses) == sorted(vpn.pre_shared_keys) == sorted(names)

    def check(values):
        addresses, secret_flags, keys = values[:2], values[2:4], values[4:]
        assert addresses == ["35.242.0.1", "35.220.0.2"]  # interface 0, then interface 1
        assert all(secret_flags)
        assert all(k.startswith("k") and len(k) >= 33 for k in keys)

    outs = [vpn.tunnel_addresses[n] for n in names]
    secret = [vpn.pre_shared_keys[n].is_secret() for n in names]
    return pulumi.Output.all(*outs, *secret, *[vpn.pre_shared_keys[n] for n in names]).apply(check)


def test_args_reject_plans_that_do_not_fit():
    link = "projects/p/global/networks/v"
    with pytest.raises(ValidationError, match="interface 0 and one on 1"):
        _vpn_args(EDGES, link, tunnels=_tunnels(EDGES)[:1])
    with pytest.raises(ValidationError, match="not a gcp tunnel of europe-west4"):
        _vpn_args(EDGES, link, tunnels=_tunnels(EDGES, "europe-west1"))
    with pytest.raises(ValidationError, match="not in devices"):
        _vpn_args(EDGES[:1], link, tunnels=_tunnels(EDGES))
    with pytest.raises(ValidationError, match="whole internet"):
        NetworkArgs(prefix="p", project=PROJECT, regions=REGIONS, onprem_cidrs=["0.0.0.0/0"],
                    tags=TAGS)
    with pytest.raises(ValidationError, match="regions.europe-west4"):
        NetworkArgs(prefix="p", project=PROJECT, regions={"europe-west4": "10.32.0.0/24"},
                    onprem_cidrs=ONPREM, tags=TAGS)


def test_policy_pack_finds_no_mandatory_violation(built):
    cfg = json.loads((ROOT / "policies/config.prod.json").read_text())
    cfg["data-residency"]["allowedRegions"].append("europe-west1")
    for cls in cfg["data-residency"]["classifications"].values():
        cls["allowedRegions"].append("europe-west1")
    res = run_policy_pack(ROOT / "policies", built["resources"], cfg, analyze_all_resources=True)
    mandatory = [d for d in res.diagnostics if d.enforcement_level == "mandatory"]
    assert mandatory == [], [(d.policy_name, d.message) for d in mandatory]
    undecided = [u for u in res.undecided
                 if u.policy_name in ("vpn-strong-crypto", "no-public-sensitive-ports")]
    assert undecided == []
    assert {p.name for p in res.policies} >= {"vpn-strong-crypto", "no-public-sensitive-ports"}
