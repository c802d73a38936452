"""A private AWS VPC laid out by the address plan, with encrypted flow logs."""

from __future__ import annotations

import ipaddress
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components import naming, network_plan
from components.aws.kms import (
    account_administers,
    customer_managed_key,
    encrypted_log_group,
    log_group_arn,
    logs_encrypt,
    policy_document,
)
from components.regions import AWS_REGIONS
from components.tags import StandardTags, aws_tags

#: The only values CloudWatch Logs accepts for retention_in_days (in the range config allows).
LOG_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                                1096, 1827, 2192, 2557, 2922, 3288, 3653})


class NetworkArgs(BaseModel):
    """Arguments of an AWS network (one VPC in one region)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    region: str = Field(description="AWS region of the VPC (must match the provider).")
    cidr: str = Field(description="The VPC's CIDR; subnets come from `network_plan.aws_layout`.")
    zones: int = Field(ge=2, le=3, description="Availability zones to spread subnets over.")
    nat_gateways: Literal["none", "single", "perZone"] = Field(
        description="Outbound internet: none (no IGW/NAT at all), one shared NAT, or one per zone.")
    flow_log_retention_days: int = Field(description="Days VPC flow logs are kept.")
    account_id: str = Field(pattern=r"^\d{12}$", description="AWS account that owns the VPC.")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    protect: bool = Field(description="Protect stateful resources (flow-log key and log group).")

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in AWS_REGIONS:
            raise ValueError(f"unknown AWS region {value!r}")
        return value

    @field_validator("cidr")
    @classmethod
    def _vpc_sized(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        lo, hi = network_plan.MIN_PREFIX["aws"], network_plan.MAX_PREFIX["aws"]
        if not lo <= net.prefixlen <= hi:
            raise ValueError(f"VPC CIDR {value} must be a /{lo} to /{hi}")
        return str(net)

    @field_validator("flow_log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        # Refused here rather than by the AWS API at `pulumi up`.
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs keeps logs {sorted(LOG_RETENTION_DAYS)} days only")
        return value


def flow_logs_key_policy(account_id: str, region: str, group_arn: str) -> str:
    """The flow-log key's policy: the account administers it, CloudWatch Logs encrypts the one
    flow-log group with it."""
    return policy_document(account_administers(account_id),
                           logs_encrypt("CloudWatchLogsEncryptsFlowLogs", region, group_arn))


def flow_logs_delivery_trust(account_id: str, region: str) -> str:
    # Source conditions stop another account's flow logs from using this role (confused deputy).
    return policy_document({
        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/*"},
        },
    })


def flow_logs_delivery_policy(account_id: str, region: str, log_group_arn: str) -> str:
    # Write to the one log group only (created here, so no logs:CreateLogGroup).
    return policy_document(
        {"Sid": "WriteFlowLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"]},
        # A list call: it can be scoped to the account and region, not to one group.
        {"Sid": "FindLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups",
         "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:*"},
    )


class Network(pulumi.ComponentResource):
    """A VPC with private subnets per zone and, unless `nat_gateways` is none, small public
    subnets holding only NAT gateways and internet-facing load balancers.

    Guarantees: subnets exactly as `network_plan.aws_layout`; no instance gets a public IP
    on launch; one private route table per zone (so per-zone NAT keeps traffic in its zone);
    the default security group has no rules; flow logs of ALL traffic go to a CloudWatch log
    group encrypted with a rotating customer-managed key, kept `flow_log_retention_days`;
    the key and log group are protected when `args.protect`.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    cidr: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:Network", name, None, opts)
        tags = aws_tags(args.tags)
        layout = network_plan.aws_layout(args.cidr, args.zones)
        zones = network_plan.aws_zones(args.region, args.zones)
        base = f"{args.prefix}-{args.region}"

        vpc = locked_vpc(name, args.cidr, base, tags, self)
        public_ids, nat_ids = public_tier(name, args, vpc, zones, layout["public"], base, tags,
                                          self)
        private_ids, private_rt_ids = private_tier(name, vpc, zones, layout["private"], nat_ids,
                                                   base, tags, self)
        vpc_flow_logs(name, args, vpc, tags, base, self)

        self.vpc_id = vpc.id
        self.private_subnet_ids = private_ids
        self.public_subnet_ids = public_ids
        self.private_route_table_ids = private_rt_ids
        self.cidr = args.cidr
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
            "private_route_table_ids": self.private_route_table_ids,
            "cidr": self.cidr,
        })


def locked_vpc(name: str, cidr: str, base: str, tags: dict[str, str],
               parent: pulumi.Resource) -> aws.ec2.Vpc:
    """The VPC, with its default security group adopted and emptied."""
    child = pulumi.ResourceOptions(parent=parent)
    vpc = aws.ec2.Vpc(
        f"{name}-vpc", cidr_block=cidr, enable_dns_support=True,
        enable_dns_hostnames=True, tags={**tags, "Name": base}, opts=child,
    )
    # Adopting the default security group with no rules removes AWS's allow-all-within-group
    # default, so nothing can use it by accident.
    aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
        tags={**tags, "Name": f"{base}-default-locked"}, opts=child,
    )
    return vpc


def subnet_tags(tags: dict[str, str], base: str, tier: str, zone_letter: str) -> dict[str, str]:
    """Tags of a subnet: its Name, its tier, and the role Kubernetes load balancers look for
    (internet-facing in public subnets, internal in private ones)."""
    elb_role = "kubernetes.io/role/elb" if tier == "public" else "kubernetes.io/role/internal-elb"
    return {**tags, "Name": f"{base}-{tier}-{zone_letter}", "tier": tier, elb_role: "1"}


def nat_gateway_count(nat_gateways: str, zones: int) -> int:
    """How many NAT gateways the VPC gets: none, one shared, or one per zone."""
    return {"none": 0, "single": 1}.get(nat_gateways, zones)


def public_tier(
    name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, zones: list[str], cidrs: list[str],
    base: str, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[list[pulumi.Output[str]], list[pulumi.Output[str]]]:
    """Internet gateway, public route table, public subnets and NAT gateways (none at all with
    `nat_gateways` none); returns the public subnet ids and the NAT gateway ids."""
    public_ids: list[pulumi.Output[str]] = []
    nat_ids: list[pulumi.Output[str]] = []
    if args.nat_gateways == "none":
        return public_ids, nat_ids
    child = pulumi.ResourceOptions(parent=parent)
    igw = aws.ec2.InternetGateway(
        f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": base}, opts=child)
    public_rt = aws.ec2.RouteTable(
        f"{name}-public-rt", vpc_id=vpc.id, tags={**tags, "Name": f"{base}-public"},
        opts=child)
    aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id,
                  destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child)
    nat_count = nat_gateway_count(args.nat_gateways, args.zones)
    for i, (zone, cidr) in enumerate(zip(zones, cidrs, strict=True)):
        z = zone[-1]
        subnet = routed_subnet(f"{name}-public-{z}", vpc, zone, cidr, public_rt,
                               subnet_tags(tags, base, "public", z), parent)
        public_ids.append(subnet.id)
        if i < nat_count:
            # NAT and its address need the IGW attached first, or creation fails.
            after_igw = pulumi.ResourceOptions(parent=parent, depends_on=[igw])
            eip = aws.ec2.Eip(f"{name}-nat-{z}-eip", domain="vpc",
                              tags={**tags, "Name": f"{base}-nat-{z}"}, opts=after_igw)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{z}", allocation_id=eip.allocation_id, subnet_id=subnet.id,
                connectivity_type="public", tags={**tags, "Name": f"{base}-nat-{z}"},
                opts=after_igw,
            )
            nat_ids.append(nat.id)
    return public_ids, nat_ids


def private_tier(
    name: str, vpc: aws.ec2.Vpc, zones: list[str], cidrs: list[str],
    nat_ids: list[pulumi.Output[str]], base: str, tags: dict[str, str], parent: pulumi.Resource,
) -> tuple[list[pulumi.Output[str]], list[pulumi.Output[str]]]:
    """One private subnet and route table per zone, routed to a NAT gateway when there are
    any; returns the subnet ids and the route table ids."""
    child = pulumi.ResourceOptions(parent=parent)
    private_ids: list[pulumi.Output[str]] = []
    private_rt_ids: list[pulumi.Output[str]] = []
    for i, (zone, cidr) in enumerate(zip(zones, cidrs, strict=True)):
        z = zone[-1]
        # Routes are separate resources (never inline `routes`) so that routes the VPN
        # gateway propagates into these tables are not seen as drift.
        rt = aws.ec2.RouteTable(f"{name}-private-{z}-rt", vpc_id=vpc.id,
                                tags={**tags, "Name": f"{base}-private-{z}"}, opts=child)
        subnet = routed_subnet(f"{name}-private-{z}", vpc, zone, cidr, rt,
                               subnet_tags(tags, base, "private", z), parent)
        if nat_ids:
            aws.ec2.Route(f"{name}-private-{z}-default", route_table_id=rt.id,
                          destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=nat_ids[i % len(nat_ids)], opts=child)
        private_ids.append(subnet.id)
        private_rt_ids.append(rt.id)
    return private_ids, private_rt_ids


def routed_subnet(name: str, vpc: aws.ec2.Vpc, zone: str, cidr: str, table: aws.ec2.RouteTable,
                  tags: dict[str, str], parent: pulumi.Resource) -> aws.ec2.Subnet:
    """A subnet associated with route table `table`."""
    child = pulumi.ResourceOptions(parent=parent)
    # No public IPs on launch, even in public subnets: only NAT gateways and load
    # balancers live there, and they bring their own addresses.
    subnet = aws.ec2.Subnet(name, vpc_id=vpc.id, cidr_block=cidr, availability_zone=zone,
                            map_public_ip_on_launch=False, tags=tags, opts=child)
    aws.ec2.RouteTableAssociation(f"{name}-rta", subnet_id=subnet.id, route_table_id=table.id,
                                  opts=child)
    return subnet


def vpc_flow_logs(name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, tags: dict[str, str],
                  base: str, parent: pulumi.Resource) -> aws.ec2.FlowLog:
    """Flow logs of ALL traffic into a KMS-encrypted log group, delivered by a role that may
    write to that group only."""
    child = pulumi.ResourceOptions(parent=parent)
    group_name = f"/{args.prefix}/{args.region}/vpc-flow-logs"
    group_arn = log_group_arn(args.region, args.account_id, group_name)
    key = customer_managed_key(
        f"{name}-flow-logs-key", description=f"Encrypts the VPC flow logs of {base}",
        policy=flow_logs_key_policy(args.account_id, args.region, group_arn),
        alias=naming.kms_alias(args.prefix, f"{args.region}-vpc-flow-logs"), tags=tags,
        parent=parent, protect=args.protect)
    group = encrypted_log_group(
        f"{name}-flow-logs", group_name=group_name, key=key,
        retention_days=args.flow_log_retention_days, tags=tags, parent=parent,
        protect=args.protect)
    role = aws.iam.Role(
        f"{name}-flow-logs-role", name=f"{base}-vpc-flow-logs",
        description=f"Delivers the VPC flow logs of {base} to CloudWatch Logs",
        assume_role_policy=flow_logs_delivery_trust(args.account_id, args.region),
        tags=tags, opts=child,
    )
    grant = aws.iam.RolePolicy(
        f"{name}-flow-logs-write", role=role.id,
        policy=flow_logs_delivery_policy(args.account_id, args.region, group_arn), opts=child,
    )
    return aws.ec2.FlowLog(
        f"{name}-flow-log", vpc_id=vpc.id, traffic_type="ALL",
        log_destination_type="cloud-watch-logs", log_destination=group.arn,
        iam_role_arn=role.arn, tags={**tags, "Name": base},
        # Delivery fails (and AWS marks the flow log as failed) until the role may write.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[grant]),
    )
