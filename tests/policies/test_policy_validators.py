"""Shared policy plumbing: validate_each, only_types, Findings.unknown_verdicts, bucket pairing."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Findings, is_unknown, lookup, only_types, validate_each
from pairing import owners_with_companions, s3_buckets_with
from policy_testkit import findings, props
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _args(type_: str, name: str, inputs: dict[str, Any]) -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, props(inputs), f"urn:{name}", name, _opts(), None)


def _res(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    prop_deps: dict[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        type_, props(inputs), f"urn:{name}", name, _opts(), None, None, [], prop_deps or {}
    )


def _flags_off(resource_type: str, inputs: Any, f: Findings) -> list[str]:
    """A toy check: each of flag a/b that is not true is a problem; unknown ones are undecided."""
    problems = []
    for flag in ("a", "b"):
        value = lookup(inputs, flag)
        if is_unknown(value):
            f.unknown(value)
        elif value is not True:
            problems.append(f"{flag} is not true ({resource_type})")
    return problems


def _run(validate: Any, args: ResourceValidationArgs) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    validate(args, lambda message, urn=None: seen.append((message, urn)))
    return seen


def test_validate_each_reports_one_named_violation_per_problem() -> None:
    seen = _run(validate_each(_flags_off), _args("t:m:R", "res", {"a": False}))
    assert seen == [("res: a is not true (t:m:R)", None), ("res: b is not true (t:m:R)", None)]
    assert _run(validate_each(_flags_off), _args("t:m:R", "ok", {"a": True, "b": True})) == []


def test_validate_each_reports_decided_problems_before_raising_for_undecided_ones() -> None:
    seen: list[tuple[str, str | None]] = []
    with pytest.raises(UnknownValueError) as raised:
        validate_each(_flags_off)(
            _args("t:m:R", "res", {"a": "[unknown]", "b": False}),
            lambda message, urn=None: seen.append((message, urn)),
        )
    assert seen == [("res: b is not true (t:m:R)", None)]
    assert raised.value.message.startswith("string value at .a can't be known during preview")


def test_only_types_runs_the_check_for_the_listed_types_only() -> None:
    def check(inputs: Any, f: Findings) -> list[str]:
        return [] if lookup(inputs, "ok") is True else ["not ok"]

    f, _ = findings()
    bad = props({"ok": False})
    assert only_types({BUCKET, ACCOUNT}, check)(ACCOUNT, bad, f) == ["not ok"]
    assert only_types({BUCKET, ACCOUNT}, check)(PAB, bad, f) == []
    # One type token is one type, not a set of characters to search in.
    assert only_types(BUCKET, check)(BUCKET, bad, f) == ["not ok"]
    assert only_types(BUCKET, check)("aws", bad, f) == []
    validate = validate_each(only_types(BUCKET, check))
    assert _run(validate, _args(BUCKET, "b", {"ok": False})) == [("b: not ok", None)]
    assert _run(validate, _args(PAB, "p", {"ok": False})) == []


def test_unknown_verdicts_records_unknowns_under_their_holders_names() -> None:
    f, _ = findings()
    holder_a, holder_b = _res(PAB, "pab-a", {}), _res(PAB, "pab-b", {})
    unknown = lookup(props({"x": "[unknown]"}), "x")
    assert f.unknown_verdicts([(["flag"], holder_a), (unknown, holder_b)]) is True
    assert [u.path for u in f.undecided] == [("pab-b", "x")]
    assert f.undecided[0].sentinel == UNKNOWN_STRING_VALUE
    g, _ = findings()
    assert g.unknown_verdicts([([], holder_a), ("Enabled", holder_b)]) is False
    assert g.undecided == []


def test_s3_buckets_with_pairs_every_bucket_in_stack_order() -> None:
    first = _res(BUCKET, "first", {"bucket": "first-bucket"})
    second = _res(BUCKET, "second", {"bucket": "[unknown]"})
    by_name = _res(PAB, "pab-first", {"bucket": "first-bucket"})
    by_dep = _res(PAB, "pab-second", {"bucket": "[unknown]"}, {"bucket": [second]})
    lonely = _res(BUCKET, "lonely", {})
    paired = s3_buckets_with([first, by_dep, second, by_name, lonely], [PAB])
    assert [(b.name, [c.name for c in cs]) for b, cs in paired] == [
        ("first", ["pab-first"]),
        ("second", ["pab-second"]),
        ("lonely", []),
    ]


def test_owners_with_companions_links_on_the_given_properties() -> None:
    account = _res(ACCOUNT, "acct", {"accountName": "mlstore"})
    other = _res(ACCOUNT, "other", {"accountName": "elsewhere"})
    service = _res(BLOB_SERVICE, "blob", {"accountName": "mlstore"})
    paired = owners_with_companions(
        [account, other, service], [ACCOUNT], [BLOB_SERVICE], "accountName", "accountName"
    )
    assert [(o.name, [c.name for c in cs]) for o, cs in paired] == [
        ("acct", ["blob"]),
        ("other", []),
    ]
