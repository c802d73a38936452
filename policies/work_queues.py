"""Work-queue residency: MultiKueue sends a team's work only to clusters its data may go to.

Kueue's MultiKueue dispatches the workloads of a team's ``burst`` queue on the on-prem
manager to the worker clusters its MultiKueueConfig names in ``spec.clusters``; each name is
a MultiKueueCluster on the manager, labelled with where that worker runs. A worker in a
region the team's data classification may not be in would carry the team's data there, so
this stack policy judges the configs together with the clusters they name.

Config (``work-queue-residency``; both keys required, the same shape and values as
``data-residency``'s: a CrossGuard policy sees only its own config, so the residency plan is
carried twice, and ``hybrid-ml policy-config STACK --write`` writes both from the stack's
``residency``):

* ``allowedRegions``: every cloud region the stack may use;
* ``classifications``: per data classification ``{"allowedRegions": [...],
  "onPremRequired": false}``.

What is judged, per MultiKueueConfig (``kueue.x-k8s.io`` v1beta2, and v1beta1):

* it carries the label ``hybridml.io/data-classification`` with a class of the plan;
* each name in ``spec.clusters`` is the ``metadata.name`` of a MultiKueueCluster of the stack
  on the same Kubernetes cluster (the same provider), labelled ``hybridml.io/cluster-site``
  and ``hybridml.io/cluster-region``;
* a cloud worker (site ``aws``, ``gcp`` or ``azure``) is in ``allowedRegions`` and in the
  class's ``allowedRegions``; a class with ``onPremRequired`` may have no cloud worker at all.
  A worker at site ``onprem`` keeps the data on-prem and passes; any other site is a
  violation (nobody can say where it is).

Each problem is one violation on the MultiKueueConfig, naming the config, the cluster, its
region and what is allowed. Unknown values (a name or label not known at preview) leave that
check undecided, never passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers import (
    Findings,
    Unknown,
    config_value,
    elements,
    is_unknown,
    lookup,
    normalize_region,
)
from pairing import of_types
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from residency import region_set, residency_plan_schema

MULTIKUEUE_CONFIG_TYPES = frozenset(
    {
        "kubernetes:kueue.x-k8s.io/v1beta2:MultiKueueConfig",
        "kubernetes:kueue.x-k8s.io/v1beta1:MultiKueueConfig",
    }
)
MULTIKUEUE_CLUSTER_TYPES = frozenset(
    {
        "kubernetes:kueue.x-k8s.io/v1beta2:MultiKueueCluster",
        "kubernetes:kueue.x-k8s.io/v1beta1:MultiKueueCluster",
    }
)
CLASSIFICATION_LABEL = "hybridml.io/data-classification"
SITE_LABEL = "hybridml.io/cluster-site"
REGION_LABEL = "hybridml.io/cluster-region"
ONPREM_SITE = "onprem"
CLOUD_SITES = ("aws", "gcp", "azure")


def _provider_urn(resource: PolicyResource) -> str | None:
    return resource.provider.urn if resource.provider is not None else None


class _Workers:
    """The stack's MultiKueueClusters by (provider URN, metadata.name)."""

    def __init__(self, clusters: list[PolicyResource]) -> None:
        self.named: dict[tuple[str | None, str], list[PolicyResource]] = {}
        # per provider, the unknown name of a cluster there (named after that cluster)
        self.unnamed: dict[str | None, Unknown] = {}
        for cluster in clusters:
            name = lookup(cluster.props, "metadata", "name")
            if is_unknown(name):
                self.unnamed.setdefault(
                    _provider_urn(cluster), Unknown(name.sentinel, (cluster.name, *name.path)))
            elif isinstance(name, str) and name:
                self.named.setdefault((_provider_urn(cluster), name), []).append(cluster)

    def on(self, provider: str | None, name: str) -> list[PolicyResource]:
        if provider is None:  # no provider to tell clusters apart: every cluster of that name
            return [c for (_, n), found in self.named.items() if n == name for c in found]
        return self.named.get((provider, name), [])

    def names_on(self, provider: str | None) -> list[str]:
        return sorted({n for (p, n) in self.named if provider is None or p == provider})

    def unnamed_on(self, provider: str | None) -> Unknown | None:
        """The unknown name of a cluster that may be the one looked for, if any."""
        if provider is None:
            return next(iter(self.unnamed.values()), None)
        return self.unnamed.get(provider)


def _classification(
    config: PolicyResource, plan: Mapping[str, Any], f: Findings
) -> tuple[str | None, Mapping[str, Any] | None, list[str]]:
    """The config's class and its rules (None when unknown or bad), and the problems found."""
    cls = lookup(config.props, "metadata", "labels", CLASSIFICATION_LABEL)
    if is_unknown(cls):
        f.unknown(cls, config.name)
        return None, None, []
    if not isinstance(cls, str) or not cls.strip():
        return None, None, [
            f"has no {CLASSIFICATION_LABEL} label, so nothing says where its work may go; "
            f"label it with the team's class, one of {sorted(plan)}"
        ]
    rules = plan.get(cls)
    if not isinstance(rules, Mapping):
        return cls, None, [
            f"is labelled {CLASSIFICATION_LABEL}={cls!r}, a class not in the residency plan "
            f"{sorted(plan)}"
        ]
    return cls, rules, []


def _worker_problems(
    where: str,
    cluster: PolicyResource,
    cls: str | None,
    rules: Mapping[str, Any] | None,
    allowed: set[str],
    f: Findings,
) -> list[str]:
    """Why sending the config's work to ``cluster`` breaks the plan (``where`` names the cluster)."""
    site = lookup(cluster.props, "metadata", "labels", SITE_LABEL)
    region = lookup(cluster.props, "metadata", "labels", REGION_LABEL)
    undecided = [v for v in (site, region) if is_unknown(v)]
    for value in undecided:
        f.unknown(value, cluster.name)
    if undecided:
        return []
    class_regions = region_set(rules.get("allowedRegions")) if rules is not None else None
    may = (
        "must stay on-prem"
        if rules is not None and rules.get("onPremRequired") is True
        else f"may be in {sorted(class_regions if class_regions is not None else allowed)}"
    )
    data = f"{cls!r} data" if rules is not None else "its data"
    work = f"{cls!r} work" if rules is not None else "its work"
    missing = [label for label, v in ((SITE_LABEL, site), (REGION_LABEL, region))
               if not isinstance(v, str) or not v.strip()]
    if missing:
        return [
            f"sends work to {where}, whose MultiKueueCluster has no {' or '.join(missing)} label, "
            f"so where it runs is unknown ({data} {may})"
        ]
    site = site.strip().lower()
    if site == ONPREM_SITE:
        return []
    if site not in CLOUD_SITES:
        return [
            f"sends work to {where} at site {site!r}, neither {ONPREM_SITE} nor a cloud "
            f"({', '.join(CLOUD_SITES)}), so where it runs is unknown ({data} {may})"
        ]
    region = normalize_region(site, region)
    at = f"{where} ({site}, region {region!r})"
    problems = []
    if region not in allowed:
        problems.append(
            f"sends work to {at}, outside the stack's allowed regions {sorted(allowed)}"
        )
    if rules is not None and rules.get("onPremRequired") is True:
        problems.append(
            f"sends {work} to {at}, but {data} must stay on-prem: no cloud worker is allowed"
        )
    elif class_regions is not None and region in allowed and region not in class_regions:
        problems.append(f"sends {work} to {at}, but {data} may only be in {sorted(class_regions)}")
    return problems


def check_work_queue_residency(
    configs: list[PolicyResource],
    clusters: list[PolicyResource],
    cfg: Mapping[str, Any] | None,
    f: Findings,
) -> list[tuple[PolicyResource, str]]:
    """Each (MultiKueueConfig, why) that would send a classification where it may not go."""
    allowed = region_set(config_value(cfg, "allowedRegions", []))
    plan: Mapping[str, Any] = config_value(cfg, "classifications", {})
    workers = _Workers(clusters)
    found: list[tuple[PolicyResource, str]] = []
    for config in configs:
        name = lookup(config.props, "metadata", "name")
        label = f"MultiKueueConfig {name!r}" if isinstance(name, str) else "MultiKueueConfig"
        cls, rules, problems = _classification(config, plan, f)
        found += [(config, f"{label} {why}") for why in problems]
        names = lookup(config.props, "spec", "clusters")
        if is_unknown(names):
            f.unknown(names, config.name)
            continue
        provider = _provider_urn(config)
        for worker in elements(names, ("spec", "clusters")):
            if is_unknown(worker):
                f.unknown(worker, config.name)
                continue
            matches = workers.on(provider, str(worker))
            if not matches:
                unnamed = workers.unnamed_on(provider)
                if unnamed is not None:  # a cluster whose name is unknown may be the one
                    f.unknown(unnamed)
                    continue
                found.append((config, (
                    f"{label} names cluster {worker!r}, which is no MultiKueueCluster of the "
                    f"stack on its Kubernetes cluster (there: {workers.names_on(provider)}), so "
                    f"where its work goes is unknown")))
                continue
            where = f"cluster {worker!r}"
            for cluster in matches:
                found += [(config, f"{label} {why}")
                          for why in _worker_problems(where, cluster, cls, rules, allowed, f)]
    return found


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    f = Findings(report)
    resources = list(args.resources)
    found = check_work_queue_residency(
        of_types(resources, MULTIKUEUE_CONFIG_TYPES),
        of_types(resources, MULTIKUEUE_CLUSTER_TYPES),
        args.get_config(),
        f,
    )
    for config, why in found:
        f.violation(f"{config.name}: {why}", config.urn)
    f.settle()


work_queue_residency = StackValidationPolicy(
    name="work-queue-residency",
    display_name="Work queues burst only where the team's data may go",
    description=(
        "Every kueue.x-k8s.io MultiKueueConfig carries hybridml.io/data-classification (a class of "
        "the residency plan) and names only MultiKueueClusters of the stack (same Kubernetes "
        "provider, by metadata.name) labelled hybridml.io/cluster-site and "
        "hybridml.io/cluster-region; a cloud worker's region is in allowedRegions and in the "
        "class's allowedRegions, and an onPremRequired class has no cloud worker. The residency "
        "plan is this policy's own config, the same shape and values as data-residency's."
    ),
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    tags=["residency", "gdpr", "data-classification", "kubernetes", "kueue"],
    config_schema=residency_plan_schema(),
    remediation_steps=(
        "Burst the team only to clusters its classification allows: fix teams[].queue.burstTo in "
        "Pulumi.<stack>.yaml (the config checks name what is allowed) and preview again. If the "
        "residency plan itself should change, change residency in Pulumi.<stack>.yaml and run "
        "`hybrid-ml policy-config <stack> --write` (rewrites policies/config.<stack>.json)."
    ),
)

POLICIES = [work_queue_residency]
