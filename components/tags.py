"""The standard tags, and the one place that turns them into each target's form.

Every component calls these helpers explicitly: Pulumi transforms do not run
under the SDK mocks, so tags added by a transform would be invisible offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The keys every taggable resource carries, in their canonical (AWS/Azure) spelling.
REQUIRED_TAG_KEYS: tuple[str, ...] = (
    "owner",
    "cost-center",
    "environment",
    "data-classification",
    "managed-by",
)

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
COST_CENTER_PATTERN = r"^[A-Z]{2,6}-[0-9]{3,6}$"
COST_CENTER_RULE = "like ML-4200: 2-6 capital letters, a dash, 3-6 digits"
#: The owner is written as it is on every target, so it keeps within the strictest one's rules:
#: GCP label values (lowercase letters, digits, `_`, `-`) and Kubernetes label values
#: (alphanumeric at both ends), at most 63 characters. Hence a handle, never an e-mail address.
OWNER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$"
OWNER_RULE = ("a team or person handle like fraud-team: 2-63 lowercase letters, digits, '-' and "
              "'_', starting and ending with a letter or digit (no '@' or '.': the owner is the "
              "same value on every cloud and in Kubernetes labels, and GCP labels cannot hold "
              "them)")

_COST_CENTER_RE = re.compile(COST_CENTER_PATTERN)
_OWNER_RE = re.compile(OWNER_PATTERN)
_GCP_MAX = 63
_GCP_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_K8S_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
#: Kubernetes label keys get a prefix so they never clash with app labels.
K8S_LABEL_PREFIX = "hybridml.io/"


def canonical_cost_center(value: str) -> str | None:
    """The cost centre in its one form (upper case: `cc-4242` is `CC-4242`), or None."""
    upper = value.upper()
    return upper if _COST_CENTER_RE.match(upper) else None


def canonical_owner(value: str) -> str | None:
    """The owner in its one form (lower case), or None when a target could not carry it as is."""
    lower = value.lower()
    return lower if _OWNER_RE.match(lower) else None


def owner_hint(value: str) -> str:
    """`; e.g. fraud-team for fraud-team@example.com` when the local part would do."""
    local = value.split("@", 1)[0].lower().replace(".", "-")
    if "@" in value and canonical_owner(local):
        return f"; e.g. {local} for {value}"
    return ""


@dataclass(frozen=True)
class StandardTags:
    """The standard tag values of one resource (or group of resources)."""

    owner: str
    cost_center: str
    environment: str
    data_classification: str
    managed_by: str = "pulumi"

    def as_dict(self) -> dict[str, str]:
        return {
            "owner": self.owner,
            "cost-center": self.cost_center,
            "environment": self.environment,
            "data-classification": self.data_classification,
            "managed-by": self.managed_by,
        }

    def with_classification(self, data_classification: str) -> StandardTags:
        return StandardTags(
            owner=self.owner,
            cost_center=self.cost_center,
            environment=self.environment,
            data_classification=data_classification,
            managed_by=self.managed_by,
        )


def aws_tags(tags: StandardTags, **extra: str) -> dict[str, str]:
    """AWS `tags`: keys and values as they are (AWS allows `-`, mixed case, 256 chars)."""
    return {**tags.as_dict(), **extra}


def azure_tags(tags: StandardTags, **extra: str) -> dict[str, str]:
    """Azure `tags`: same keys as AWS; Azure allows them as they are."""
    return {**tags.as_dict(), **extra}


def gcp_label_value(value: str) -> str:
    """A value within GCP's label rules: lowercase letters, digits, `_` and `-`, at most 63."""
    cleaned = re.sub(r"[^a-z0-9_-]", "_", value.lower())
    return cleaned[:_GCP_MAX]


def gcp_labels(tags: StandardTags, **extra: str) -> dict[str, str]:
    """GCP `labels`: keys must start with a lowercase letter; values are sanitised."""
    labels: dict[str, str] = {}
    for key, value in {**tags.as_dict(), **extra}.items():
        if not _GCP_KEY_RE.match(key) or len(key) > _GCP_MAX:
            raise ValueError(f"label key {key!r} breaks GCP's label rules")
        labels[key] = gcp_label_value(value)
    return labels


def k8s_label_value(value: str) -> str:
    """A value within Kubernetes' label rules (63 chars, alphanumeric at both ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:_GCP_MAX].strip("_.-")
    if not _K8S_VALUE_RE.match(cleaned):
        raise ValueError(f"cannot make a Kubernetes label value from {value!r}")
    return cleaned


def k8s_labels(tags: StandardTags, **extra: str) -> dict[str, str]:
    """Kubernetes `metadata.labels`, keys prefixed with `hybridml.io/`."""
    return {
        f"{K8S_LABEL_PREFIX}{key}": k8s_label_value(value)
        for key, value in {**tags.as_dict(), **extra}.items()
    }
