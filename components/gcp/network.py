"""One global GCP VPC: a private subnetwork per region, Cloud NAT, internal firewall rules,
and Private Service Access for Google-managed services (Cloud SQL)."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from components import network_plan
from components.tags import StandardTags, gcp_labels

#: Secondary range names on every subnetwork; GKE clusters refer to them by these names.
PODS_RANGE = "pods"
SERVICES_RANGE = "services"

#: The Service Networking service whose VPC peering carries Private Service Access.
SERVICE_NETWORKING = "servicenetworking.googleapis.com"
#: The Cloud SQL Admin API, which the Cloud SQL instances on Private Service Access need.
SQL_ADMIN = "sqladmin.googleapis.com"
_GCP_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
#: Flow-log sampling: half the flows keeps cost down and is still enough to trace a connection.
_FLOW_SAMPLING = 0.5


def _network(value: str, key: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{key}: {value!r} is not a valid network address ({exc})") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{key}: {value!r} is not IPv4")  # noqa: TRY004 - pydantic wants ValueError
    return net


class NetworkArgs(BaseModel):
    """Arguments of the GCP hybrid network."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(pattern=_GCP_NAME, max_length=30,
                        description="Name prefix of every resource, e.g. `hml-prod`.")
    project: str = Field(description="GCP project id that owns the network.")
    regions: dict[str, str] = Field(
        min_length=1,
        description="Region -> CIDR of that region's share of the VPC (carved by "
                    "`network_plan.gcp_layout` into nodes, pods and services).",
    )
    onprem_cidrs: list[str] = Field(description="On-prem networks allowed in by the firewall.")
    tags: StandardTags = Field(description="Standard tags; GCP networks take no labels, the "
                               "VPN resources and reserved ranges in the network carry them.")
    protect: bool = Field(default=False, description="Protect the Private Service Access "
                          "connection and its reserved ranges (losing them cuts every Cloud SQL "
                          "instance off its clients; a range in use cannot be released anyway).")

    @field_validator("regions")
    @classmethod
    def _regions_fit_layout(cls, regions: dict[str, str]) -> dict[str, str]:
        lo, hi = network_plan.MIN_PREFIX["gcp"], network_plan.MAX_PREFIX["gcp"]
        for region, cidr in regions.items():
            net = _network(cidr, f"regions.{region}")
            if not lo <= net.prefixlen <= hi:
                raise ValueError(f"regions.{region}: {cidr!r} must be a /{lo} to /{hi}")
        return regions

    @field_validator("onprem_cidrs")
    @classmethod
    def _onprem_not_everything(cls, cidrs: list[str]) -> list[str]:
        for i, cidr in enumerate(cidrs):
            # A /0 here would turn "allow on-prem" into "allow the internet".
            if _network(cidr, f"onprem_cidrs[{i}]").prefixlen == 0:
                raise ValueError(f"onprem_cidrs[{i}]: {cidr!r} would allow the whole internet")
        return cidrs


class Network(pulumi.ComponentResource):
    """A custom-mode global VPC for the hybrid platform.

    Creates: the VPC (routing mode GLOBAL, so each region's VPN Cloud Router
    teaches on-prem routes to the whole VPC); per region a subnetwork with the
    `nodes` range as primary and `pods`/`services` secondary ranges, Private
    Google Access and VPC flow logs with all metadata; per region a Cloud Router
    and Cloud NAT (errors logged) so private nodes and pods reach the internet
    without external addresses; firewall rules allowing traffic from the VPC's
    own ranges and from on-prem only. Nothing is opened to 0.0.0.0/0 and no
    load-balancer health-check ranges are allowed (no load balancers here).

    Private Service Access: per region an internal range reserved for VPC peering
    (`network_plan.gcp_private_services_range`: a block of the region's own CIDR that
    the subnet layout leaves free, so it overlaps nothing configured) and one Service
    Networking connection using all of them, `private_services_connection`. Cloud SQL
    instances with private IP depend on it. The ranges sit inside the CIDRs the HA VPN
    already advertises to on-prem; the peering does not export the VPC's custom (on-prem)
    routes to Google's side, so the services answer VPC clients only, not on-prem ones.
    The component enables the APIs this needs, once per project: Service Networking
    (`servicenetworking.googleapis.com`, before the connection) and the Cloud SQL Admin API
    (`sqladmin.googleapis.com`, `api_services`, which Cloud SQL instances depend on); neither is
    disabled on destroy (other users of the project may rely on them). With `protect`, the
    connection and its ranges are protected.

    `project` is set on every resource and `region` on every regional one, so a
    single provider (any region) can build all regions.
    """

    network_id: pulumi.Output[str]
    network_self_link: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    subnet_self_links: dict[str, pulumi.Output[str]]
    private_services_ranges: dict[str, str]
    private_services_range_names: dict[str, pulumi.Output[str]]
    private_services_connection: gcp.servicenetworking.Connection
    api_services: list[gcp.projects.Service]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:Network", name, None, opts)

        apis = project_apis(name, args.project, self)
        self.api_services = list(apis.values())
        vpc = global_vpc(name, args, self)

        self.subnet_ids, self.subnet_self_links = {}, {}
        for region, cidr in args.regions.items():
            subnet = regional_subnet(name, args, region, cidr, vpc, self)
            self.subnet_ids[region] = subnet.id
            self.subnet_self_links[region] = subnet.self_link
            cloud_nat(name, args, region, vpc, subnet, self)

        self.private_services_ranges = private_services_ranges(args.regions)
        reserved = reserved_service_ranges(name, args, self.private_services_ranges, vpc, self)
        self.private_services_range_names = {region: r.name for region, r in reserved.items()}
        self.private_services_connection = gcp.servicenetworking.Connection(
            f"{name}-private-services",
            network=vpc.id,
            service=SERVICE_NETWORKING,
            reserved_peering_ranges=[r.name for r in reserved.values()],
            # Google's side releases a range days after the last instance in it is deleted, so
            # a plain delete fails on destroy; removing the peering lets the VPC go.
            deletion_policy="REMOVE_PEERING",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[apis[SERVICE_NETWORKING]]),
        )
        internal_firewalls(name, args, vpc, self)

        self.network_id = vpc.id
        self.network_self_link = vpc.self_link
        self.register_outputs({
            "network_id": self.network_id,
            "network_self_link": self.network_self_link,
            "subnet_ids": self.subnet_ids,
            "subnet_self_links": self.subnet_self_links,
            "private_services_ranges": self.private_services_ranges,
            "private_services_range_names": self.private_services_range_names,
            "private_services_connection": self.private_services_connection,
        })


def project_apis(
    name: str, project: str, parent: pulumi.Resource,
) -> dict[str, gcp.projects.Service]:
    """The APIs Private Service Access and Cloud SQL need, by service name."""
    # One resource each per project (this network is the project's only one). Left enabled on
    # destroy: disabling an API breaks whatever else in the project uses it.
    return {
        api: gcp.projects.Service(
            f"{name}-api-{api.split('.')[0]}", project=project, service=api,
            disable_on_destroy=False, opts=pulumi.ResourceOptions(parent=parent))
        for api in (SERVICE_NETWORKING, SQL_ADMIN)
    }


def global_vpc(name: str, args: NetworkArgs, parent: pulumi.Resource) -> gcp.compute.Network:
    """The custom-mode VPC with global routing."""
    return gcp.compute.Network(
        f"{name}-vpc",
        name=f"{args.prefix}-vpc",
        project=args.project,
        auto_create_subnetworks=False,
        routing_mode="GLOBAL",
        # Kept: Cloud NAT and Private Google Access both leave through the default
        # internet-gateway route; nodes have no external IPs, so it serves nothing else.
        delete_default_routes_on_create=False,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def subnet_ranges(cidr: str) -> dict:
    """The subnetwork's ranges for a region's CIDR (`network_plan.gcp_layout`): `nodes` as the
    primary range, `pods` and `services` as the secondary ranges GKE refers to by name."""
    layout = network_plan.gcp_layout(cidr)
    return {
        "ip_cidr_range": layout["nodes"],
        "secondary_ip_ranges": [
            {"range_name": PODS_RANGE, "ip_cidr_range": layout["pods"]},
            {"range_name": SERVICES_RANGE, "ip_cidr_range": layout["services"]},
        ],
    }


#: VPC flow logs of every subnetwork: 5-second aggregation, sampled, with all metadata.
SUBNET_FLOW_LOGS = {
    "aggregation_interval": "INTERVAL_5_SEC",
    "flow_sampling": _FLOW_SAMPLING,
    "metadata": "INCLUDE_ALL_METADATA",
}


def regional_subnet(
    name: str, args: NetworkArgs, region: str, cidr: str, vpc: gcp.compute.Network,
    parent: pulumi.Resource,
) -> gcp.compute.Subnetwork:
    """The region's subnetwork: IPv4 only, Private Google Access, flow logs."""
    return gcp.compute.Subnetwork(
        f"{name}-{region}",
        name=f"{args.prefix}-{region}",
        project=args.project,
        region=region,
        network=vpc.id,
        **subnet_ranges(cidr),
        stack_type="IPV4_ONLY",
        private_ip_google_access=True,
        log_config=dict(SUBNET_FLOW_LOGS),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def cloud_nat(
    name: str, args: NetworkArgs, region: str, vpc: gcp.compute.Network,
    subnet: gcp.compute.Subnetwork, parent: pulumi.Resource,
) -> gcp.compute.RouterNat:
    """Cloud NAT for the region's subnetwork (all its ranges), on a router of its own."""
    child = pulumi.ResourceOptions(parent=parent)
    # NAT gets its own router: the VPN's BGP router can then be replaced or
    # re-peered without touching egress.
    router = gcp.compute.Router(
        f"{name}-{region}-nat-router",
        name=f"{args.prefix}-nat-{region}",
        project=args.project,
        region=region,
        network=vpc.id,
        opts=child,
    )
    return gcp.compute.RouterNat(
        f"{name}-{region}-nat",
        name=f"{args.prefix}-nat-{region}",
        project=args.project,
        region=region,
        router=router.name,
        nat_ip_allocate_option="AUTO_ONLY",
        # Only this subnetwork, all its ranges: GKE pods egress from the secondary range.
        source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
        subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
        log_config={"enable": True, "filter": "ERRORS_ONLY"},
        opts=child,
    )


def private_services_ranges(regions: dict[str, str]) -> dict[str, str]:
    """Region -> the block reserved for Private Service Access, carved from the region's CIDR."""
    return {region: network_plan.gcp_private_services_range(cidr)
            for region, cidr in regions.items()}


def reserved_service_ranges(
    name: str, args: NetworkArgs, ranges: dict[str, str], vpc: gcp.compute.Network,
    parent: pulumi.Resource,
) -> dict[str, gcp.compute.GlobalAddress]:
    """One internal range reserved for VPC peering per region (named by region, so adding or
    reordering regions never moves an existing range), protected with `protect`."""
    keep = pulumi.ResourceOptions(parent=parent, protect=args.protect)
    reserved = {}
    for region, block in ranges.items():
        net = ipaddress.ip_network(block)
        reserved[region] = gcp.compute.GlobalAddress(
            f"{name}-{region}-services-range",
            name=f"{args.prefix}-psa-{region}",
            project=args.project,
            network=vpc.id,
            address_type="INTERNAL",
            purpose="VPC_PEERING",
            address=str(net.network_address),
            prefix_length=net.prefixlen,
            description=f"Private Service Access (Cloud SQL) range carved from {region}",
            labels=gcp_labels(args.tags),
            opts=keep,
        )
    return reserved


def firewall_rule_sets(
    regions: dict[str, str], onprem_cidrs: list[str],
) -> list[tuple[str, list[str], dict | None]]:
    """(role, source ranges, log config) of each allow rule: east-west inside the VPC covers
    every region's whole CIDR (nodes, pods, services); traffic crossing the site boundary from
    on-prem is logged with all metadata."""
    rules: list[tuple[str, list[str], dict | None]] = [
        ("internal", sorted(regions.values()), None)]
    if onprem_cidrs:
        rules.append(("onprem", list(onprem_cidrs), {"metadata": "INCLUDE_ALL_METADATA"}))
    return rules


def internal_firewalls(
    name: str, args: NetworkArgs, vpc: gcp.compute.Network, parent: pulumi.Resource,
) -> list[gcp.compute.Firewall]:
    """Ingress allow rules (TCP, UDP, ICMP) from the VPC's own ranges and from on-prem only."""
    return [
        gcp.compute.Firewall(
            f"{name}-allow-{role}",
            name=f"{args.prefix}-allow-{role}",
            project=args.project,
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=sources,
            allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
            log_config=log_config,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, sources, log_config in firewall_rule_sets(args.regions, args.onprem_cidrs)
    ]
