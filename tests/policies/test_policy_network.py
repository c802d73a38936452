"""Network policies: flow logs on every network, no auto-assigned public IPs; through the pack."""

from __future__ import annotations

import pytest
from network import check_gcp_subnet_logs, check_subnet_public_ip
from policy_testkit import (
    AWS_EU,
    AZURE_EU,
    GCP_EU,
    TAGS,
    Case,
    assert_case,
    case,
    case_id,
    findings,
    props,
    rec,
    run_cases,
)

LOG_CONFIG = {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5,
              "metadata": "INCLUDE_ALL_METADATA"}


def test_gcp_subnet_rule() -> None:
    f, _ = findings()
    assert check_gcp_subnet_logs(props({"logConfig": LOG_CONFIG}), f) == []
    assert check_gcp_subnet_logs(props({"ipCidrRange": "10.0.0.0/20"}), f) == [
        "logConfig is not set (VPC flow logs off)"]
    assert check_gcp_subnet_logs(props({"purpose": "REGIONAL_MANAGED_PROXY"}), f) == []


def test_subnet_public_ip_rule() -> None:
    f, _ = findings()
    assert check_subnet_public_ip(props({}), f) == []
    assert check_subnet_public_ip(props({"mapPublicIpOnLaunch": False}), f) == []
    assert len(check_subnet_public_ip(props({"mapPublicIpOnLaunch": True}), f)) == 1


def _vpc(name: str) -> dict:
    return rec("aws:ec2/vpc:Vpc", name, {"cidrBlock": "10.16.0.0/16", "tags": TAGS}, provider=AWS_EU)


def _flow_log(name: str, vpc: dict, traffic: str = "ALL") -> dict:
    return rec("aws:ec2/flowLog:FlowLog", name,
               {"vpcId": "[unknown]", "trafficType": traffic, "tags": TAGS}, provider=AWS_EU,
               dependencies=[vpc["urn"]], property_dependencies={"vpcId": [vpc["urn"]]})


def _vnet(name: str) -> dict:
    return rec("azure-native:network:VirtualNetwork", name,
               {"location": "westeurope", "tags": TAGS}, provider=AZURE_EU)


def _azure_flow_log(name: str, vnet: dict, enabled: bool = True) -> dict:
    return rec("azure-native:network:FlowLog", name,
               {"targetResourceId": "[unknown]", "enabled": enabled, "location": "westeurope",
                "tags": TAGS}, provider=AZURE_EU, dependencies=[vnet["urn"]],
               property_dependencies={"targetResourceId": [vnet["urn"]]})


VPC_OK, VPC_BARE, VPC_REJECT = _vpc("vpc-ok"), _vpc("vpc-bare"), _vpc("vpc-reject")
VNET_OK, VNET_BARE, VNET_OFF = _vnet("vnet-ok"), _vnet("vnet-bare"), _vnet("vnet-off")

CASES: list[Case] = [
    case("network-flow-logs", "aws-all", "pass", [VPC_OK, _flow_log("fl-ok", VPC_OK)]),
    case("network-flow-logs", "aws-none", "fail", [VPC_BARE], message="has no aws:ec2 FlowLog"),
    case("network-flow-logs", "aws-reject-only", "fail",
         [VPC_REJECT, _flow_log("fl-reject", VPC_REJECT, "REJECT")], message="not ALL"),
    case("network-flow-logs", "azure-vnet-flow-log", "pass",
         [VNET_OK, _azure_flow_log("vfl-ok", VNET_OK)]),
    case("network-flow-logs", "azure-none", "fail", [VNET_BARE], message="VNet flow logs"),
    case("network-flow-logs", "azure-disabled", "fail",
         [VNET_OFF, _azure_flow_log("vfl-off", VNET_OFF, enabled=False)], message="disabled"),
    case("network-flow-logs", "gcp-logged", "pass",
         [rec("gcp:compute/subnetwork:Subnetwork", "sn-ok",
              {"region": "europe-west4", "logConfig": LOG_CONFIG}, provider=GCP_EU)]),
    case("network-flow-logs", "gcp-unlogged", "fail",
         [rec("gcp:compute/subnetwork:Subnetwork", "sn-bare", {"region": "europe-west4"},
              provider=GCP_EU)], message="logConfig is not set"),
    case("subnet-no-auto-public-ip", "private", "pass",
         [rec("aws:ec2/subnet:Subnet", "sub-ok", {"mapPublicIpOnLaunch": False, "tags": TAGS},
              provider=AWS_EU)]),
    case("subnet-no-auto-public-ip", "public", "fail",
         [rec("aws:ec2/subnet:Subnet", "sub-pub", {"mapPublicIpOnLaunch": True, "tags": TAGS},
              provider=AWS_EU)], message="mapPublicIpOnLaunch is true"),
]


@pytest.fixture(scope="module")
def result():
    return run_cases(CASES)


@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_policy_through_the_pack(c: Case, result) -> None:
    assert_case(c, result)
