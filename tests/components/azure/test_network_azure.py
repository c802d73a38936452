"""Azure network and site VPN under the SDK mocks: layout, NSGs, flow logs, tunnels, keys."""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
from pathlib import Path

import pulumi
import pulumi_azure_native as azure
import pulumi_random as random
import pytest
from pydantic import ValidationError

from components import network_plan as plan
from components.azure.network import Network, NetworkArgs, _nsg_rules
from components.azure.vpn import SiteVpn, SiteVpnArgs
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import CANARY, canary_mocks, component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")
SUB, TENANT = "3f1c2a9e-7b4d-4c1e-9a2f-5d6e7f8a9b0c", "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
LOC = "westeurope"
CIDR, ONPREM, ASN, ONPREM_ASN = "10.48.0.0/16", ["10.0.0.0/14"], 64640, 65010
EDGES = [plan.OnPremDevice("edge1", "198.51.100.10"), plan.OnPremDevice("edge2", "198.51.100.11")]
TUNNELS = plan.region_tunnels("azure", LOC, 0, "169.254.21.0/24", EDGES, ASN, ONPREM_ASN)
RG = f"/subscriptions/{SUB}/resourceGroups/rg-hml-prod-network-{LOC}/providers/Microsoft.Network"
VNET_ID = f"{RG}/virtualNetworks/vnet-hml-prod-{LOC}"
GW_ID = f"{RG}/virtualNetworkGateways/vgw-hml-prod-{LOC}"
T_NSG = "azure-native:network:NetworkSecurityGroup"
T_CONN = "azure-native:network:VirtualNetworkGatewayConnection"
T_LGW, T_PIP = "azure-native:network:LocalNetworkGateway", "azure-native:network:PublicIPAddress"


def _vpn_args(**kw) -> SiteVpnArgs:
    fields = {"prefix": "hml-prod", "subscription_id": SUB, "location": LOC,
              "resource_group_name": f"rg-hml-prod-network-{LOC}",
              "gateway_subnet_id": f"{VNET_ID}/subnets/GatewaySubnet", "asn": ASN,
              "tunnels": TUNNELS, "devices": EDGES, "onprem_cidrs": ONPREM, "psk_rotation": 1,
              "tags": TAGS}
    return SiteVpnArgs(**{**fields, **kw})


def _build(protect: bool = True):
    """Network + VPN wired the way the stack wires them (the VPN takes the network's outputs)."""
    def program():
        provider = azure.Provider(f"azure-{LOC}", location=LOC)
        opts = pulumi.ResourceOptions(providers=[provider, random.Provider("random")])
        net = Network(f"network-azure-{LOC}", NetworkArgs(
            prefix="hml-prod", subscription_id=SUB, tenant_id=TENANT, location=LOC, cidr=CIDR,
            onprem_cidrs=ONPREM, flow_log_retention_days=90, tags=TAGS, protect=protect), opts)
        SiteVpn(f"vpn-azure-{LOC}", _vpn_args(resource_group_name=net.resource_group_name,
                                              gateway_subnet_id=net.subnet_ids["gateway"]), opts)
    return program


def _one(plan_: dict, token: str) -> dict:
    [resource] = resources_of(plan_, token)
    return resource


@pytest.fixture(scope="module")
def built() -> dict:
    return component_plan(_build())


def test_vnet_subnets_follow_the_layout(built):
    vnet = _one(built, "azure-native:network:VirtualNetwork")["inputs"]
    assert vnet["addressSpace"] == {"addressPrefixes": [CIDR]}
    layout = plan.azure_layout(CIDR)
    subnets = {s["name"]: s for s in vnet["subnets"]}
    assert {n: s["addressPrefix"] for n, s in subnets.items()} == {
        "aks-nodes": layout["nodes"], "private-endpoints": layout["endpoints"],
        "aks-apiserver": layout["apiserver"], "GatewaySubnet": layout["gateway"],
        "postgres-flexible": layout["postgres"]}
    assert subnets["aks-apiserver"]["delegations"][0]["serviceName"] == \
        "Microsoft.ContainerService/managedClusters"
    assert subnets["postgres-flexible"]["delegations"][0]["serviceName"] == \
        "Microsoft.DBforPostgreSQL/flexibleServers"
    assert "networkSecurityGroup" not in subnets["GatewaySubnet"]  # Azure refuses NSGs there
    assert all("networkSecurityGroup" in subnets[n]
               for n in ("aks-nodes", "private-endpoints", "postgres-flexible"))
    assert subnets["private-endpoints"]["privateEndpointNetworkPolicies"] == "Enabled"


def test_nsgs_admit_only_vnet_onprem_and_lb_probes(built):
    nsgs = resources_of(built, T_NSG)
    assert len(nsgs) == 4  # nodes, private endpoints, API server and PostgreSQL subnets
    for nsg in nsgs:
        rules = nsg["inputs"]["securityRules"]
        allows = [r for r in rules if r["direction"] == "Inbound" and r["access"] == "Allow"]
        sources = {s for r in allows
                   for s in [r.get("sourceAddressPrefix"), *r.get("sourceAddressPrefixes", [])]
                   if s}
        assert sources == {"VirtualNetwork", "AzureLoadBalancer", *ONPREM}
        last = max(rules, key=lambda r: r["priority"])
        assert (last["access"], last["sourceAddressPrefix"]) == ("Deny", "*")
        assert last["priority"] == 4096


def test_subnet_ids_are_known_at_preview_and_wait_for_the_vnet(built):
    gateway = _one(built, "azure-native:network:VirtualNetworkGateway")
    subnets = {c["subnet"]["id"] for c in gateway["inputs"]["ipConfigurations"]}
    assert subnets == {f"{VNET_ID}/subnets/GatewaySubnet"}
    vnet = _one(built, "azure-native:network:VirtualNetwork")
    assert vnet["urn"] in gateway["dependencies"]


def test_vnet_flow_logs_on_into_the_log_account(built):
    log = _one(built, "azure-native:network:FlowLog")
    i = log["inputs"]
    assert i["targetResourceId"] == VNET_ID and i["enabled"] is True
    assert i["resourceGroupName"] == "NetworkWatcherRG"
    assert i["networkWatcherName"] == f"NetworkWatcher_{LOC}"
    assert i["retentionPolicy"] == {"enabled": True, "days": 90}
    assert i["format"] == {"type": "JSON", "version": 2}
    account = _one(built, "azure-native:storage:StorageAccount")
    writer = next(r for r in built["resources"] if r["name"].endswith("flowlogs-writer"))
    grant = next(r for r in built["resources"] if r["name"].endswith("writer-grant"))
    assert account["urn"] in log["propertyDependencies"]["storageId"]
    assert writer["urn"] in log["propertyDependencies"]["identity"]
    assert grant["urn"] in log["dependencies"]  # can write before the first flows arrive
    assert grant["inputs"]["roleDefinitionId"].endswith("ba92f5b4-2d11-453d-a403-e96b0029c9fe")
    assert account["urn"] in grant["propertyDependencies"]["scope"]


def test_log_account_encrypted_private_and_protected(built):
    account = _one(built, "azure-native:storage:StorageAccount")
    i = account["inputs"]
    assert i["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert i["encryption"]["requireInfrastructureEncryption"] is True
    assert i["enableHttpsTrafficOnly"] is True and i["minimumTlsVersion"] == "TLS1_2"
    assert i["allowBlobPublicAccess"] is False and i["allowSharedKeyAccess"] is False
    assert i["networkRuleSet"] == {"bypass": "AzureServices", "defaultAction": "Deny"}
    assert i["location"] == LOC and i["resourceGroupName"] == f"rg-hml-prod-network-{LOC}"
    vault = _one(built, "azure-native:keyvault:Vault")
    assert all(r["protect"] for r in (account, vault, _one(built, "azure-native:keyvault:Key")))
    assert vault["inputs"]["properties"]["enablePurgeProtection"] is True
    blob = _one(built, "azure-native:storage:BlobServiceProperties")["inputs"]
    assert blob["isVersioningEnabled"] is True and blob["deleteRetentionPolicy"]["enabled"] is True


def test_without_onprem_no_onprem_rule():
    args = NetworkArgs(prefix="p", subscription_id=SUB, tenant_id=TENANT, location=LOC, cidr=CIDR,
                       onprem_cidrs=[], flow_log_retention_days=30, tags=TAGS, protect=False)
    assert [r["name"] for r in _nsg_rules(args.onprem_cidrs)] == [
        "allow-vnet-inbound", "allow-azure-lb-inbound", "deny-all-inbound"]


def test_unprotected_when_not_asked():
    assert not any(r["protect"] for r in component_plan(_build(protect=False))["resources"])


def test_gateway_zone_redundant_active_active_with_apipa_bgp(built):
    ips = resources_of(built, T_PIP)
    assert len(ips) == 2
    for ip in ips:
        i = ip["inputs"]
        assert (i["sku"]["name"], i["publicIPAllocationMethod"]) == ("Standard", "Static")
        assert i["zones"] == ["1", "2", "3"]
    g = _one(built, "azure-native:network:VirtualNetworkGateway")["inputs"]
    assert (g["gatewayType"], g["vpnType"], g["sku"]["name"], g["vpnGatewayGeneration"]) == (
        "Vpn", "RouteBased", "VpnGw2AZ", "Generation2")
    assert g["activeActive"] is True and g["enableBgp"] is True and g["bgpSettings"]["asn"] == ASN
    names = [c["name"] for c in g["ipConfigurations"]]
    peering = g["bgpSettings"]["bgpPeeringAddresses"]
    assert [p["ipconfigurationId"] for p in peering] == [
        f"{GW_ID}/ipConfigurations/{n}" for n in names]
    for instance, p in enumerate(peering):
        apipa = p["customBgpIpAddresses"]
        assert apipa == [t.cloud_inside_ip for t in TUNNELS if t.cloud_interface == instance]
        assert all(any(ipaddress.ip_address(a) in net for net in plan.AZURE_APIPA) for a in apipa)


def test_local_gateways_and_connections_match_the_tunnel_plan(built):
    gateway = _one(built, "azure-native:network:VirtualNetworkGateway")
    names = [c["name"] for c in gateway["inputs"]["ipConfigurations"]]
    lgws = {r["inputs"]["gatewayIpAddress"]: r for r in resources_of(built, T_LGW)}
    conns = resources_of(built, T_CONN)
    assert len(lgws) == len(conns) == len(EDGES)
    for device in EDGES:
        pair = [t for t in TUNNELS if t.device == device]
        lgw = lgws[device.public_ip]
        assert lgw["inputs"]["bgpSettings"] == {
            "asn": ONPREM_ASN, "bgpPeeringAddress": pair[0].onprem_inside_ip}
        assert "localNetworkAddressSpace" not in lgw["inputs"]  # prefixes come over BGP
        [conn] = [c for c in conns
                  if lgw["urn"] in c["propertyDependencies"]["localNetworkGateway2"]]
        assert gateway["urn"] in conn["propertyDependencies"]["virtualNetworkGateway1"]
        assert conn["inputs"]["enableBgp"] is True
        assert conn["inputs"]["gatewayCustomBgpIpAddresses"] == [
            {"ipConfigurationId": f"{GW_ID}/ipConfigurations/{names[t.cloud_interface]}",
             "customBgpIpAddress": t.cloud_inside_ip} for t in pair]


def test_every_connection_uses_the_agreed_crypto(built):
    c = plan.CRYPTO
    expected = {"ikeEncryption": c.azure_ike_encryption, "ikeIntegrity": c.azure_ike_integrity,
                "dhGroup": c.azure_dh_group, "ipsecEncryption": c.azure_ipsec_encryption,
                "ipsecIntegrity": c.azure_ipsec_integrity, "pfsGroup": c.azure_pfs_group,
                "saLifeTimeSeconds": plan.CHILD_LIFETIME["azure"],
                "saDataSizeKilobytes": 102_400_000}
    # AES-256-GCM-16 with DH group 20 (ECP-384) for IKE and PFS, as agreed
    assert (c.azure_ike_encryption, c.azure_dh_group, c.azure_pfs_group) == (
        "GCMAES256", "ECP384", "ECP384")
    for conn in resources_of(built, T_CONN):
        i = conn["inputs"]
        assert (i["connectionType"], i["connectionProtocol"]) == ("IPsec", "IKEv2")
        assert i["usePolicyBasedTrafficSelectors"] is False
        assert i["ipsecPolicies"] == [expected]


def test_keys_generated_long_and_only_secret(built):
    passwords = resources_of(built, "random:index/randomPassword:RandomPassword")
    assert len(passwords) == len(EDGES) and all(p["inputs"]["length"] >= 32 for p in passwords)
    for conn in resources_of(built, T_CONN):
        assert conn["inputs"]["sharedKey"] == "[secret]"
        assert any(p["urn"] in conn["propertyDependencies"]["sharedKey"] for p in passwords)


class _AppliedMocks(pulumi.runtime.Mocks):
    """Outputs as after an update: public IPs allocated, keys generated."""

    def new_resource(self, args):
        outs = dict(args.inputs)
        if args.typ == "azure-native:network:PublicIPAddress":
            outs["ipAddress"] = f"20.0.0.{args.name[-1]}"  # -ip0 -> 20.0.0.0, -ip1 -> 20.0.0.1
        if args.typ == "random:index/randomPassword:RandomPassword":
            outs["result"] = f"{CANARY}{args.name}"
        return f"{args.name}-id", outs

    def call(self, args):
        raise AssertionError(f"no invokes expected, got {args.token}")


def test_known_key_never_reaches_the_plan():
    plan_ = component_plan(_build(), resource_mocks=canary_mocks())
    assert CANARY not in json.dumps(plan_)
    assert all(c["inputs"]["sharedKey"] == "[secret]" for c in resources_of(plan_, T_CONN))


@pytest.fixture
def applied():
    # run_program closes its event loop; the SDK's test runner needs a current one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(_AppliedMocks(), preview=False)
    yield
    loop.close()


@pulumi.runtime.test
def test_outputs_tunnel_addresses_per_instance_and_secret_keys_per_device(applied):
    vpn = SiteVpn("vpn", _vpn_args())
    names = [t.name for t in TUNNELS]
    assert sorted(vpn.tunnel_addresses) == sorted(vpn.pre_shared_keys) == sorted(names)

    def check(values):
        n = len(names)
        addresses, flags, keys = values[:n], values[n:2 * n], values[2 * n:]
        assert addresses == [f"20.0.0.{t.cloud_interface}" for t in TUNNELS]
        assert all(flags)
        by_device = {t.device.name: set() for t in TUNNELS}
        for t, k in zip(TUNNELS, keys):
            assert k.startswith("k") and len(k) >= 33
            by_device[t.device.name].add(k)
        assert all(len(v) == 1 for v in by_device.values())  # one key per device connection
        assert len(set(keys)) == len(EDGES)

    return pulumi.Output.all(*[vpn.tunnel_addresses[n] for n in names],
                             *[vpn.pre_shared_keys[n].is_secret() for n in names],
                             *[vpn.pre_shared_keys[n] for n in names]).apply(check)


def test_args_reject_plans_that_do_not_fit():
    with pytest.raises(ValidationError, match="one tunnel per gateway instance"):
        _vpn_args(tunnels=TUNNELS[:1] + TUNNELS[2:])
    with pytest.raises(ValidationError, match="not azure/westeurope"):
        _vpn_args(tunnels=plan.region_tunnels("azure", "northeurope", 1, "169.254.21.0/24",
                                              EDGES, ASN, ONPREM_ASN))
    with pytest.raises(ValidationError, match="unknown device"):
        _vpn_args(devices=EDGES[:1])
    with pytest.raises(ValidationError, match="gateway ASN"):
        _vpn_args(asn=64641)
    base = {"prefix": "p", "subscription_id": SUB, "tenant_id": TENANT, "location": LOC,
            "onprem_cidrs": ONPREM, "flow_log_retention_days": 30, "tags": TAGS, "protect": False}
    with pytest.raises(ValidationError, match="/12 to /22"):
        NetworkArgs(cidr="10.48.0.0/24", **base)
    with pytest.raises(ValidationError):
        NetworkArgs(cidr="10.48.0.1/16", **base)  # host bits set
    with pytest.raises(ValidationError, match="would open the NSGs to the internet"):
        NetworkArgs(cidr=CIDR, **{**base, "onprem_cidrs": ["0.0.0.0/0"]})


def test_every_taggable_resource_tagged(built):
    for r in built["resources"]:
        if "tags" in r["inputs"]:
            assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"]["tags"]), r["name"]


@pytest.fixture(scope="module")
def pack_config() -> dict:
    return json.loads((ROOT / "policies/config.prod.json").read_text())


def test_policy_pack_finds_no_mandatory_violation(built, pack_config):
    res = run_policy_pack(ROOT / "policies", built["resources"], pack_config,
                          analyze_all_resources=True)
    assert [d for d in res.diagnostics if d.enforcement_level == "mandatory"] == []
    assert not [u for u in res.undecided if u.enforcement_level == "mandatory"], res.undecided


def test_policy_pack_rejects_weak_crypto_and_open_nsg(built, pack_config):
    bad = copy.deepcopy(built)
    for r in bad["resources"]:
        if r["type"] == T_CONN:
            r["inputs"]["ipsecPolicies"][0]["dhGroup"] = "DHGroup2"
        if r["type"] == T_NSG:
            r["inputs"]["securityRules"][0]["sourceAddressPrefix"] = "Internet"
    res = run_policy_pack(ROOT / "policies", bad["resources"], pack_config,
                          analyze_all_resources=True)
    failed = {(d.policy_name, d.urn) for d in res.diagnostics if d.enforcement_level == "mandatory"}
    assert {("vpn-strong-crypto", c["urn"]) for c in resources_of(bad, T_CONN)} <= failed
    assert {("no-public-sensitive-ports", n["urn"]) for n in resources_of(bad, T_NSG)} <= failed
