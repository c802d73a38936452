"""Pure builders of the Azure network and VPN: subnets, BGP settings, tunnel pairing."""

from __future__ import annotations

from components import network_plan as plan
from components.azure.network import POSTGRES_DELEGATION, subnet_specs
from components.azure.vpn import bgp_settings, device_tunnels, ipconfig_name

EDGES = [plan.OnPremDevice("edge1", "198.51.100.10"), plan.OnPremDevice("edge2", "198.51.100.11")]
TUNNELS = plan.region_tunnels("azure", "westeurope", 0, "169.254.21.0/24", EDGES, 64640, 65010)


def test_subnets_follow_the_layout_with_azure_names_nsgs_and_delegations():
    layout = plan.azure_layout("10.48.0.0/16")
    nsg_ids = {"nodes": "nsg-n", "endpoints": "nsg-e", "apiserver": "nsg-a", "postgres": "nsg-p"}
    subnets = {s["name"]: s for s in subnet_specs(layout, nsg_ids)}
    assert {name: s["address_prefix"] for name, s in subnets.items()} == {
        "aks-nodes": layout["nodes"], "private-endpoints": layout["endpoints"],
        "aks-apiserver": layout["apiserver"], "GatewaySubnet": layout["gateway"],
        "postgres-flexible": layout["postgres"]}
    # Azure refuses an NSG on GatewaySubnet; every other subnet has its own.
    assert "network_security_group" not in subnets["GatewaySubnet"]
    assert subnets["aks-nodes"]["network_security_group"] == {"id": "nsg-n"}
    assert subnets["private-endpoints"]["private_endpoint_network_policies"] == "Enabled"
    assert subnets["aks-apiserver"]["delegations"] == [{
        "name": "aks-apiserver", "service_name": "Microsoft.ContainerService/managedClusters"}]
    assert subnets["postgres-flexible"]["delegations"] == [{
        "name": "postgres-flexible", "service_name": POSTGRES_DELEGATION}]
    assert "delegations" not in subnets["aks-nodes"]


def test_subnet_without_an_nsg_id_gets_none():
    subnets = subnet_specs({"nodes": "10.0.0.0/24"}, {})
    assert subnets == [{"name": "aks-nodes", "address_prefix": "10.0.0.0/24"}]


def test_each_gateway_instance_peers_from_its_own_tunnels_addresses():
    settings = bgp_settings(64640, TUNNELS, ["id-0", "id-1"])
    assert settings["asn"] == 64640
    assert settings["bgp_peering_addresses"] == [
        {"ipconfiguration_id": "id-0",
         "custom_bgp_ip_addresses": ["169.254.21.129", "169.254.21.137"]},
        {"ipconfiguration_id": "id-1",
         "custom_bgp_ip_addresses": ["169.254.21.133", "169.254.21.141"]},
    ]


def test_device_tunnels_are_the_devices_own_in_instance_order():
    pair = device_tunnels(EDGES[1], list(reversed(TUNNELS)))
    assert [(t.device.name, t.cloud_interface) for t in pair] == [("edge2", 0), ("edge2", 1)]
    assert [ipconfig_name(t.cloud_interface) for t in pair] == ["gw-ipconfig-0", "gw-ipconfig-1"]
