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
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # The APIs Private Service Access and Cloud SQL need, one resource each per project
        # (this network is the project's only one). Left enabled on destroy: disabling an API
        # breaks whatever else in the project uses it.
        apis = {
            api: gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}", project=args.project, service=api,
                disable_on_destroy=False, opts=child)
            for api in (SERVICE_NETWORKING, SQL_ADMIN)
        }
        self.api_services = list(apis.values())

        vpc = gcp.compute.Network(
            f"{name}-vpc",
            name=f"{args.prefix}-vpc",
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="GLOBAL",
            # Kept: Cloud NAT and Private Google Access both leave through the default
            # internet-gateway route; nodes have no external IPs, so it serves nothing else.
            delete_default_routes_on_create=False,
            opts=child,
        )

        self.subnet_ids, self.subnet_self_links = {}, {}
        for region, cidr in args.regions.items():
            layout = network_plan.gcp_layout(cidr)
            subnet = gcp.compute.Subnetwork(
                f"{name}-{region}",
                name=f"{args.prefix}-{region}",
                project=args.project,
                region=region,
                network=vpc.id,
                ip_cidr_range=layout["nodes"],
                secondary_ip_ranges=[
                    {"range_name": PODS_RANGE, "ip_cidr_range": layout["pods"]},
                    {"range_name": SERVICES_RANGE, "ip_cidr_range": layout["services"]},
                ],
                stack_type="IPV4_ONLY",
                private_ip_google_access=True,
                log_config={
                    "aggregation_interval": "INTERVAL_5_SEC",
                    "flow_sampling": _FLOW_SAMPLING,
                    "metadata": "INCLUDE_ALL_METADATA",
                },
                opts=child,
            )
            self.subnet_ids[region] = subnet.id
            self.subnet_self_links[region] = subnet.self_link

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
            gcp.compute.RouterNat(
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

        # Private Service Access: one reserved range per region (named by region, so adding or
        # reordering regions never moves an existing range), all on the one peering.
        self.private_services_ranges = {
            region: network_plan.gcp_private_services_range(cidr)
            for region, cidr in args.regions.items()
        }
        reserved = []
        for region, block in self.private_services_ranges.items():
            net = ipaddress.ip_network(block)
            reserved.append(gcp.compute.GlobalAddress(
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
            ))
        self.private_services_range_names = {
            region: r.name for region, r in zip(self.private_services_ranges, reserved, strict=True)}
        self.private_services_connection = gcp.servicenetworking.Connection(
            f"{name}-private-services",
            network=vpc.id,
            service=SERVICE_NETWORKING,
            reserved_peering_ranges=[r.name for r in reserved],
            # Google's side releases a range days after the last instance in it is deleted, so
            # a plain delete fails on destroy; removing the peering lets the VPC go.
            deletion_policy="REMOVE_PEERING",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[apis[SERVICE_NETWORKING]]),
        )

        # (role, sources, per-connection logs): east-west inside the VPC covers every region's
        # whole CIDR (nodes, pods, services); traffic crossing the site boundary is logged.
        rules = [("internal", sorted(args.regions.values()), None)]
        if args.onprem_cidrs:
            rules.append(("onprem", list(args.onprem_cidrs), {"metadata": "INCLUDE_ALL_METADATA"}))
        for role, sources, log_config in rules:
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
                opts=child,
            )

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
