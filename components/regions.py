"""Known regions per cloud, used to reject typos before anything is built.

Kept as data rather than fetched: the preview must work offline and a region
that does not exist should fail at config time, not at `pulumi up` time.
"""

from __future__ import annotations

from typing import Literal

Cloud = Literal["aws", "gcp", "azure"]

AWS_REGIONS: frozenset[str] = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
})

GCP_REGIONS: frozenset[str] = frozenset({
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2",
    "asia-northeast3", "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
    "australia-southeast1", "australia-southeast2", "europe-central2", "europe-north1",
    "europe-north2", "europe-southwest1", "europe-west1", "europe-west2", "europe-west3",
    "europe-west4", "europe-west6", "europe-west8", "europe-west9", "europe-west10",
    "europe-west12", "me-central1", "me-central2", "me-west1", "northamerica-northeast1",
    "northamerica-northeast2", "northamerica-south1", "southamerica-east1",
    "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
    "us-west1", "us-west2", "us-west3", "us-west4",
})

AZURE_LOCATIONS: frozenset[str] = frozenset({
    "australiacentral", "australiaeast", "australiasoutheast", "austriaeast", "belgiumcentral",
    "brazilsouth", "canadacentral", "canadaeast", "centralindia", "centralus", "chilecentral",
    "denmarkeast", "eastasia", "eastus", "eastus2", "francecentral", "francesouth",
    "germanynorth", "germanywestcentral", "indonesiacentral", "israelcentral", "italynorth",
    "japaneast", "japanwest", "koreacentral", "koreasouth", "malaysiawest", "mexicocentral",
    "newzealandnorth", "northcentralus", "northeurope", "norwayeast", "norwaywest",
    "polandcentral", "qatarcentral", "southafricanorth", "southafricawest", "southcentralus",
    "southeastasia", "southindia", "spaincentral", "swedencentral", "switzerlandnorth",
    "switzerlandwest", "uaecentral", "uaenorth", "uksouth", "ukwest", "westcentralus",
    "westeurope", "westindia", "westus", "westus2", "westus3",
})

REGIONS_BY_CLOUD: dict[str, frozenset[str]] = {
    "aws": AWS_REGIONS,
    "gcp": GCP_REGIONS,
    "azure": AZURE_LOCATIONS,
}

#: The pseudo-region that stands for the on-prem estate in residency plans.
ONPREM = "onprem"


def cloud_of(region: str) -> str | None:
    """The cloud a region name belongs to (`onprem` for the on-prem estate), or None."""
    if region == ONPREM:
        return ONPREM
    for cloud, regions in REGIONS_BY_CLOUD.items():
        if region in regions:
            return cloud
    return None
