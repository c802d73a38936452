"""Private networks: flow logs on every network, no addresses handed out to the internet by default."""

from __future__ import annotations

from helpers import Findings, is_unknown, lookup, only_types, validate_each
from pairing import companions, of_types
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import Severity

AWS_VPC = "aws:ec2/vpc:Vpc"
AWS_FLOW_LOG = "aws:ec2/flowLog:FlowLog"
GCP_SUBNET = "gcp:compute/subnetwork:Subnetwork"
AZURE_VNET = "azure-native:network:VirtualNetwork"
AZURE_FLOW_LOG = "azure-native:network:FlowLog"
AWS_SUBNET = "aws:ec2/subnet:Subnet"
# GCP proxy-only and PSC subnets carry no VM traffic and cannot log flows.
_GCP_UNLOGGABLE_PURPOSES = frozenset({"REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY",
                                      "PRIVATE_SERVICE_CONNECT"})


def _aws_flow_problems(flow_logs: list, f: Findings) -> list[str]:
    if not flow_logs:
        return ["has no aws:ec2 FlowLog"]
    for log in flow_logs:
        traffic = lookup(log.props, "trafficType")
        if is_unknown(traffic):
            f.unknown(traffic)
            return []
        if traffic == "ALL":
            return []
    return ["its flow logs record only accepted or rejected traffic, not ALL"]


def _azure_flow_problems(flow_logs: list, f: Findings) -> list[str]:
    if not flow_logs:
        return ["has no azure-native:network FlowLog targeting it (VNet flow logs)"]
    for log in flow_logs:
        enabled = lookup(log.props, "enabled")
        if is_unknown(enabled):
            f.unknown(enabled)
            return []
        if enabled is not False:
            return []
    return ["its flow logs are disabled"]


def check_gcp_subnet_logs(props: object, f: Findings) -> list[str]:
    purpose = lookup(props, "purpose")
    if is_unknown(purpose):
        f.unknown(purpose)
        return []
    if purpose in _GCP_UNLOGGABLE_PURPOSES:
        return []
    config = lookup(props, "logConfig")
    if is_unknown(config):
        f.unknown(config)
        return []
    return [] if config else ["logConfig is not set (VPC flow logs off)"]


def _validate_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    resources = list(args.resources)
    aws = companions(resources, [AWS_VPC], [AWS_FLOW_LOG], "vpcId", "id")
    for vpc in of_types(resources, [AWS_VPC]):
        for why in _aws_flow_problems(aws[vpc.urn], f):
            f.violation(f"{vpc.name}: {why}", vpc.urn)
    azure = companions(resources, [AZURE_VNET], [AZURE_FLOW_LOG], "targetResourceId", "id")
    for vnet in of_types(resources, [AZURE_VNET]):
        for why in _azure_flow_problems(azure[vnet.urn], f):
            f.violation(f"{vnet.name}: {why}", vnet.urn)
    for subnet in of_types(resources, [GCP_SUBNET]):
        for why in check_gcp_subnet_logs(subnet.props, f):
            f.violation(f"{subnet.name}: {why}", subnet.urn)
    f.settle()


network_flow_logs = StackValidationPolicy(
    name="network-flow-logs",
    display_name="Every private network records flow logs",
    description=(
        "aws:ec2 Vpc has an aws:ec2 FlowLog (vpcId) with trafficType ALL; gcp:compute Subnetwork has "
        "logConfig (except proxy-only/PSC subnets); azure-native:network VirtualNetwork has an "
        "enabled azure-native:network FlowLog whose targetResourceId is the VNet."
    ),
    validate=_validate_flow_logs,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    tags=["logging", "network", "aws", "gcp", "azure"],
    remediation_steps=(
        "AWS: aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', ...). GCP: Subnetwork "
        "log_config={aggregation_interval, flow_sampling, metadata}. Azure: azure_native.network."
        "FlowLog(target_resource_id=vnet.id, enabled=True, storage_id=...) in the region's "
        "Network Watcher (NSG flow logs are retired)."
    ),
)


def check_subnet_public_ip(props: object, f: Findings) -> list[str]:
    value = lookup(props, "mapPublicIpOnLaunch")
    if is_unknown(value):
        f.unknown(value)
        return []
    return ["mapPublicIpOnLaunch is true: every instance launched here gets a public IP"] \
        if value is True else []


subnet_no_auto_public_ip = ResourceValidationPolicy(
    name="subnet-no-auto-public-ip",
    display_name="Subnets do not hand out public IPs",
    description=(
        "aws:ec2 Subnet mapPublicIpOnLaunch is not true, so nodes and workloads are only reachable "
        "through load balancers and the VPN, never directly from the internet."
    ),
    validate=validate_each(only_types(AWS_SUBNET, check_subnet_public_ip)),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["exposure", "network", "aws"],
    remediation_steps="Leave map_public_ip_on_launch unset or False; use NAT gateways for egress.",
)

POLICIES = [network_flow_logs, subnet_no_auto_public_ip]
