"""Data residency: cloud resources stay in the regions the stack's residency plan allows.

Config (``data-residency``; both keys required -- the pack cannot guess a residency plan):

* ``allowedRegions``: every cloud region the stack may use (any cloud's names,
  compared lower-case), e.g. ``["eu-west-1", "europe-west4", "westeurope"]``.
* ``classifications``: per data classification, ``{"allowedRegions": [...],
  "onPremRequired": false}``. A resource tagged/labelled ``data-classification``
  must be in that class's regions too; a class with ``onPremRequired: true``
  may not be in any cloud; a class without ``allowedRegions`` allows no cloud
  region. A classification missing from the plan is a violation.

Where a resource is:

* AWS: its ``region`` input (provider v7 per-resource region), else its
  provider's ``region``. Global services (IAM, Organizations, CloudFront,
  Route 53 zones/records, ...) are skipped. A regional AWS resource whose
  region is on neither the resource nor its provider is a violation: the
  region would come from the environment, which the pack cannot see.
* GCP: its ``location``, ``region`` or ``zone`` input (zones count as their
  region), else the provider's ``region``/``zone``. Multi- and dual-regions
  (``EU``, ``US``, ``ASIA``, ``EUR4``...) and ``global`` are outside unless
  listed as such. No location anywhere: a global resource, skipped.
* Azure: its ``location`` input, else the provider's ``location``. No location
  anywhere: skipped (child resources live where their parent does).
* Kubernetes objects are not judged here: a Kubernetes provider does not say
  where its cluster is; the managed cluster resource (EKS/GKE/AKS) is judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers import Findings, Unknown, cloud_of, config_value, is_unknown, lookup, normalize_region
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyProviderResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)
from resource_tags import effective_tags

#: AWS services whose resources are global (no regional data plane to keep in the EU).
AWS_GLOBAL_PREFIXES = (
    "aws:budgets/",
    "aws:cloudfront/",
    "aws:costexplorer/",
    "aws:globalaccelerator/",
    "aws:iam/",
    "aws:organizations/",
    "aws:shield/",
    "aws:waf/",
)
AWS_GLOBAL_TYPES = frozenset(
    {
        "aws:route53/delegationSet:DelegationSet",
        "aws:route53/healthCheck:HealthCheck",
        "aws:route53/record:Record",
        "aws:route53/zone:Zone",
    }
)

#: Azure resources that only exist at location "global": private DNS zones and their VNet links
#: and records hold names, not data (a private endpoint's zone is global by Azure's design).
AZURE_GLOBAL_PREFIXES = ("azure-native:privatedns:",)

_RESOURCE_KEYS = {"aws": ("region",), "gcp": ("location", "region", "zone"), "azure": ("location",)}
_PROVIDER_KEYS = {"aws": ("region",), "gcp": ("region", "zone"), "azure": ("location",)}


def is_global(resource_type: str) -> bool:
    return (resource_type.startswith(AWS_GLOBAL_PREFIXES + AZURE_GLOBAL_PREFIXES)
            or resource_type in AWS_GLOBAL_TYPES)


def resource_region(
    resource_type: str, props: object, provider: PolicyProviderResource | None
) -> Any:
    """The normalized region of a cloud resource, an Unknown, or None when it has none."""
    cloud = cloud_of(resource_type)
    if cloud not in _RESOURCE_KEYS:
        return None
    for key in _RESOURCE_KEYS[cloud]:
        value = lookup(props, key)
        if is_unknown(value):
            return value
        if isinstance(value, str) and value.strip():
            return normalize_region(cloud, value)
    if provider is not None and provider.resource_type.startswith("pulumi:providers:"):
        for key in _PROVIDER_KEYS[cloud]:
            value = lookup(provider.props, key, base=("<provider>",))
            if is_unknown(value):
                return value
            if isinstance(value, str) and value.strip():
                return normalize_region(cloud, value)
    return None


def region_set(values: Any) -> set[str]:
    """A config list of regions as compared: stripped, lower-case."""
    return {str(v).strip().lower() for v in values or []}


def residency_plan_schema() -> PolicyConfigSchema:
    """The residency plan's config shape (both keys required), shared by every policy that judges
    where data may go: each policy sees only its own config, so each carries the plan."""
    return PolicyConfigSchema(
        properties={
            "allowedRegions": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Every cloud region the stack may use (AWS, GCP and Azure names).",
            },
            "classifications": {
                "type": "object",
                "description": "Per data classification: allowedRegions and onPremRequired.",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "allowedRegions": {"type": "array", "items": {"type": "string"}},
                        "onPremRequired": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        required=["allowedRegions", "classifications"],
    )


def check_residency(
    resource_type: str,
    props: object,
    provider: PolicyProviderResource | None,
    cfg: Mapping[str, Any] | None,
    f: Findings,
) -> list[str]:
    cloud = cloud_of(resource_type)
    if cloud not in _RESOURCE_KEYS or is_global(resource_type):
        return []
    region = resource_region(resource_type, props, provider)
    if is_unknown(region):
        f.unknown(region)
        return []
    if region is None:
        if cloud == "aws":
            return [
                (
                    "its region is set neither on the resource nor on its provider (it would come from "
                    "the environment); set region on the aws provider"
                )
            ]
        return []
    allowed = region_set(config_value(cfg, "allowedRegions", []))
    plan: Mapping[str, Any] = config_value(cfg, "classifications", {})
    problems = []
    if region not in allowed:
        problems.append(f"region {region!r} is not in the allowed regions {sorted(allowed)}")

    tags = effective_tags(resource_type, props, provider)
    cls: Any = tags.get("data-classification") if tags is not None else None
    if isinstance(cls, Unknown):
        f.unknown(cls)
    elif isinstance(cls, str) and cls.strip():
        rules = plan.get(cls)
        if not isinstance(rules, Mapping):
            problems.append(
                f"data-classification {cls!r} is not in the residency plan {sorted(plan)}"
            )
        elif rules.get("onPremRequired") is True:
            problems.append(
                f"{cls!r} data must stay on-prem, but this is a {cloud} resource in {region!r}"
            )
        elif region in allowed and region not in (
            class_regions := region_set(rules.get("allowedRegions"))
        ):
            problems.append(f"{cls!r} data may only be in {sorted(class_regions)}, not {region!r}")
    return problems


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    problems = check_residency(args.resource_type, args.props, args.provider, args.get_config(), f)
    if problems:
        f.violation(f"{args.name}: " + "; ".join(problems))
    f.settle()


data_residency = ResourceValidationPolicy(
    name="data-residency",
    display_name="Resources stay in the allowed regions for their data",
    description=(
        "Every AWS/GCP/Azure resource's region (own input, else its provider's) is in allowedRegions; "
        "one with a data-classification tag/label is also in that class's allowedRegions, and a class "
        "with onPremRequired may not be in any cloud. Global services are skipped."
    ),
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["residency", "gdpr", "data-classification"],
    config_schema=residency_plan_schema(),
    remediation_steps=(
        "Deploy the resource through a provider for an allowed region (stacks/program/providers.py builds one per "
        "configured region) or fix its location; keep data of on-prem-only classes on the on-prem cluster; "
        "if the plan itself should change, change residency in Pulumi.<stack>.yaml and run "
        "`hybrid-ml policy-config <stack> --write` (rewrites policies/config.<stack>.json)."
    ),
)

POLICIES = [data_residency]
