"""Network room for the managed databases: GCP Private Service Access, the Azure PostgreSQL subnet.

Both are carved from networks the config already names, so they must never overlap anything
configured (on-prem, other clouds, the tunnel pool, AKS overlay ranges), in either stack file,
and the stack must build them.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Network

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import network_plan as plan
from components.gcp.network import Network, NetworkArgs
from components.tags import StandardTags
from stacks.config.platform import PlatformConfig
from stacks.program.validate import parse_platform
from tests.conftest import component_plan, resources_of, stack_platform

STACKS = ("dev", "prod")
T_RANGE = "gcp:compute/globalAddress:GlobalAddress"
T_PSA = "gcp:servicenetworking/connection:Connection"
T_API = "gcp:projects/service:Service"
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _configured(cfg: PlatformConfig) -> list[tuple[str, IPv4Network]]:
    """Every range the stack config reserves, with the key that names it."""
    net = cfg.network
    assert net is not None
    out = [(f"network.onprem.cidrs[{i}]", c) for i, c in enumerate(net.onprem.cidrs if net.onprem else [])]
    for cloud in ("aws", "gcp", "azure"):
        out += [(f"network.{cloud}.{r}.cidr", e.cidr) for r, e in getattr(net, cloud).items()]
    out.append(("network.tunnelInsidePool", net.tunnel_inside_pool))
    if cfg.kubernetes is not None:
        for region, aks in cfg.kubernetes.azure.items():
            out += [(f"kubernetes.azure.{region}.podCidr", aks.pod_cidr),
                    (f"kubernetes.azure.{region}.serviceCidr", aks.service_cidr)]
    return out


def _planned(cfg: PlatformConfig) -> list[tuple[str, str, IPv4Network, dict[str, str]]]:
    """(owner key, role, block, the rest of that network's layout) for every new block."""
    net = cfg.network
    assert net is not None
    out = []
    for region, entry in net.gcp.items():
        cidr = str(entry.cidr)
        out.append((f"network.gcp.{region}.cidr", "private services",
                    ipaddress.ip_network(plan.gcp_private_services_range(cidr)),
                    plan.gcp_layout(cidr)))
    for location, entry in net.azure.items():
        layout = plan.azure_layout(str(entry.cidr))
        block = ipaddress.ip_network(layout.pop("postgres"))
        out.append((f"network.azure.{location}.cidr", "postgres subnet", block, layout))
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_new_blocks_overlap_nothing_configured(stack):
    cfg = parse_platform(stack_platform(stack))
    configured = _configured(cfg)
    planned = _planned(cfg)
    owners = {key for key, *_ in planned}
    # Every cloud network of the stack that can hold a database gets its block.
    assert len(planned) == len(cfg.network.gcp) + len(cfg.network.azure)
    for owner, role, block, siblings in planned:
        for key, cidr in configured:
            if key == owner:
                assert block.subnet_of(cidr), (role, block, key, cidr)
            else:
                assert not block.overlaps(cidr), f"{role} {block} overlaps {key} ({cidr})"
        for name, sibling in siblings.items():
            assert not block.overlaps(ipaddress.ip_network(sibling)), (role, block, name, sibling)
    if stack == "prod":  # prod has GCP and Azure; dev has neither (AWS only)
        assert owners == {"network.gcp.europe-west4.cidr", "network.azure.westeurope.cidr"}


@given(st.integers(0, 255), st.integers(12, 20))
def test_private_services_range_fits_any_gcp_region(octet, prefix):
    cidr = str(ipaddress.ip_network(f"10.{octet}.0.0/{prefix}", strict=False))
    block = ipaddress.ip_network(plan.gcp_private_services_range(cidr))
    assert block.subnet_of(ipaddress.ip_network(cidr))
    assert block.prefixlen <= 24  # Service Networking wants at least a /24
    assert not any(block.overlaps(ipaddress.ip_network(r)) for r in plan.gcp_layout(cidr).values())


@given(st.integers(0, 255), st.integers(12, 22))
def test_postgres_subnet_moves_no_existing_subnet(octet, prefix):
    cidr = str(ipaddress.ip_network(f"10.{octet}.0.0/{prefix}", strict=False))
    layout = plan.azure_layout(cidr)
    net = ipaddress.ip_network(cidr)
    # The layout before the PostgreSQL subnet existed, spelt out: nothing else may move.
    lower, upper = net.subnets(prefixlen_diff=1)
    assert layout["nodes"] == str(lower)
    assert layout["endpoints"] == str(next(upper.subnets(new_prefix=prefix + 4)))
    end = net.broadcast_address + 1
    assert layout["gateway"] == str(ipaddress.ip_network((end - 32, 27)))  # the last /27
    assert layout["apiserver"] == str(ipaddress.ip_network((end - 48, 28)))  # the /28 below it
    pg = ipaddress.ip_network(layout["postgres"])
    assert pg.subnet_of(net) and pg.prefixlen == prefix + 4
    assert not any(pg.overlaps(ipaddress.ip_network(v)) for k, v in layout.items() if k != "postgres")


def test_prod_stack_builds_private_services_access_and_the_postgres_subnet(prod_plan):
    cfg = parse_platform(stack_platform("prod"))
    ranges = resources_of(prod_plan, T_RANGE)
    assert len(ranges) == len(cfg.network.gcp)
    for r in ranges:
        i = r["inputs"]
        region = i["name"].removeprefix(f"{cfg.prefix}-psa-")
        block = ipaddress.ip_network(plan.gcp_private_services_range(str(cfg.network.gcp[region].cidr)))
        assert (i["address"], i["prefixLength"]) == (str(block.network_address), block.prefixlen)
        assert (i["purpose"], i["addressType"]) == ("VPC_PEERING", "INTERNAL")
    [psa] = resources_of(prod_plan, T_PSA)
    assert psa["inputs"]["service"] == "servicenetworking.googleapis.com"
    # Prod protects the peering and its ranges (stacks/network.py passes cfg.protect).
    assert psa["protect"] is True and all(r["protect"] for r in ranges)
    assert {r["urn"] for r in ranges} == set(psa["propertyDependencies"]["reservedPeeringRanges"])
    [vpc] = resources_of(prod_plan, "gcp:compute/network:Network")
    assert vpc["urn"] in psa["propertyDependencies"]["network"]

    [vnet] = resources_of(prod_plan, "azure-native:network:VirtualNetwork")
    subnets = {s["name"]: s for s in vnet["inputs"]["subnets"]}
    pg = subnets["postgres-flexible"]
    assert pg["addressPrefix"] == plan.azure_layout(str(cfg.network.azure["westeurope"].cidr))["postgres"]
    assert pg["delegations"] == [{"name": "postgres-flexible",
                                  "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}]
    assert "networkSecurityGroup" in pg
    vnet_range = ipaddress.ip_network(vnet["inputs"]["addressSpace"]["addressPrefixes"][0])
    block = ipaddress.ip_network(pg["addressPrefix"])
    assert block.subnet_of(vnet_range)
    assert not any(block.overlaps(ipaddress.ip_network(s["addressPrefix"]))
                   for name, s in subnets.items() if name != "postgres-flexible")


def test_network_exposes_the_connection_for_cloud_sql_to_wait_on():
    seen = {}

    def program():
        provider = gcp.Provider("gcp-europe-west4", project="p", region="europe-west4")
        net = Network("network-gcp", NetworkArgs(
            prefix="hml-prod", project="p", regions={"europe-west4": "10.32.0.0/16",
                                                     "europe-west1": "10.33.0.0/20"},
            onprem_cidrs=["10.0.0.0/14"], tags=TAGS),
            pulumi.ResourceOptions(providers=[provider, random.Provider("random")]))
        seen["connection"] = net.private_services_connection
        seen["ranges"] = net.private_services_ranges

    plan_ = component_plan(program)
    assert isinstance(seen["connection"], gcp.servicenetworking.Connection)
    assert seen["ranges"] == {"europe-west4": "10.32.224.0/19", "europe-west1": "10.33.14.0/23"}
    [psa] = resources_of(plan_, T_PSA)
    assert psa["inputs"]["deletionPolicy"] == "REMOVE_PEERING"
    names = {r["inputs"]["name"] for r in resources_of(plan_, T_RANGE)}
    assert names == {"hml-prod-psa-europe-west4", "hml-prod-psa-europe-west1"}


def _two_region_network(**kw) -> tuple[dict, dict]:
    seen = {}

    def program():
        provider = gcp.Provider("gcp-europe-west4", project="p", region="europe-west4")
        net = Network("network-gcp", NetworkArgs(
            prefix="hml-prod", project="p", regions={"europe-west4": "10.32.0.0/16",
                                                     "europe-west1": "10.33.0.0/20"},
            onprem_cidrs=["10.0.0.0/14"], tags=TAGS, **kw),
            pulumi.ResourceOptions(providers=[provider, random.Provider("random")]))
        seen["net"] = net
        pulumi.export("rangeNames", net.private_services_range_names)

    return component_plan(program), seen


def test_cloud_sql_and_service_networking_apis_are_enabled_once_per_project_before_use():
    plan_, seen = _two_region_network()
    apis = {r["inputs"]["service"]: r for r in resources_of(plan_, T_API)}
    # One per project however many regions; left enabled on destroy (others may use them).
    assert sorted(apis) == ["servicenetworking.googleapis.com", "sqladmin.googleapis.com"]
    assert all((a["inputs"]["project"], a["inputs"]["disableOnDestroy"]) == ("p", False)
               for a in apis.values())
    [psa] = resources_of(plan_, T_PSA)
    assert apis["servicenetworking.googleapis.com"]["urn"] in psa["dependencies"]
    # ...and exposed, so a Cloud SQL instance can wait for its API as well.
    assert len(seen["net"].api_services) == 2
    assert all(isinstance(a, gcp.projects.Service) for a in seen["net"].api_services)
    # Each region's range by name, for Cloud SQL's allocatedIpRange.
    assert plan_["outputs"]["rangeNames"] == {"europe-west4": "hml-prod-psa-europe-west4",
                                              "europe-west1": "hml-prod-psa-europe-west1"}


def test_private_services_access_is_protected_only_when_asked():
    plan_, _ = _two_region_network(protect=True)
    assert resources_of(plan_, T_PSA)[0]["protect"] is True
    assert [r["protect"] for r in resources_of(plan_, T_RANGE)] == [True, True]
    loose, _ = _two_region_network()
    assert not any(r["protect"] for r in loose["resources"])
