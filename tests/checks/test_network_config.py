"""The address and ASN plan: checked before anything is built, each error naming both keys."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import network_plan as plan
from stacks.plan.tunnels import planned_tunnels
from stacks.program.validate import parse_platform
from tests.config.test_config_validation import problems_of
from tests.conftest import ROOT, stack_platform, write_stack

NET = "hybrid-ml-platform:platform.network"


def test_overlapping_cloud_and_onprem_ranges_name_both_keys():
    p = stack_platform("prod")
    p["network"]["gcp"]["europe-west4"]["cidr"] = "10.2.0.0/16"  # inside on-prem 10.0.0.0/14
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.onprem.cidrs[0]: bad value '10.0.0.0/14'")
    assert f"overlaps {NET}.gcp.europe-west4.cidr (10.2.0.0/16)" in line


def test_overlap_between_two_clouds():
    p = stack_platform("prod")
    p["network"]["azure"]["westeurope"]["cidr"] = "10.17.128.0/20"
    [line] = problems_of(p)
    assert f"{NET}.aws.eu-central-1.cidr" in line and f"{NET}.azure.westeurope.cidr" in line


@pytest.mark.parametrize("cidr", ["8.8.0.0/16", "100.64.0.0/16", "169.254.0.0/16"])
def test_public_or_non_rfc1918_ranges_are_rejected(cidr):
    p = stack_platform("dev")
    p["network"]["aws"]["eu-west-1"]["cidr"] = cidr
    lines = problems_of(p)
    assert any(line.startswith(f"{NET}.aws.eu-west-1.cidr: bad value '{cidr}'")
               and "must be private" in line for line in lines)


def test_explicitly_allowed_range_passes():
    p = stack_platform("dev")
    p["network"]["aws"]["eu-west-1"]["cidr"] = "100.64.0.0/18"
    p["network"]["extraPrivateRanges"] = ["100.64.0.0/10"]
    parse_platform(p)


def test_network_too_small_for_its_subnets():
    p = stack_platform("prod")
    p["network"]["aws"]["eu-west-1"]["cidr"] = "10.16.0.0/24"
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.aws.eu-west-1.cidr: bad value '10.16.0.0/24'")
    assert "allowed sizes /16 to /20" in line


def test_host_bits_and_non_text_cidrs_are_rejected():
    p = stack_platform("dev")
    p["network"]["aws"]["eu-west-1"]["cidr"] = "10.64.0.1/18"
    p["network"]["onprem"]["cidrs"] = [167772160]
    lines = problems_of(p)
    assert any(line.startswith(f"{NET}.aws.eu-west-1.cidr: bad value '10.64.0.1/18'") for line in lines)
    assert any(line.startswith(f"{NET}.onprem.cidrs[0]: bad value 167772160") and "as text" in line
               for line in lines)


def test_asn_clash_names_both_keys():
    p = stack_platform("prod")
    p["network"]["azure"]["westeurope"]["asn"] = 65010  # the on-prem ASN
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.azure.westeurope.asn: bad value 65010")
    assert f"clashes with {NET}.onprem.asn" in line


@pytest.mark.parametrize("asn", [64511, 65535, 3356, 4294967295])
def test_public_or_reserved_asns_are_rejected(asn):
    p = stack_platform("dev")
    p["network"]["aws"]["eu-west-1"]["asn"] = asn
    lines = problems_of(p)
    assert any(line.startswith(f"{NET}.aws.eu-west-1.asn: bad value {asn}") and "private ASN" in line
               for line in lines)


def test_onprem_asn_reserved_by_azure():
    p = stack_platform("prod")
    p["network"]["onprem"]["asn"] = 65515
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.onprem.asn: bad value 65515") and "reserved by Azure" in line


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.1.1", "100.64.0.1", "127.0.0.1", "169.254.1.1"])
def test_vpn_peer_must_be_public(ip):
    p = stack_platform("dev")
    p["network"]["onprem"]["vpnDevices"][0]["publicIp"] = ip
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.onprem.vpnDevices[0].publicIp: bad value '{ip}'")


def test_enabled_region_without_network_and_network_for_unused_region():
    p = stack_platform("prod")
    del p["network"]["aws"]["eu-central-1"]
    p["network"]["gcp"]["europe-west1"] = {"cidr": "10.40.0.0/16", "asn": 64650}
    lines = problems_of(p)
    assert any(line.startswith(f"{NET}.aws.eu-central-1: missing") for line in lines)
    assert any(line.startswith(f"{NET}.gcp.europe-west1: bad value '10.40.0.0/16'")
               and "not an enabled region" in line for line in lines)


def test_azure_needs_an_apipa_pool():
    p = stack_platform("prod")
    p["network"]["tunnelInsidePool"] = "169.254.30.0/24"
    [line] = problems_of(p)
    assert line.startswith(f"{NET}.tunnelInsidePool: bad value '169.254.30.0/24'")
    assert "169.254.21.0/24" in line


def test_bad_network_fails_preview_with_exit_2_and_nothing_written(tmp_path):
    p = stack_platform("prod")
    p["network"]["aws"]["eu-west-1"]["cidr"] = "10.1.0.0/16"
    project = write_stack(tmp_path, "prod", p)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "prod", "-C", str(project), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{NET}.onprem.cidrs[0]: bad value '10.0.0.0/14'; overlaps {NET}.aws.eu-west-1.cidr" in proc.stderr
    assert not out.exists()


# --- Layouts and the tunnel plan --------------------------------------------------------------------


def _disjoint_inside(cidr: str, parts: list[str]) -> None:
    net = ipaddress.ip_network(cidr)
    nets = [ipaddress.ip_network(x) for x in parts]
    assert all(n.subnet_of(net) for n in nets), (cidr, parts)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b), (a, b)


@given(st.integers(0, 255), st.integers(16, 20), st.integers(2, 3))
def test_aws_layout_fits_and_never_overlaps(octet, prefix, zones):
    cidr = str(ipaddress.ip_network(f"10.{octet}.0.0/{prefix}", strict=False))
    layout = plan.aws_layout(cidr, zones)
    assert len(layout["private"]) == len(layout["public"]) == zones
    assert all(ipaddress.ip_network(s).prefixlen <= 22 for s in layout["private"])  # EKS room
    _disjoint_inside(cidr, layout["private"] + layout["public"])


@given(st.integers(0, 255), st.integers(12, 20))
def test_gcp_layout_fits_and_never_overlaps(octet, prefix):
    cidr = str(ipaddress.ip_network(f"10.{octet}.0.0/{prefix}", strict=False))
    _disjoint_inside(cidr, list(plan.gcp_layout(cidr).values()))


@given(st.integers(0, 255), st.integers(12, 22))
def test_azure_layout_fits_and_never_overlaps(octet, prefix):
    cidr = str(ipaddress.ip_network(f"10.{octet}.0.0/{prefix}", strict=False))
    layout = plan.azure_layout(cidr)
    assert ipaddress.ip_network(layout["gateway"]).prefixlen == 27
    _disjoint_inside(cidr, list(layout.values()))


def test_prod_tunnels_are_unique_redundant_and_in_the_pool():
    cfg = parse_platform(stack_platform("prod"))
    tunnels = planned_tunnels(cfg)
    # AWS: 2 regions x 2 devices x 2 tunnels; GCP: 2 (99.99% HA VPN); Azure: 2 devices x 2 instances.
    assert [sum(t.cloud == c for t in tunnels) for c in ("aws", "gcp", "azure")] == [8, 2, 4]
    assert len({t.name for t in tunnels}) == len(tunnels)
    insides = [ipaddress.ip_network(t.inside_cidr) for t in tunnels]
    _disjoint_inside("169.254.21.0/24", [str(n) for n in insides])
    for t in tunnels:
        assert ipaddress.ip_address(t.cloud_inside_ip) in ipaddress.ip_network(t.inside_cidr)
        assert not any(ipaddress.ip_network(t.inside_cidr).overlaps(r) for r in plan.AWS_RESERVED_INSIDE)
    gcp = [t for t in tunnels if t.cloud == "gcp"]
    assert {t.cloud_interface for t in gcp} == {0, 1}
    assert {t.device.name for t in gcp} == {"edge1", "edge2"}
    azure = [t for t in tunnels if t.cloud == "azure"]
    assert {(t.device.name, t.cloud_interface) for t in azure} == {
        ("edge1", 0), ("edge1", 1), ("edge2", 0), ("edge2", 1)}


def test_adding_a_region_does_not_renumber_existing_tunnels():
    before = {t.name: t.inside_cidr for t in planned_tunnels(parse_platform(stack_platform("prod")))}
    p = stack_platform("prod")
    p["sites"]["aws"]["regions"].append("eu-west-2")
    p["residency"]["allowedRegions"].append("eu-west-2")
    p["network"]["aws"]["eu-west-2"] = {"cidr": "10.18.0.0/16", "asn": 64622}
    after = {t.name: t.inside_cidr for t in planned_tunnels(parse_platform(p))}
    assert len(after) == len(before) + 4
    assert all(after[name] == cidr for name, cidr in before.items())


def test_no_tunnels_without_onprem():
    p = stack_platform("prod")
    p["sites"]["onprem"]["enabled"] = False
    del p["kubernetes"]["onprem"]
    del p["services"]  # they run on the on-prem cluster too
    assert planned_tunnels(parse_platform(p)) == []


def test_ranges_that_would_break_the_components_are_config_errors():
    p = stack_platform("prod")
    p["network"]["extraPrivateRanges"] = ["169.254.0.0/16", "0.0.0.0/0"]
    p["network"]["onprem"]["cidrs"] = ["169.254.21.0/24"]
    lines = problems_of(p)
    assert any(line.startswith(f"{NET}.extraPrivateRanges[0]: bad value '169.254.0.0/16'") for line in lines)
    assert any(line.startswith(f"{NET}.extraPrivateRanges[1]: bad value '0.0.0.0/0'") for line in lines)
    assert any(line.startswith(f"{NET}.onprem.cidrs[0]: bad value '169.254.21.0/24'")
               and "tunnelInsidePool" in line for line in lines)
