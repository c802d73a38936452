"""Kubernetes workload baseline (the Pod Security "restricted" essentials), mapped to Checkov IDs.

Applies to Pods and to the pod templates of Deployments, StatefulSets,
DaemonSets, ReplicaSets, ReplicationControllers, Jobs (spec.template.spec) and
CronJobs (spec.jobTemplate.spec.template.spec). Containers are
``containers``, ``initContainers`` and ``ephemeralContainers``.

(This module is not called ``kubernetes.py`` so it never shadows the
``kubernetes`` client package on the pack's ``sys.path``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from helpers import Findings, Unknown, elements, is_unknown, lookup
from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:batch/v1beta1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_TYPES = frozenset(_POD_SPEC_PATHS)
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


class Container:
    """One container with its pod spec, read through the unknown-aware helpers."""

    def __init__(
        self,
        spec: Any,
        spec_path: tuple[str, ...],
        container: Any,
        path: tuple[str, ...],
        name: str,
    ) -> None:
        self.spec, self.spec_path, self.container, self.path, self.name = (
            spec,
            spec_path,
            container,
            path,
            name,
        )

    def get(self, *keys: str) -> Any:
        return lookup(self.container, *keys, base=self.path)

    def pod(self, *keys: str) -> Any:
        return lookup(self.spec, *keys, base=self.spec_path)


def pod_containers(resource_type: str, props: object, f: Findings) -> Iterator[Container]:
    """Every container of a workload; unknown specs/containers are recorded on ``f`` and skipped."""
    path = _POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return
    spec = lookup(props, *path)
    if is_unknown(spec):
        f.unknown(spec)
        return
    for list_name in _CONTAINER_LISTS:
        items = lookup(spec, list_name, base=path)
        if is_unknown(items):
            f.unknown(items)
            continue
        for i, container in enumerate(elements(items, (*path, list_name))):
            if is_unknown(container):
                f.unknown(container)
                continue
            name = lookup(container, "name")
            label = name if isinstance(name, str) else f"{list_name}[{i}]"
            yield Container(spec, path, container, (*path, list_name, str(i)), label)


Rule = Callable[[Container, Findings], str | None]


def _known(value: Any, f: Findings) -> bool:
    if isinstance(value, Unknown):
        f.unknown(value)
        return False
    return True


def rule_privileged(c: Container, f: Findings) -> str | None:
    value = c.get("securityContext", "privileged")
    return "runs privileged" if _known(value, f) and value is True else None


def rule_privilege_escalation(c: Container, f: Findings) -> str | None:
    value = c.get("securityContext", "allowPrivilegeEscalation")
    if not _known(value, f) or value is False:
        return None
    return "allowPrivilegeEscalation is not false (the default allows it)"


def rule_non_root(c: Container, f: Findings) -> str | None:
    # The container's securityContext overrides the pod's.
    non_root = c.get("securityContext", "runAsNonRoot")
    if non_root is None:
        non_root = c.pod("securityContext", "runAsNonRoot")
    user = c.get("securityContext", "runAsUser")
    if user is None:
        user = c.pod("securityContext", "runAsUser")
    if not _known(non_root, f) or not _known(user, f):
        return None
    if user is not None and float(user) == 0:
        return "runAsUser is 0 (root)"
    return None if non_root is True else "runAsNonRoot is not true (on the container or the pod)"


def rule_resources(c: Container, f: Findings) -> str | None:
    missing = []
    for kind, resource, check in (
        ("requests", "cpu", "CKV_K8S_10"),
        ("limits", "cpu", "CKV_K8S_11"),
        ("requests", "memory", "CKV_K8S_12"),
        ("limits", "memory", "CKV_K8S_13"),
    ):
        value = c.get("resources", kind, resource)
        if _known(value, f) and (value is None or str(value).strip() == ""):
            missing.append(f"{kind}.{resource} ({check})")
    return f"missing resources {', '.join(missing)}" if missing else None


def image_problem(image: Any) -> str | None:
    """Why an image reference is not pinned: no tag, or the tag latest. A digest always pins."""
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]  # a registry port ("host:5000/app") is not a tag
    tag = last.partition(":")[2]
    if not tag:
        return f"image {image!r} has no tag (means latest)"
    if tag == "latest":
        return f"image {image!r} uses the latest tag"
    return None


def rule_image(c: Container, f: Findings) -> str | None:
    image = c.get("image")
    return image_problem(image) if _known(image, f) else None


def rule_read_only_root(c: Container, f: Findings) -> str | None:
    value = c.get("securityContext", "readOnlyRootFilesystem")
    if not _known(value, f) or value is True:
        return None
    return "readOnlyRootFilesystem is not true"


_DANGEROUS_ADDS = frozenset(
    {"ALL", "NET_RAW", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE"}
)


def rule_capabilities(c: Container, f: Findings) -> str | None:
    drop = c.get("securityContext", "capabilities", "drop")
    add = c.get("securityContext", "capabilities", "add")
    if not _known(drop, f) or not _known(add, f):
        return None
    caps = (*c.path, "securityContext", "capabilities")
    dropped, added = list(elements(drop, (*caps, "drop"))), list(elements(add, (*caps, "add")))
    pending = [v for v in dropped + added if is_unknown(v)]
    if pending:
        f.unknown(pending[0])
        return None
    problems = []
    if "ALL" not in {str(d).upper() for d in dropped}:
        problems.append("capabilities.drop does not include ALL")
    risky = sorted({str(a).upper() for a in added} & _DANGEROUS_ADDS)
    if risky:
        problems.append(f"capabilities.add includes {risky}")
    return "; ".join(problems) or None


#: Environment variable names that carry credentials. A literal value there is a static secret in
#: the plan, the state and `kubectl describe`; it must come from a Secret (valueFrom) or, for
#: cloud access, from workload identity instead.
_CREDENTIAL_ENV = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|API_KEY|CONNECTION_STRING"
    r"|STORAGE_KEY|ACCOUNT_KEY|CREDENTIALS)",
    re.IGNORECASE,
)


def rule_no_literal_credentials(c: Container, f: Findings) -> str | None:
    env = c.get("env")
    if not _known(env, f):
        return None
    bad = []
    for i, item in enumerate(elements(env, (*c.path, "env"))):
        if is_unknown(item):
            f.unknown(item)
            continue
        name = lookup(item, "name")
        value = lookup(item, "value", base=(*c.path, "env", str(i)))
        if not isinstance(name, str) or not _CREDENTIAL_ENV.search(name):
            continue
        if is_unknown(value):
            f.unknown(value)
        elif isinstance(value, str) and value.strip():
            bad.append(name)
    return f"env {bad} set to literal values" if bad else None


def _workload_validator(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in WORKLOAD_TYPES:
            return
        f = Findings(report)
        problems = []
        for container in pod_containers(args.resource_type, args.props, f):
            why = rule(container, f)
            if why:
                problems.append(f"container {container.name}: {why}")
        if problems:
            f.violation(f"{args.name}: " + "; ".join(problems))
        f.settle()

    return validate


def _policy(
    name: str,
    checkov: list[str],
    title: str,
    description: str,
    rule: Rule,
    level: EnforcementLevel,
    severity: Severity,
    remediation: str,
) -> ResourceValidationPolicy:
    ids = "/".join(checkov)
    return ResourceValidationPolicy(
        name=name,
        display_name=title,
        description=f"{description} [Checkov {ids}]",
        validate=_workload_validator(rule),
        enforcement_level=level,
        severity=severity,
        framework=PolicyComplianceFramework(
            name="Checkov", reference=ids, specification="Kubernetes checks, bridgecrewio/checkov"
        ),
        tags=["kubernetes", "workload", *checkov],
        remediation_steps=remediation,
    )


k8s_no_privileged = _policy(
    "k8s-no-privileged-containers",
    ["CKV_K8S_16"],
    "Containers are not privileged",
    "No container of a Pod/workload sets securityContext.privileged true.",
    rule_privileged,
    EnforcementLevel.MANDATORY,
    Severity.CRITICAL,
    "Remove securityContext.privileged; grant the specific capability or device the workload needs instead.",
)
k8s_no_privilege_escalation = _policy(
    "k8s-no-privilege-escalation",
    ["CKV_K8S_20"],
    "Containers cannot escalate privileges",
    "Every container sets securityContext.allowPrivilegeEscalation false.",
    rule_privilege_escalation,
    EnforcementLevel.MANDATORY,
    Severity.HIGH,
    "Set securityContext.allowPrivilegeEscalation: false on every container.",
)
k8s_run_as_non_root = _policy(
    "k8s-run-as-non-root",
    ["CKV_K8S_23"],
    "Containers run as non-root",
    "runAsNonRoot is true for every container (container securityContext, else pod securityContext) "
    "and runAsUser is not 0.",
    rule_non_root,
    EnforcementLevel.MANDATORY,
    Severity.HIGH,
    "Set spec.securityContext.runAsNonRoot: true (and a non-zero runAsUser) and build images with a "
    "non-root USER.",
)
k8s_resources = _policy(
    "k8s-resource-requests-limits",
    ["CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13"],
    "Containers declare CPU and memory requests and limits",
    "Every container sets resources.requests and resources.limits for cpu and memory.",
    rule_resources,
    EnforcementLevel.ADVISORY,
    Severity.MEDIUM,
    "Set resources.requests.{cpu,memory} and resources.limits.{cpu,memory} (GPU jobs: also limits for "
    "nvidia.com/gpu).",
)
k8s_image_pinned = _policy(
    "k8s-image-pinned",
    ["CKV_K8S_14"],
    "Images are pinned",
    "Every container image has a tag other than latest, or a digest.",
    rule_image,
    EnforcementLevel.MANDATORY,
    Severity.MEDIUM,
    "Reference images by an immutable version tag or, better, by digest (image@sha256:...).",
)
k8s_read_only_root = _policy(
    "k8s-read-only-root-filesystem",
    ["CKV_K8S_22"],
    "Root filesystems are read-only",
    "Every container sets securityContext.readOnlyRootFilesystem true.",
    rule_read_only_root,
    EnforcementLevel.ADVISORY,
    Severity.MEDIUM,
    "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the app writes.",
)
k8s_drop_capabilities = _policy(
    "k8s-drop-all-capabilities",
    ["CKV_K8S_28", "CKV_K8S_37"],
    "Containers drop all capabilities",
    "Every container sets securityContext.capabilities.drop [ALL] (which covers NET_RAW) and adds none of "
    "ALL, NET_RAW, NET_ADMIN, SYS_ADMIN, SYS_PTRACE, SYS_MODULE.",
    rule_capabilities,
    EnforcementLevel.MANDATORY,
    Severity.MEDIUM,
    "Set securityContext.capabilities: {drop: [ALL]} and add back only what is needed (e.g. "
    "NET_BIND_SERVICE).",
)

k8s_no_literal_credentials = ResourceValidationPolicy(
    name="k8s-no-literal-credentials",
    display_name="Credentials never sit in container env as literals",
    description=(
        "No container env var named like a credential (PASSWORD, SECRET, TOKEN, ACCESS_KEY, "
        "PRIVATE_KEY, API_KEY, CONNECTION_STRING, STORAGE_KEY, ACCOUNT_KEY, CREDENTIALS) has a "
        "literal value; it comes from a Secret (valueFrom.secretKeyRef) or not at all."
    ),
    validate=_workload_validator(rule_no_literal_credentials),
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    tags=["kubernetes", "workload", "secrets"],
    remediation_steps=(
        "Put the value in a Kubernetes Secret created from a Pulumi secret and reference it with "
        "env[].valueFrom.secretKeyRef; for cloud storage use workload identity (EKS Pod Identity, "
        "GKE Workload Identity, Azure Workload Identity) instead of keys."
    ),
)

POLICIES = [
    k8s_no_privileged,
    k8s_no_privilege_escalation,
    k8s_run_as_non_root,
    k8s_resources,
    k8s_image_pinned,
    k8s_read_only_root,
    k8s_drop_capabilities,
    k8s_no_literal_credentials,
]
