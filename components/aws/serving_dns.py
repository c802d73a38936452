"""One DNS name for a model served on two sites: Route 53 health checks and failover records.

Route 53 answers `<record>` with the primary site's addresses while the primary's health check
passes, otherwise with the secondary's. Health checkers probe each site from the internet over
HTTPS on 443, to the site's public address with the record name as Host and SNI, on the model's
health path (`/ping` of the MLflow scoring server, routed without a token to the stable
version); a site with several addresses (an NLB with one Elastic IP per zone) is judged by
a CALCULATED check over one check per address.

Route 53 is a global service: no region to pin, so the data-residency policy skips it; nothing
but the addresses and the health path leaves the sites.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.tags import StandardTags, aws_tags


class FailoverSite(BaseModel):
    """One side of the failover: a site's name and its public IPv4 addresses."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$",
                      description="Site name for resource names and the set identifier, e.g. "
                                  "`onprem`, `aws-eu-west-1`.")
    addresses: list[str | pulumi.Output[str]] = Field(
        min_length=1, max_length=8,
        description="Public IPv4 addresses of the site's entry (the record's values).")


class FailoverDnsArgs(BaseModel):
    """Arguments of a health-checked failover name."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    zone_id: str = Field(pattern=r"^Z[A-Z0-9]{1,31}$", description="Route 53 public hosted zone id.")
    record_name: str = Field(description="Fully qualified record name, e.g. fraud-detector.serve.example.com.")
    primary: FailoverSite = Field(description="Site answered while healthy.")
    secondary: FailoverSite = Field(description="Site answered while the primary is unhealthy.")
    health_path: str = Field(pattern=r"^/\S*$",
                             description="HTTPS path that returns 2xx/3xx when the site serves "
                                         "(the MLflow scoring server's `/ping`).")
    port: int = Field(default=443, ge=1, le=65535, description="HTTPS port of the sites' entries.")
    request_interval: int = Field(default=30, description="Seconds between checks per checker: 10 or 30.")
    failure_threshold: int = Field(default=3, ge=1, le=10,
                                   description="Consecutive failures (or successes) that flip a check.")
    ttl: int = Field(default=60, ge=10, le=300, description="Record TTL in seconds (bounds failover time for clients).")
    tags: StandardTags = Field(description="Standard tags put on the health checks.")

    @field_validator("request_interval")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in (10, 30):
            raise ValueError("Route 53 checks every 10 or 30 seconds")
        return value

    @model_validator(mode="after")
    def _two_sites(self) -> FailoverDnsArgs:
        if self.primary.name == self.secondary.name:
            raise ValueError(f"primary and secondary are the same site ({self.primary.name})")
        return self


class FailoverDns(pulumi.ComponentResource):
    """Health checks per site and the PRIMARY/SECONDARY A records of one name.

    Guarantees: each record points at exactly one site's addresses and carries that site's health
    check; the two records are distinct sites; health checks probe the public path over HTTPS with
    SNI. `health_check_ids` feed the runbook (invert a check to fail over by hand).
    """

    record_name: str
    health_check_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: FailoverDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:FailoverDns", name, None, opts)
        self.record_name = args.record_name
        self.health_check_ids = {}
        for role, site in (("primary", args.primary), ("secondary", args.secondary)):
            check = self._site_check(name, args, site)
            self.health_check_ids[role] = check.id
            aws.route53.Record(
                f"{name}-{role}",
                zone_id=args.zone_id,
                name=args.record_name,
                type="A",
                ttl=args.ttl,
                records=site.addresses,
                # The set identifier names the role, not the site: swapping primary and secondary
                # updates both records in place instead of briefly creating a second PRIMARY.
                set_identifier=role,
                failover_routing_policies=[{"type": role.upper()}],
                health_check_id=check.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"record_name": self.record_name,
                               "health_check_ids": self.health_check_ids})

    def _site_check(self, name: str, args: FailoverDnsArgs, site: FailoverSite) -> aws.route53.HealthCheck:
        child = pulumi.ResourceOptions(parent=self)
        checks = [
            aws.route53.HealthCheck(
                f"{name}-{site.name}" + (f"-{i}" if len(site.addresses) > 1 else ""),
                type="HTTPS",
                ip_address=address,
                port=args.port,
                # Host header and SNI: the gateway routes and presents its certificate by name.
                fqdn=args.record_name,
                enable_sni=True,
                resource_path=args.health_path,
                request_interval=args.request_interval,
                failure_threshold=args.failure_threshold,
                # Tag values allow letters, digits, spaces and + - = . _ : / @ only.
                tags=aws_tags(args.tags, Name=f"{args.record_name} {site.name}" +
                              (f" {i}" if len(site.addresses) > 1 else "")),
                opts=child,
            )
            for i, address in enumerate(site.addresses)
        ]
        if len(checks) == 1:
            return checks[0]
        # The record hands out every address of the site, so the site counts as healthy only
        # while every address is: a client given a dead address would fail.
        return aws.route53.HealthCheck(
            f"{name}-{site.name}",
            type="CALCULATED",
            child_healthchecks=[c.id for c in checks],
            child_health_threshold=len(checks),
            tags=aws_tags(args.tags, Name=f"{args.record_name} {site.name}"),
            opts=child,
        )
