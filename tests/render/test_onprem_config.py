"""The rendered on-prem device config agrees with the cloud side the program builds.

Every check reads the cloud side from the captured resource inputs (what the
engine would send to AWS, GCP and Azure) and the device side from the rendered
files, and translates cipher names with a table of its own, so a drift on
either side fails here.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys

import pytest

from stacks.render.onprem import PENDING, render_onprem
from tests.conftest import ROOT, resources_of

# Cloud cipher names -> strongSwan proposal keywords (strongSwan's IKEv2 cipher suite docs).
STRONGSWAN = {
    "AES256-GCM-16": "aes256gcm16", "AES-GCM-16-256": "aes256gcm16", "GCMAES256": "aes256gcm16",
    "SHA2-384": "prfsha384", "PRF-HMAC-SHA2-384": "prfsha384", "SHA384": "prfsha384",
    20: "ecp384", "Group-20": "ecp384", "ECP384": "ecp384",
}


@pytest.fixture(scope="module")
def devices(prod_plan) -> dict[str, dict[str, str]]:
    """Per device public IP: its four rendered files."""
    files = render_onprem(prod_plan["outputs"]["onpremVpn"], "prod")
    out: dict[str, dict[str, str]] = {}
    for rel, text in files.items():
        if "/" in rel:
            device, name = rel.split("/")
            out.setdefault(device, {})[name] = text
    by_ip = {}
    for dev in out.values():
        [ip] = set(re.findall(r"local_addrs = (\S+)", dev["swanctl.conf"]))
        by_ip[ip] = dev
    return by_ip


def _bgp(dev: dict[str, str]) -> tuple[int, dict[str, int], set[str]]:
    frr = dev["frr.conf"]
    asn = int(re.search(r"^router bgp (\d+)$", frr, re.MULTILINE).group(1))
    neighbours = {ip: int(a) for ip, a in re.findall(r"^ neighbor (\S+) remote-as (\d+)$", frr, re.MULTILINE)}
    local = set(re.findall(r"^ip addr replace (\S+)/\d+ dev", dev["xfrm-interfaces.sh"], re.MULTILINE))
    return asn, neighbours, local


def _proposals(dev: dict[str, str]) -> tuple[set[str], set[str]]:
    conf = dev["swanctl.conf"]
    return set(re.findall(r"^\s+proposals = (\S+)$", conf, re.MULTILINE)), set(
        re.findall(r"^\s+esp_proposals = (\S+)$", conf, re.MULTILINE))


def test_preview_writes_a_config_per_device(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "prod", "--no-policy", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for device in ("edge1", "edge2"):
        for name in ("swanctl.conf", "frr.conf", "xfrm-interfaces.sh", "install-secrets.sh"):
            assert (tmp_path / "onprem" / device / name).is_file()
    readme = (tmp_path / "onprem" / "README.md").read_text()
    assert "14 tunnels across 2 device(s)" in readme and "onprem-config prod" in readme


def test_aws_tunnels_match(prod_plan, devices):
    vgw_asn = {r["provider"]: int(r["inputs"]["amazonSideAsn"])
               for r in resources_of(prod_plan, "aws:ec2/vpnGateway:VpnGateway")}
    cgws = {r["urn"]: r for r in resources_of(prod_plan, "aws:ec2/customerGateway:CustomerGateway")}
    connections = resources_of(prod_plan, "aws:ec2/vpnConnection:VpnConnection")
    assert len(connections) == 4
    for conn in connections:
        [cgw_urn] = conn["propertyDependencies"]["customerGatewayId"]
        cgw = cgws[cgw_urn]["inputs"]
        dev = devices[cgw["ipAddress"]]
        asn, neighbours, local = _bgp(dev)
        assert int(cgw["bgpAsn"]) == asn
        for n in (1, 2):
            inside = ipaddress.ip_network(conn["inputs"][f"tunnel{n}InsideCidr"])
            aws_ip, onprem_ip = (str(h) for h in inside.hosts())
            assert neighbours[aws_ip] == vgw_asn[conn["provider"]]
            assert onprem_ip in local
            ike = "-".join(STRONGSWAN[conn["inputs"][f"tunnel{n}Phase1{k}"][0]]
                           for k in ("EncryptionAlgorithms", "IntegrityAlgorithms", "DhGroupNumbers"))
            esp = "-".join(STRONGSWAN[conn["inputs"][f"tunnel{n}Phase2{k}"][0]]
                           for k in ("EncryptionAlgorithms", "DhGroupNumbers"))
            assert _proposals(dev) == ({ike}, {esp})


def test_gcp_tunnels_match(prod_plan, devices):
    [peer_gw] = resources_of(prod_plan, "gcp:compute/externalVpnGateway:ExternalVpnGateway")
    assert {i["ipAddress"] for i in peer_gw["inputs"]["interfaces"]} == set(devices)
    routers = {r["inputs"]["name"]: r["inputs"] for r in resources_of(prod_plan, "gcp:compute/router:Router")}
    peers = resources_of(prod_plan, "gcp:compute/routerPeer:RouterPeer")
    assert len(peers) == 2
    matched = set()
    for peer in peers:
        p = peer["inputs"]
        cloud_asn = routers[p["router"]]["bgp"]["asn"]
        for ip, dev in devices.items():
            asn, neighbours, local = _bgp(dev)
            if p["peerIpAddress"] in local:
                assert neighbours[p["ipAddress"]] == cloud_asn and p["peerAsn"] == asn
                matched.add(ip)
    assert matched == set(devices)  # one HA VPN interface per device
    for tunnel in resources_of(prod_plan, "gcp:compute/vPNTunnel:VPNTunnel"):
        suite = tunnel["inputs"]["cipherSuite"]
        ike = "-".join(STRONGSWAN[suite["phase1"][k][0]] for k in ("encryptions", "prves", "dhs"))
        esp = "-".join(STRONGSWAN[suite["phase2"][k][0]] for k in ("encryptions", "pfs"))
        assert tunnel["inputs"]["ikeVersion"] == 2
        for dev in devices.values():
            assert _proposals(dev) == ({ike}, {esp})


def test_azure_tunnels_match(prod_plan, devices):
    [gateway] = resources_of(prod_plan, "azure-native:network:VirtualNetworkGateway")
    g = gateway["inputs"]
    assert g["activeActive"] is True and g["sku"]["name"].endswith("AZ")
    cloud_ips = {ip for a in g["bgpSettings"]["bgpPeeringAddresses"] for ip in a["customBgpIpAddresses"]}
    lngs = resources_of(prod_plan, "azure-native:network:LocalNetworkGateway")
    assert {lng["inputs"]["gatewayIpAddress"] for lng in lngs} == set(devices)
    for lng in lngs:
        dev = devices[lng["inputs"]["gatewayIpAddress"]]
        asn, neighbours, local = _bgp(dev)
        assert lng["inputs"]["bgpSettings"]["asn"] == asn
        assert lng["inputs"]["bgpSettings"]["bgpPeeringAddress"] in local
        azure_peers = {ip for ip, a in neighbours.items() if a == g["bgpSettings"]["asn"]}
        assert len(azure_peers) == 2 and azure_peers <= cloud_ips  # both gateway instances
    for conn in resources_of(prod_plan, "azure-native:network:VirtualNetworkGatewayConnection"):
        [pol] = conn["inputs"]["ipsecPolicies"]
        ike = "-".join(STRONGSWAN[pol[k]] for k in ("ikeEncryption", "ikeIntegrity", "dhGroup"))
        esp = "-".join(STRONGSWAN[pol[k]] for k in ("ipsecEncryption", "pfsGroup"))
        for dev in devices.values():
            assert _proposals(dev) == ({ike}, {esp})


def test_no_key_material_in_device_config(devices):
    for dev in devices.values():
        assert "secret =" not in dev["swanctl.conf"]  # only the include
        assert "include secrets.d/*.conf" in dev["swanctl.conf"]
        assert "--show-secrets" in dev["install-secrets.sh"]  # fetched at install time


def test_onprem_config_renders_known_addresses_after_up(prod_plan, tmp_path):
    # What `pulumi stack output --json` gives after `pulumi up`: every address known.
    doc = json.loads(json.dumps(prod_plan["outputs"]["onpremVpn"]))
    for i, t in enumerate(doc["tunnels"]):
        t["cloudAddress"] = f"203.0.113.{i + 1}"
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"onpremVpn": doc, "vpnPreSharedKeys": "[secret]"}))
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "onprem-config", "prod", "--outputs", str(outputs),
         "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    swan = (tmp_path / "onprem" / "edge1" / "swanctl.conf").read_text()
    assert PENDING not in swan and "remote_addrs = 203.0.113.1\n" in swan
    assert "ready to install" in (tmp_path / "onprem" / "README.md").read_text()


def test_onprem_config_without_vpn_output_is_a_usage_error(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"artifactStores": {}}))
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "onprem-config", "prod", "--outputs", str(outputs),
         "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no 'onpremVpn' output" in proc.stderr


def _if_ids(files: dict[str, str]) -> dict[str, str]:
    text = "".join(body for rel, body in files.items() if rel.endswith("swanctl.conf"))
    return dict(re.findall(r"^    (\S+) \{\n(?:.*\n)*?        if_id_in = (\d+)$", text, re.MULTILINE))


def test_adding_a_region_keeps_every_tunnel_on_its_interface(prod_plan):
    full = prod_plan["outputs"]["onpremVpn"]
    before = {**full, "tunnels": [t for t in full["tunnels"] if t["region"] != "eu-central-1"]}
    ids_before, ids_after = _if_ids(render_onprem(before, "prod")), _if_ids(render_onprem(full, "prod"))
    assert len(ids_before) == 10 and len(ids_after) == 14
    assert all(ids_after[name] == n for name, n in ids_before.items())
    assert len(set(ids_after.values())) == 14


def test_onprem_ranges_are_anchored_so_frr_announces_them(devices):
    for dev in devices.values():
        assert "ip route 10.0.0.0/14 blackhole" in dev["frr.conf"]
        assert "  network 10.0.0.0/14" in dev["frr.conf"]
