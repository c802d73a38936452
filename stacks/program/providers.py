"""Explicit providers, one per cloud region and cluster, built from the stack config.

Default providers are disabled in every stack file, so a resource that forgets
its provider fails instead of landing in whatever region the shell points at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.tags import StandardTags, aws_tags, gcp_labels
from stacks.config.platform import PlatformConfig


@dataclass
class Providers:
    """Every provider of the stack, by cloud and region."""

    random: random.Provider
    #: Certificate authorities the program generates (platform CA, Kafka CAs).
    tls: tls.Provider
    aws: dict[str, aws.Provider] = field(default_factory=dict)
    gcp: dict[str, gcp.Provider] = field(default_factory=dict)
    azure: dict[str, azure.Provider] = field(default_factory=dict)
    onprem: k8s.Provider | None = None


def build_providers(
    cfg: PlatformConfig, tags: StandardTags, onprem_kubeconfig: pulumi.Input[str] | None
) -> Providers:
    out = Providers(random=random.Provider("random"), tls=tls.Provider("tls"))
    sites = cfg.sites
    if "aws" in cfg.enabled_clouds():
        for region in sites.aws.regions:
            out.aws[region] = aws.Provider(
                f"aws-{region}",
                region=region,
                allowed_account_ids=[sites.aws.account_id],
                default_tags={"tags": aws_tags(tags)},
            )
    if "gcp" in cfg.enabled_clouds():
        for region in sites.gcp.regions:
            out.gcp[region] = gcp.Provider(
                f"gcp-{region}",
                project=sites.gcp.project,
                region=region,
                default_labels=gcp_labels(tags),
            )
    if "azure" in cfg.enabled_clouds():
        for location in sites.azure.locations:
            out.azure[location] = azure.Provider(
                f"azure-{location}",
                subscription_id=sites.azure.subscription_id,
                tenant_id=sites.azure.tenant_id,
                location=location,
            )
    if sites.onprem is not None and sites.onprem.enabled and onprem_kubeconfig is not None:
        out.onprem = k8s.Provider(
            f"k8s-{sites.onprem.cluster_name}",
            kubeconfig=onprem_kubeconfig,
            cluster_identifier=sites.onprem.cluster_name,
        )
    return out
