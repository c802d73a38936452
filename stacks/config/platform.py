"""The platform's stack configuration: one pydantic model, validated before anything is built.

The whole platform lives under one structured config key,
`hybrid-ml-platform:platform`, in `Pulumi.<stack>.yaml`. Secrets are never in
this model: it only names the secret config keys (set with
`pulumi config set --secret`), which the program reads as Pulumi secrets.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field

from components.regions import AWS_REGIONS, AZURE_LOCATIONS, GCP_REGIONS
from components.tags import ENVIRONMENTS, StandardTags
from stacks.config.base import SECRET_KEY_NAME, Cidr, ConfigModel, Ipv4
from stacks.config.kubernetes import Kubernetes
from stacks.config.services import Services
from stacks.config.tag_values import CostCenter, Owner
from stacks.config.teams import Team

PROJECT = "hybrid-ml-platform"
#: The structured config key that holds the whole platform config.
CONFIG_KEY = "platform"

_NAME = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"


_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

Environment = Literal[ENVIRONMENTS]  # type: ignore[valid-type]
CloudSite = Literal["aws", "gcp", "azure"]


class OnPremSite(ConfigModel):
    """The existing on-prem Kubernetes cluster."""

    enabled: bool = True
    """Whether the on-prem site takes part in this stack."""
    cluster_name: str = Field(pattern=_NAME)
    """Name of the on-prem cluster, used in names, labels and metrics."""
    datacenter: str = Field(pattern=_NAME)
    """The data centre the cluster runs in (for the platform picture and labels)."""
    kubeconfig_secret: str = Field(default="onpremKubeconfig", pattern=SECRET_KEY_NAME)
    """Name of the secret config key holding the kubeconfig (`pulumi config set --secret`)."""


class AwsSite(ConfigModel):
    """An AWS account and the regions the platform uses in it."""

    enabled: bool = True
    """Whether AWS takes part in this stack."""
    account_id: str = Field(pattern=r"^\d{12}$")
    """The 12-digit AWS account id; providers refuse to act on any other account."""
    regions: list[Literal[tuple(sorted(AWS_REGIONS))]] = Field(min_length=1)  # type: ignore[valid-type]
    """AWS regions, primary first."""


class GcpSite(ConfigModel):
    """A GCP project and the regions the platform uses in it."""

    enabled: bool = True
    """Whether GCP takes part in this stack."""
    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """The GCP project id."""
    project_number: str = Field(pattern=r"^\d{6,20}$")
    """The GCP project number (names the project's Cloud Storage service agent)."""
    regions: list[Literal[tuple(sorted(GCP_REGIONS))]] = Field(min_length=1)  # type: ignore[valid-type]
    """GCP regions, primary first."""


class AzureSite(ConfigModel):
    """An Azure subscription and the locations the platform uses in it."""

    enabled: bool = True
    """Whether Azure takes part in this stack."""
    subscription_id: str = Field(pattern=_UUID)
    """The Azure subscription id (a lowercase UUID)."""
    tenant_id: str = Field(pattern=_UUID)
    """The Entra ID tenant id (a lowercase UUID)."""
    locations: list[Literal[tuple(sorted(AZURE_LOCATIONS))]] = Field(min_length=1)  # type: ignore[valid-type]
    """Azure locations, primary first."""


class Sites(ConfigModel):
    """Where the platform runs. A site left out is the same as `enabled: false`."""

    onprem: OnPremSite | None = None
    """The on-prem Kubernetes estate."""
    aws: AwsSite | None = None
    """The AWS account."""
    gcp: GcpSite | None = None
    """The GCP project."""
    azure: AzureSite | None = None
    """The Azure subscription."""


class DataClassification(ConfigModel):
    """Where data of one classification may live."""

    allowed_regions: list[str] = Field(default_factory=list)
    """Cloud regions (any cloud's names) where data of this class may be stored."""
    on_prem_required: bool = False
    """If true, data of this class may only be stored on-prem, never in a cloud."""


class Residency(ConfigModel):
    """The data-residency plan."""

    allowed_regions: list[str] = Field(min_length=1)
    """Every cloud region the stack may use at all (any cloud's names)."""
    classifications: dict[str, DataClassification] = Field(min_length=1)
    """Data classifications by name (e.g. public, internal, confidential, restricted)."""
    default_classification: str
    """The classification of resources that do not say otherwise."""


class Tags(ConfigModel):
    """Standard tag values. `environment` and `data-classification` are derived."""

    owner: Owner
    """The owning team or person, a handle such as `ml-platform` (stored lowercase; no `@` or
    `.`: it is the same value on every cloud and in Kubernetes labels)."""
    cost_center: CostCenter
    """The cost centre, e.g. `ML-4100` (any case; stored upper-case)."""
    managed_by: str = Field(default="pulumi", pattern=r"^[a-z0-9-]{1,63}$")
    """What manages the resources."""


class StoreDefaults(ConfigModel):
    """Data-protection settings shared by every artifact store."""

    noncurrent_version_days: int = Field(default=90, ge=1, le=3650)
    """Days an overwritten or deleted object version is kept before it expires."""
    soft_delete_days: int = Field(default=30, ge=7, le=90)
    """Days a deleted object stays recoverable (GCS soft delete, Azure soft delete)."""
    access_log_retention_days: int = Field(default=365, ge=30, le=730)
    """Days access logs are kept."""
    azure_key_size: Literal[2048, 3072, 4096] = 3072
    """RSA key size in bits of the Azure customer-managed key."""


class ArtifactStoreConfig(ConfigModel):
    """One logical artifact store, created on each of its sites."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
    """Store name (lowercase, 3-20 characters), part of every physical name."""
    data_classification: str | None = None
    """Classification of the data in it; defaults to the plan's default classification."""
    sites: list[CloudSite] | None = None
    """Cloud sites that get this store; defaults to every enabled cloud site."""


class Storage(ConfigModel):
    """Artifact storage."""

    defaults: StoreDefaults = Field(default_factory=StoreDefaults)
    """Data-protection settings for every store."""
    stores: list[ArtifactStoreConfig] = Field(default_factory=list)
    """The artifact stores."""


class VpnDevice(ConfigModel):
    """An on-prem VPN device that terminates the tunnels to every cloud."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
    """Device name (lowercase, 2-16 characters), part of tunnel and file names."""
    public_ip: Ipv4
    """The device's public IPv4 address, the peer address of every cloud tunnel."""


class OnPremNetwork(ConfigModel):
    """The on-prem end of the hybrid network."""

    cidrs: list[Cidr] = Field(min_length=1)
    """Every address range used on-prem (LANs, node, pod and service ranges) that clouds must reach or avoid."""
    asn: int
    """The on-prem BGP ASN (private: 64512-65534 or 4200000000-4294967294)."""
    vpn_devices: list[VpnDevice] = Field(min_length=1, max_length=2)
    """One or two VPN devices (two give the redundant topologies on every cloud)."""


class CloudNetwork(ConfigModel):
    """One cloud region's private network and its VPN gateway."""

    cidr: Cidr
    """The network's address range; subnets and cluster ranges are carved from it."""
    asn: int
    """The BGP ASN of this region's VPN gateway / Cloud Router (unique in the plan)."""


class AwsNetwork(CloudNetwork):
    """An AWS VPC."""

    zones: int = Field(default=3, ge=2, le=3)
    """Availability zones to spread subnets over."""
    nat_gateways: Literal["none", "single", "perZone"] = "single"
    """NAT gateways for outbound internet: none, one shared, or one per zone (HA)."""


class Network(ConfigModel):
    """The hybrid network: address plan, BGP ASNs and VPN peers."""

    onprem: OnPremNetwork | None = None
    """The on-prem ranges, ASN and VPN devices (required when the on-prem site is enabled)."""
    aws: dict[Literal[tuple(sorted(AWS_REGIONS))], AwsNetwork] = Field(default_factory=dict)  # type: ignore[valid-type]
    """The VPC of each AWS region, by region."""
    gcp: dict[Literal[tuple(sorted(GCP_REGIONS))], CloudNetwork] = Field(default_factory=dict)  # type: ignore[valid-type]
    """The subnet ranges of each GCP region, by region (one global VPC)."""
    azure: dict[Literal[tuple(sorted(AZURE_LOCATIONS))], CloudNetwork] = Field(default_factory=dict)  # type: ignore[valid-type]
    """The VNet of each Azure location, by location."""
    extra_private_ranges: list[Cidr] = Field(default_factory=list)
    """Non-RFC 1918 ranges explicitly allowed as private (e.g. 100.64.0.0/10)."""
    tunnel_inside_pool: Cidr = IPv4Network("169.254.21.0/24")
    """Link-local pool for tunnel inside addresses (169.254.21.0/24 or 169.254.22.0/24 when Azure is used)."""
    flow_log_retention_days: Literal[7, 14, 30, 60, 90, 120, 150, 180, 365] = 90
    """Days VPC/VNet flow logs are kept (values CloudWatch Logs accepts)."""
    psk_rotation: int = Field(default=1, ge=1)
    """Bump to generate new VPN pre-shared keys on every tunnel (see runbooks)."""


class PlatformConfig(ConfigModel):
    """The whole platform configuration of one stack."""

    environment: Environment
    """The environment name; also the `environment` tag."""
    name_prefix: str = Field(default="hml", pattern=r"^[a-z][a-z0-9]{1,7}$")
    """Short prefix for physical names (2-8 lowercase alphanumerics)."""
    protect_stateful: bool | None = None
    """Protect stateful resources from deletion; defaults to true in prod, false elsewhere."""
    sites: Sites
    """Where the platform runs."""
    residency: Residency
    """The data-residency plan."""
    tags: Tags
    """Standard tag values."""
    storage: Storage = Field(default_factory=Storage)
    """Artifact storage."""
    network: Network | None = None
    """The hybrid network; without it no cloud networks or VPNs are built."""
    kubernetes: Kubernetes | None = None
    """Clusters, GPU pools and add-ons; cloud clusters need the network of their region."""
    services: Services = Field(default_factory=Services)
    """ML platform services (MLflow, Kafka, monitoring, serving) on the clusters above."""
    teams: list[Team] = Field(default_factory=list)
    """Team environments (namespace, quota, storage, topics, dashboards); `hybrid-ml team add`."""

    @property
    def prefix(self) -> str:
        return f"{self.name_prefix}-{self.environment}"

    @property
    def protect(self) -> bool:
        if self.protect_stateful is not None:
            return self.protect_stateful
        return self.environment == "prod"

    def standard_tags(self, data_classification: str | None = None) -> StandardTags:
        """The platform's tags; `data_classification` defaults to the residency default."""
        return StandardTags(
            owner=self.tags.owner, cost_center=self.tags.cost_center,
            environment=self.environment,
            data_classification=data_classification or self.residency.default_classification,
            managed_by=self.tags.managed_by,
        )

    def enabled_clouds(self) -> list[CloudSite]:
        return [
            cloud for cloud in ("aws", "gcp", "azure")
            if (site := getattr(self.sites, cloud)) is not None and site.enabled
        ]

    def cloud_regions(self, cloud: CloudSite) -> list[str]:
        site = getattr(self.sites, cloud)
        return list(site.locations if cloud == "azure" else site.regions)

    def store_sites(self, store: ArtifactStoreConfig) -> list[CloudSite]:
        return list(store.sites) if store.sites is not None else self.enabled_clouds()

    def onprem_enabled(self) -> bool:
        return self.sites.onprem is not None and self.sites.onprem.enabled

    def store_classification(self, store: ArtifactStoreConfig) -> str:
        return store.data_classification or self.residency.default_classification
