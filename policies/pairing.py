"""Pair a resource with the separate resources that configure it (stack policies only).

AWS provider v7 moved S3 encryption, versioning, policy and public-access
settings off ``aws:s3/bucket:Bucket`` into their own resources, and Azure
configures blob soft delete on ``BlobServiceProperties``. A bucket is only
compliant together with its companions, so these policies look at the whole
stack. A companion belongs to an owner when, in order of trust:

1. its link property (``bucket``, ``accountName``) depends on the owner's URN
   (``propertyDependencies``; exact, and works while names are unknown);
2. its link property equals the owner's name input (both known);
3. it has no property dependencies for the link at all and exactly one owner is
   among its ``dependencies`` (older engines / hand-written records).
"""

from __future__ import annotations

from collections.abc import Iterable

from helpers import is_unknown, lookup
from pulumi_policy import PolicyResource

S3_BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})


def of_types(resources: Iterable[PolicyResource], types: Iterable[str]) -> list[PolicyResource]:
    wanted = frozenset(types)
    return [r for r in resources if r.resource_type in wanted]


def companions(
    resources: list[PolicyResource],
    owner_types: Iterable[str],
    companion_types: Iterable[str],
    link: str,
    owner_name: str,
) -> dict[str, list[PolicyResource]]:
    """Owner URN -> the companions of ``companion_types`` that configure it (possibly none)."""
    owners = of_types(resources, owner_types)
    by_urn = {o.urn: o for o in owners}
    by_name: dict[str, list[PolicyResource]] = {}
    for owner in owners:
        name = lookup(owner.props, owner_name)
        if isinstance(name, str) and name:
            by_name.setdefault(name, []).append(owner)
    result: dict[str, list[PolicyResource]] = {o.urn: [] for o in owners}
    for comp in of_types(resources, companion_types):
        for owner in _owners_of(comp, by_urn, by_name, link):
            result[owner.urn].append(comp)
    return result


def owners_with_companions(
    resources: list[PolicyResource],
    owner_types: Iterable[str],
    companion_types: Iterable[str],
    link: str,
    owner_name: str,
) -> list[tuple[PolicyResource, list[PolicyResource]]]:
    """Each owner of ``owner_types`` with its companions (see :func:`companions`), in order."""
    owner_types = frozenset(owner_types)
    owners = {o.urn: o for o in of_types(resources, owner_types)}
    paired = companions(resources, owner_types, companion_types, link, owner_name)
    return [(owners[urn], configs) for urn, configs in paired.items()]


def s3_buckets_with(
    resources: list[PolicyResource], companion_types: Iterable[str]
) -> list[tuple[PolicyResource, list[PolicyResource]]]:
    """Each S3 bucket with its companions of ``companion_types`` (their ``bucket`` input links them)."""
    return owners_with_companions(resources, S3_BUCKET_TYPES, companion_types, "bucket", "bucket")


def _owners_of(
    comp: PolicyResource,
    by_urn: dict[str, PolicyResource],
    by_name: dict[str, list[PolicyResource]],
    link: str,
) -> list[PolicyResource]:
    linked = comp.property_dependencies.get(link) or []
    owners = [d for d in linked if d.urn in by_urn]
    if owners:
        return owners
    name = lookup(comp.props, link)
    if isinstance(name, str) and not is_unknown(name) and name in by_name:
        return by_name[name]
    if not linked:
        deps = [d for d in comp.dependencies if d.urn in by_urn]
        if len(deps) == 1:
            return deps
    return []


def depends_on_type(resource: PolicyResource, prop: str, types: Iterable[str]) -> bool:
    """Whether ``prop`` of ``resource`` (or, without property dependencies, the resource) uses one of ``types``."""
    wanted = frozenset(types)
    deps = resource.property_dependencies.get(prop)
    if deps is None:
        deps = resource.dependencies
    return any(d.resource_type in wanted for d in deps)
