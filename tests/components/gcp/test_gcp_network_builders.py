"""The pure builders of the GCP network."""

from __future__ import annotations

from components import network_plan
from components.gcp import network


def test_subnet_ranges_follow_the_layout_with_named_secondary_ranges():
    layout = network_plan.gcp_layout("10.20.0.0/16")
    ranges = network.subnet_ranges("10.20.0.0/16")
    assert ranges["ip_cidr_range"] == layout["nodes"]
    assert ranges["secondary_ip_ranges"] == [
        {"range_name": "pods", "ip_cidr_range": layout["pods"]},
        {"range_name": "services", "ip_cidr_range": layout["services"]}]


def test_firewall_rules_internal_only_without_onprem():
    rules = network.firewall_rule_sets({"b": "10.21.0.0/16", "a": "10.20.0.0/16"}, [])
    assert rules == [("internal", ["10.20.0.0/16", "10.21.0.0/16"], None)]


def test_firewall_rules_log_traffic_from_onprem():
    rules = network.firewall_rule_sets({"a": "10.20.0.0/16"}, ["192.168.0.0/16"])
    assert rules[1] == ("onprem", ["192.168.0.0/16"], {"metadata": "INCLUDE_ALL_METADATA"})


def test_private_services_ranges_are_carved_per_region():
    regions = {"europe-west4": "10.20.0.0/16", "europe-west1": "10.21.0.0/16"}
    ranges = network.private_services_ranges(regions)
    assert list(ranges) == list(regions)
    assert ranges["europe-west4"] == network_plan.gcp_private_services_range("10.20.0.0/16")


def test_subnet_flow_logs_keep_all_metadata():
    assert network.SUBNET_FLOW_LOGS["metadata"] == "INCLUDE_ALL_METADATA"
    assert 0 < network.SUBNET_FLOW_LOGS["flow_sampling"] <= 1
