"""The pure builders of the AWS network: subnet tags, NAT count and flow-log policies."""

from __future__ import annotations

import json

import pytest

from components.aws import network

ACCOUNT, REGION = "444455556666", "eu-west-1"
TAGS = {"owner": "ml-platform"}


def test_public_subnet_tags_mark_internet_facing_load_balancers():
    assert network.subnet_tags(TAGS, "hml-prod-eu-west-1", "public", "a") == {
        "owner": "ml-platform", "Name": "hml-prod-eu-west-1-public-a", "tier": "public",
        "kubernetes.io/role/elb": "1"}


def test_private_subnet_tags_mark_internal_load_balancers():
    tags = network.subnet_tags(TAGS, "base", "private", "b")
    assert tags["kubernetes.io/role/internal-elb"] == "1"
    assert "kubernetes.io/role/elb" not in tags
    assert tags["Name"] == "base-private-b"


@pytest.mark.parametrize(("mode", "zones", "count"),
                         [("none", 3, 0), ("single", 3, 1), ("perZone", 2, 2), ("perZone", 3, 3)])
def test_nat_gateway_count(mode, zones, count):
    assert network.nat_gateway_count(mode, zones) == count


def test_flow_log_delivery_trust_is_limited_to_this_account_and_region():
    [statement] = json.loads(network.flow_logs_delivery_trust(ACCOUNT, REGION))["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*")


def test_flow_log_delivery_policy_writes_to_the_one_group():
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/p/r/vpc-flow-logs"
    write, find = json.loads(network.flow_logs_delivery_policy(ACCOUNT, REGION, arn))["Statement"]
    assert write["Resource"] == [arn, f"{arn}:log-stream:*"]
    assert "logs:CreateLogGroup" not in write["Action"]
    assert find["Action"] == "logs:DescribeLogGroups"


def test_flow_logs_key_policy_names_the_flow_log_group():
    arn = "arn:aws:logs:eu-west-1:1:log-group:/x"
    sids = [s["Sid"] for s in json.loads(
        network.flow_logs_key_policy(ACCOUNT, REGION, arn))["Statement"]]
    assert sids == ["AccountAdministers", "CloudWatchLogsEncryptsFlowLogs"]
