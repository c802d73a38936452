"""Wire GPU model serving onto the clusters the config names, with DNS failover between sites.

Per model and cluster a `ModelServing` (stable/canary Deployments of the MLflow 3.18
`build-docker` images, `POST /invocations` split by an HTTPRoute on the platform Gateway).
Every cluster that is a failover site of some model also gets a public entry:
a static public address (AWS Elastic IPs in the VPC's public subnets, a GCP regional address, an
Azure public IP; on-prem the DMZ/NAT address from config) and the `serving-public` Gateway on it.
Per model with failover, Route 53 health checks probe both sites' entries (`GET /ping` of the
stable version) and two failover records (PRIMARY/SECONDARY) answer `<model>.<failover domain>`
with the healthy site. The public certificate comes from `failover.clusterIssuer` (default the
private `platform-ca`: clients must trust the `platformRootCa` stack output, or operators name a
publicly trusted issuer there).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.aws.public_address import PublicAddress as AwsPublicAddress
from components.aws.public_address import PublicAddressArgs as AwsPublicAddressArgs
from components.aws.serving_dns import FailoverDns, FailoverDnsArgs, FailoverSite
from components.azure.public_address import PublicAddress as AzurePublicAddress
from components.azure.public_address import PublicAddressArgs as AzurePublicAddressArgs
from components.gcp.public_address import PublicAddress as GcpPublicAddress
from components.gcp.public_address import PublicAddressArgs as GcpPublicAddressArgs
from components.kubernetes.model_serving import (
    HEALTH_PATH,
    INFERENCE_PATH,
    JwtAuth,
    ModelServing,
    ModelServingArgs,
    ServedVersion,
)
from components.kubernetes.serving_gateway import PublicGateway, PublicGatewayArgs
from stacks.config.serving import Model, Serving
from stacks.plan.serving import accepted_pools, cpu_limit
from stacks.program.clusters import Cluster
from stacks.program.services.context import Built, ServiceContext

#: Stack output: per model its sites (URL, weights) and failover record; no secrets.
SERVING_OUTPUT = "serving"
_PURPOSE = "serving"


def site_name(ref: str) -> str:
    """A cluster reference as a name part: `onprem`, `aws-eu-west-1`."""
    return ref.replace("/", "-")


def _versions(model: Model) -> tuple[ServedVersion, ...]:
    canary = model.canary
    out = [ServedVersion(track="stable", version=model.stable.version, image=model.stable.image,
                         weight=100 - (canary.weight if canary else 0),
                         min_replicas=model.stable.min_replicas, max_replicas=model.stable.max_replicas)]
    if canary is not None:
        out.append(ServedVersion(track="canary", version=canary.version, image=canary.image,
                                 weight=canary.weight, min_replicas=canary.min_replicas,
                                 max_replicas=canary.max_replicas))
    return tuple(out)


def _public_entry(ctx: ServiceContext, serving: Serving, cluster: Cluster
                  ) -> tuple[list[Any], dict[str, Any]]:
    """The site's public addresses and the Service annotations that put its gateway on them."""
    cfg, plan = ctx.cfg, cluster.plan
    fo = serving.failover
    assert fo is not None
    if plan.site == "onprem":
        # The DMZ/NAT forwards this address's 443 to the on-prem gateway's load balancer.
        assert fo.onprem_public_address is not None
        return [str(fo.onprem_public_address)], dict(fo.onprem_service_annotations)
    name = f"{_PURPOSE}-address-{plan.site}-{plan.region}"
    if plan.site == "aws":
        aws = AwsPublicAddress(name, AwsPublicAddressArgs(
            prefix=cfg.prefix, purpose=_PURPOSE, region=plan.region,
            subnet_ids=list(ctx.networks.aws[plan.region].public_subnet_ids), tags=ctx.tags,
            protect=cfg.protect,
        ), pulumi.ResourceOptions(providers=[ctx.providers.aws[plan.region]]))
        return list(aws.addresses), aws.service_annotations
    if plan.site == "gcp":
        gcp = GcpPublicAddress(name, GcpPublicAddressArgs(
            prefix=cfg.prefix, purpose=_PURPOSE, project=cfg.sites.gcp.project,
            region=plan.region, tags=ctx.tags, protect=cfg.protect,
        ), pulumi.ResourceOptions(providers=[ctx.providers.gcp[plan.region]]))
        return list(gcp.addresses), gcp.service_annotations
    # AKS: the cluster's control-plane identity attaches the address (Network Contributor on
    # the address's resource group); components/azure/cluster.py exposes its principal id.
    principal = getattr(cluster.cloud, "identity_principal_id", None)
    if principal is None:
        raise pulumi.RunError(
            f"serving failover on {plan.ref} needs the AKS cluster identity's principal id "
            "(components/azure/cluster.py KubernetesCluster.identity_principal_id)")
    azure = AzurePublicAddress(name, AzurePublicAddressArgs(
        prefix=cfg.prefix, purpose=_PURPOSE, subscription_id=cfg.sites.azure.subscription_id,
        location=plan.region, cluster_principal_id=principal, tags=ctx.tags, protect=cfg.protect,
    ), pulumi.ResourceOptions(providers=[ctx.providers.azure[plan.region]]))
    return list(azure.addresses), azure.service_annotations


def build_serving(ctx: ServiceContext, built: Built) -> None:
    """Every configured model on its clusters, public entries and failover DNS; exports `serving`."""
    cfg = ctx.cfg
    serving = cfg.services.serving
    assert serving is not None and cfg.kubernetes is not None
    fo = serving.failover
    auth = (JwtAuth(issuer=serving.auth.issuer, jwks_uri=serving.auth.jwks_uri,
                    audiences=tuple(serving.auth.audiences)) if serving.auth else None)

    public_refs = sorted({ref for m in serving.models if m.failover is not None
                          for ref in (m.failover.primary, m.failover.secondary)})
    addresses: dict[str, list[Any]] = {}
    gateways: dict[str, PublicGateway] = {}
    for ref in public_refs:
        assert fo is not None
        cluster = ctx.clusters[ref]
        addresses[ref], annotations = _public_entry(ctx, serving, cluster)
        gateways[ref] = PublicGateway(f"{_PURPOSE}-public-{cluster.plan.name}", PublicGatewayArgs(
            site=cluster.plan.site, hostname=f"*.{fo.domain}", route_namespace=serving.namespace,
            cluster_issuer=fo.cluster_issuer, service_annotations=annotations, tags=ctx.tags,
            after=(cluster.addons,),
        ), pulumi.ResourceOptions(providers=[cluster.provider]))

    summary: dict[str, Any] = {}
    dns_provider = ctx.providers.aws[cfg.sites.aws.regions[0]] if ctx.providers.aws else None
    for model in serving.models:
        public_host = f"{model.name}.{fo.domain}" if model.failover and fo else None
        sites: dict[str, Any] = {}
        for ref in model.clusters:
            cluster = ctx.clusters[ref]
            exposed = public_host is not None and ref in gateways
            served = ModelServing(f"{_PURPOSE}-{cluster.plan.name}-{model.name}", ModelServingArgs(
                model=model.name, registered_model=model.registered_model,
                namespace=serving.namespace, cluster_name=cluster.plan.name, site=cluster.plan.site,
                base_domain=cfg.kubernetes.base_domain, versions=_versions(model),
                gpus_per_replica=model.gpus_per_replica,
                gpu_types=tuple(sorted({p.gpu_type for p in accepted_pools(cfg, model, ref)})),
                spot=model.spot, cpu=model.cpu, cpu_limit=cpu_limit(model), memory=model.memory,
                shm_size=model.shm_size, workers=model.workers,
                request_timeout_seconds=model.request_timeout_seconds,
                run_as_user=serving.run_as_user,
                target_cpu_utilization=model.target_cpu_utilization,
                public_hostname=public_host if exposed else None, auth=auth,
                after=(cluster.addons, *([gateways[ref]] if exposed else [])),
                tags=ctx.tags,
            ), pulumi.ResourceOptions(providers=[cluster.provider]))
            sites[ref] = {"cluster": cluster.plan.name, "url": served.url, "weights": served.weights,
                          "versions": {v.track: v.version for v in _versions(model)}}
        entry: dict[str, Any] = {"registeredModel": model.registered_model, "sites": sites,
                                 "failover": None}
        if model.failover is not None and fo is not None and public_host is not None:
            assert dns_provider is not None
            primary, secondary = model.failover.primary, model.failover.secondary
            dns = FailoverDns(f"{_PURPOSE}-dns-{model.name}", FailoverDnsArgs(
                zone_id=fo.hosted_zone_id, record_name=public_host,
                primary=FailoverSite(name=site_name(primary), addresses=addresses[primary]),
                secondary=FailoverSite(name=site_name(secondary), addresses=addresses[secondary]),
                health_path=HEALTH_PATH, request_interval=fo.health_check_interval,
                failure_threshold=fo.failure_threshold, tags=ctx.tags,
            ), pulumi.ResourceOptions(providers=[dns_provider]))
            entry["failover"] = {
                "record": public_host,
                "url": f"https://{public_host}{INFERENCE_PATH}",
                "primary": primary,
                "secondary": secondary,
                "healthCheckPath": HEALTH_PATH,
                "healthChecks": dns.health_check_ids,
                "addresses": {primary: addresses[primary], secondary: addresses[secondary]},
            }
        summary[model.name] = entry
    pulumi.export(SERVING_OUTPUT, summary)
