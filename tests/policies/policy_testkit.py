"""Builders for policy tests: plan.json-style records, SDK-proxied inputs, and one-shot pack runs.

Two levels of test use this kit:

* rule logic: ``props({...})`` wraps inputs in the SDK's own unknown-checking proxy (``"[unknown]"``
  becomes the unknown sentinel), so helpers see exactly what the pack sees;
* the pack: ``run_cases(cases, config)`` starts ``policies/`` once through
  ``stacks.preview.analyzer_client.run_policy_pack`` -- the CLI's Analyzer protocol -- with the records of
  every case, and ``Case.verdict(result)`` reads one (policy, resource) outcome back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import Findings
from pulumi_policy import PolicyProviderResource
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from stacks.preview.analyzer_client import PackResult, run_policy_pack

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"
PREFIX = "urn:pulumi:test::hybrid-ml-platform::"
STACK_URN = PREFIX + "pulumi:pulumi:Stack::hybrid-ml-platform-test"

TAGS = {
    "owner": "ml-platform",
    "cost-center": "ML-4100",
    "environment": "prod",
    "data-classification": "internal",
    "managed-by": "pulumi",
}
GCP_LABELS = {**TAGS, "cost-center": "ml-4100"}
K8S_LABELS = {f"hybridml.io/{k}": v for k, v in TAGS.items()}


def config(stack: str = "prod") -> dict[str, Any]:
    return json.loads((PACK / f"config.{stack}.json").read_text())


# --- rule-logic level ---------------------------------------------------------------------------------


def _sentinels(value: Any) -> Any:
    if value == "[unknown]":
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: _sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sentinels(v) for v in value]
    return value


def props(inputs: dict[str, Any]) -> Any:
    """Inputs as a policy receives them: deserialized and wrapped in the unknown-checking proxy."""
    return unknown_checking_proxy(deserialize_properties(_sentinels(copy.deepcopy(inputs))))


def provider(type_: str, inputs: dict[str, Any], name: str = "p") -> PolicyProviderResource:
    return PolicyProviderResource(type_, props(inputs), PREFIX + f"{type_}::{name}", name)


AWS_PROVIDER_INPUTS = {"region": "eu-west-1", "defaultTags": json.dumps({"tags": TAGS})}
GCP_PROVIDER_INPUTS = {
    "region": "europe-west4",
    "project": "p",
    "defaultLabels": json.dumps(GCP_LABELS),
}


@dataclass
class Collector:
    """A Findings whose violations are collected; ``settle()`` raises for undecided checks."""

    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = Findings(lambda message, urn=None: self.violations.append(message))


def findings() -> tuple[Findings, list[str]]:
    c = Collector()
    return c.findings, c.violations


# --- pack level -----------------------------------------------------------------------------------------


def rec(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    provider: str | None = None,
    protect: bool = False,
    parent: str | None = None,
    dependencies: list[str] | None = None,
    property_dependencies: dict[str, list[str]] | None = None,
    custom: bool = True,
) -> dict[str, Any]:
    """A plan.json resource record with an engine-style URN."""
    parent = parent or STACK_URN
    parent_type = parent.split("::")[2]
    qualified = type_ if parent == STACK_URN else f"{parent_type}${type_}"
    return {
        "urn": f"{PREFIX}{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "provider": provider,
        "protect": protect,
        "custom": custom,
        "inputs": inputs or {},
        "dependencies": dependencies or [],
        "propertyDependencies": property_dependencies or {},
        "options": {},
    }


def stack_records() -> list[dict[str, Any]]:
    """The stack resource and one explicit provider per cloud, as a stack of ours has them."""
    return [
        {
            "urn": STACK_URN,
            "type": "pulumi:pulumi:Stack",
            "name": "hybrid-ml-platform-test",
            "parent": None,
            "provider": None,
            "protect": False,
            "custom": False,
            "inputs": {},
            "dependencies": [],
            "propertyDependencies": {},
            "options": {},
        },
        rec("pulumi:providers:aws", "aws-eu-west-1", AWS_PROVIDER_INPUTS),
        rec(
            "pulumi:providers:aws", "aws-us-east-1", {**AWS_PROVIDER_INPUTS, "region": "us-east-1"}
        ),
        rec("pulumi:providers:gcp", "gcp-europe-west4", GCP_PROVIDER_INPUTS),
        rec("pulumi:providers:azure-native", "azure-westeurope", {"location": "westeurope"}),
        rec("pulumi:providers:kubernetes", "k8s-onprem", {"kubeconfig": "[secret]"}),
    ]


AWS_EU = PREFIX + "pulumi:providers:aws::aws-eu-west-1"
AWS_US = PREFIX + "pulumi:providers:aws::aws-us-east-1"
GCP_EU = PREFIX + "pulumi:providers:gcp::gcp-europe-west4"
AZURE_EU = PREFIX + "pulumi:providers:azure-native::azure-westeurope"
K8S = PREFIX + "pulumi:providers:kubernetes::k8s-onprem"


@dataclass
class Case:
    """One expectation: ``policy`` on the resource ``urn`` is ``expect`` ("pass", "fail" or "undecided")."""

    policy: str
    name: str
    expect: str
    urn: str
    records: list[dict[str, Any]]
    message: str = ""  # a fragment the violation message must contain

    def outcome(self, result: PackResult) -> tuple[str, list[str]]:
        messages = [
            d.message
            for d in result.diagnostics
            if d.policy_name == self.policy and d.urn == self.urn
        ]
        # Stack policies report undecided checks stack-wide, naming the resource first in the path.
        names = {f".{r['name']}." for r in self.records}
        undecided = [
            u
            for u in result.undecided
            if u.policy_name == self.policy
            and (u.urn == self.urn or (u.urn is None and any(n in u.reason for n in names)))
        ]
        if messages:
            return "fail", messages
        if undecided:
            return "undecided", [u.reason for u in undecided]
        return "pass", []


def case(
    policy: str,
    name: str,
    expect: str,
    records: Iterable[dict[str, Any]],
    *,
    subject: int = 0,
    message: str = "",
) -> Case:
    """A case whose judged resource is ``records[subject]``."""
    records = list(records)
    return Case(policy, name, expect, records[subject]["urn"], records, message)


def run_cases(cases: list[Case], policy_config: dict[str, Any] | None = None) -> PackResult:
    records = stack_records()
    seen = {r["urn"] for r in records}
    for c in cases:
        for r in c.records:
            if r["urn"] not in seen:
                seen.add(r["urn"])
                records.append(r)
    # Like the CLI, analyse every record (stack, providers, components too), not only custom resources.
    return run_policy_pack(
        PACK,
        records,
        config() if policy_config is None else policy_config,
        analyze_all_resources=True,
    )


def assert_case(c: Case, result: PackResult) -> None:
    got, detail = c.outcome(result)
    assert got == c.expect, f"{c.policy} / {c.name}: expected {c.expect}, got {got}: {detail}"
    if c.message:
        assert any(c.message in m for m in detail), (
            f"{c.policy} / {c.name}: {c.message!r} not in {detail}"
        )


def case_id(c: Case) -> str:
    return f"{c.policy}:{c.name}:{c.expect}"


def blocking(result: PackResult) -> list[str]:
    """Mandatory violations and mandatory checks that could not be decided (neither is a pass)."""
    return [
        f"{d.policy_name} {d.urn}: {d.message}"
        for d in result.diagnostics
        if d.enforcement_level == "mandatory"
    ] + [
        f"undecided {u.policy_name} {u.urn}: {u.reason}"
        for u in result.undecided
        if u.enforcement_level == "mandatory"
    ]


# --- S3 bucket with its companions --------------------------------------------------------------------

DENY_HTTP_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
PAB_ALL = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
CMK = "cmk"  # sse=CMK: aws:kms with an unknown key id that depends on a KMS key of the stack


def s3_bucket(
    name: str,
    *,
    sse: Any = CMK,
    policy: Any = DENY_HTTP_POLICY,
    pab: Any = PAB_ALL,
    versioning: Any = "Enabled",
    link: str = "property",
    bucket_inputs: dict[str, Any] | None = None,
    provider: str | None = None,
    protect: bool = True,
) -> list[dict[str, Any]]:
    """A bucket (first record) and the companions the ArtifactStore creates; None leaves one out.

    ``link``: how companions point at the bucket -- "property" (propertyDependencies, as the engine
    records them), "name" (only the bucket name input) or "dependencies" (only dependsOn).
    """
    physical = f"hml-test-{name}"
    bucket = rec(
        "aws:s3/bucket:Bucket",
        name,
        {"bucket": physical, "forceDestroy": False, "tags": TAGS, **(bucket_inputs or {})},
        provider=provider or AWS_EU,
        protect=protect,
    )
    records = [bucket]

    def companion(
        type_: str,
        role: str,
        inputs: dict[str, Any],
        extra_deps: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        bucket_ref = "[unknown]" if link != "name" else physical
        prop_deps = {"bucket": [bucket["urn"]]} if link == "property" else {}
        deps = [bucket["urn"]] if link in ("property", "dependencies") else []
        for prop, urns in (extra_deps or {}).items():
            prop_deps[prop] = urns
            deps += urns
        return rec(
            type_,
            f"{name}-{role}",
            {"bucket": bucket_ref, **inputs},
            provider=provider or AWS_EU,
            dependencies=deps,
            property_dependencies=prop_deps,
        )

    if sse is not None:
        if sse == CMK:
            key = rec(
                "aws:kms/key:Key",
                f"{name}-key",
                {"enableKeyRotation": True, "tags": TAGS},
                provider=provider or AWS_EU,
                protect=True,
            )
            records.append(key)
            rule = {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": "[unknown]",
                }
            }
            records.append(
                companion(
                    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    "encryption",
                    {"rules": [rule]},
                    {"rules": [key["urn"]]},
                )
            )
        else:
            records.append(
                companion(
                    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    "encryption",
                    {"rules": sse},
                )
            )
    if policy is not None:
        records.append(companion("aws:s3/bucketPolicy:BucketPolicy", "policy", {"policy": policy}))
    if pab is not None:
        records.append(
            companion("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", pab)
        )
    if versioning is not None:
        records.append(
            companion(
                "aws:s3/bucketVersioning:BucketVersioning",
                "versioning",
                {"versioningConfiguration": {"status": versioning}},
            )
        )
    return records


def sse_rule(algorithm: str, key: str | None = None) -> list[dict[str, Any]]:
    default: dict[str, Any] = {"sseAlgorithm": algorithm}
    if key is not None:
        default["kmsMasterKeyId"] = key
    return [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]
