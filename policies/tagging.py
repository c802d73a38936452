"""Required tags: every taggable resource says who owns it, who pays, where it runs and how sensitive it is.

Config (``required-tags`` in the policy config file; all optional, defaults below):

* ``requiredTags``: keys that must be present and non-empty.
* ``environments``: allowed values of the ``environment`` tag.
* ``classifications``: allowed values of the ``data-classification`` tag (the
  classification names of the stack's residency plan).
* ``costCenterPattern``: regular expression the ``cost-center`` tag must match.
  GCP label values can only be lower case, so on GCP the value is upper-cased
  before matching (``ml-4100`` matches ``^[A-Z]{2,6}-[0-9]{3,6}$``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from helpers import Findings, cloud_of, config_value, is_unknown
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyProviderResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)
from resource_tags import K8S_LABEL_PREFIX, effective_tags

DEFAULT_REQUIRED_TAGS = ["owner", "cost-center", "environment", "data-classification", "managed-by"]
DEFAULT_ENVIRONMENTS = ["dev", "staging", "prod"]
DEFAULT_CLASSIFICATIONS = ["public", "internal", "confidential", "restricted"]
DEFAULT_COST_CENTER_PATTERN = r"^[A-Z]{2,6}-[0-9]{3,6}$"


def check_tags(
    resource_type: str,
    props: object,
    provider: PolicyProviderResource | None,
    cfg: Mapping[str, Any] | None,
    f: Findings,
) -> list[str]:
    """Why this resource's tags are not acceptable (empty when they are, or it is not taggable)."""
    tags = effective_tags(resource_type, props, provider)
    if tags is None:
        return []
    required = list(config_value(cfg, "requiredTags", DEFAULT_REQUIRED_TAGS))
    environments = list(config_value(cfg, "environments", DEFAULT_ENVIRONMENTS))
    classes = list(config_value(cfg, "classifications", DEFAULT_CLASSIFICATIONS))
    pattern = str(config_value(cfg, "costCenterPattern", DEFAULT_COST_CENTER_PATTERN))
    cloud = cloud_of(resource_type)
    prefix = K8S_LABEL_PREFIX if cloud == "kubernetes" else ""
    kind = "label" if cloud in ("gcp", "kubernetes") else "tag"

    problems: list[str] = []
    missing: list[str] = []
    for key in required:
        value = tags.get(key)
        if is_unknown(value):
            f.unknown(value)
        elif value is None or not str(value).strip():
            missing.append(prefix + key)
    if missing:
        problems.append(f"missing or empty required {kind}s: {', '.join(missing)}")

    def known(key: str) -> str | None:
        value = tags.get(key)
        return None if value is None or is_unknown(value) or not str(value).strip() else str(value)

    env = known("environment")
    if env is not None and env not in environments:
        problems.append(f"{kind} {prefix}environment={env!r} is not one of {environments}")
    cls = known("data-classification")
    if cls is not None and cls not in classes:
        problems.append(f"{kind} {prefix}data-classification={cls!r} is not one of {classes}")
    cost = known("cost-center")
    if cost is not None:
        candidate = cost.upper() if cloud == "gcp" else cost
        if not re.search(pattern, candidate):
            problems.append(f"{kind} {prefix}cost-center={cost!r} does not match {pattern}")
    return problems


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    problems = check_tags(args.resource_type, args.props, args.provider, args.get_config(), f)
    if problems:
        f.violation(f"{args.name}: " + "; ".join(problems))
    f.settle()


required_tags = ResourceValidationPolicy(
    name="required-tags",
    display_name="Resources carry the standard tags",
    description=(
        "Taggable AWS/Azure resources (tags), GCP resources (labels) and Kubernetes objects "
        "(metadata.labels, keys prefixed hybridml.io/) carry owner, cost-center, environment, "
        "data-classification and managed-by, non-empty; provider defaultTags/defaultLabels count. "
        "environment and data-classification take configured values; cost-center matches the pattern."
    ),
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    tags=["tagging", "cost", "ownership"],
    config_schema=PolicyConfigSchema(
        properties={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_REQUIRED_TAGS,
                "description": "Tag keys every taggable resource must carry.",
            },
            "environments": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_ENVIRONMENTS,
                "description": "Allowed values of the environment tag.",
            },
            "classifications": {
                "type": "array",
                "items": {"type": "string"},
                "default": DEFAULT_CLASSIFICATIONS,
                "description": "Allowed values of the data-classification tag.",
            },
            "costCenterPattern": {
                "type": "string",
                "default": DEFAULT_COST_CENTER_PATTERN,
                "description": "Regex for cost-center (GCP values are upper-cased first).",
            },
        },
    ),
    remediation_steps=(
        "Build tags with components.tags (aws_tags / gcp_labels / azure_tags / k8s_labels) from the "
        "stack's StandardTags and pass them to every resource; for AWS/GCP the provider's "
        "default_tags / default_labels may carry them instead."
    ),
)

POLICIES = [required_tags]
