"""Unit tests of the pack's plumbing: unknown-aware reads, Findings, regions, pairing."""

from __future__ import annotations

import pytest
from helpers import (
    Findings,
    Unknown,
    cloud_of,
    elements,
    entries,
    is_unknown,
    keys,
    lookup,
    normalize_region,
    parse_json_input,
    plain,
)
from pairing import companions, depends_on_type
from policy_testkit import findings, props
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError


def test_lookup_walks_proxies_without_tripping_them() -> None:
    p = props({"a": {"b": [{"c": 1}, "[unknown]"]}, "u": "[unknown]"})
    assert lookup(p, "a", "b", 0, "c") == 1
    assert lookup(p, "a", "missing") is None
    assert lookup(p, "a", "b", 5) is None
    unknown = lookup(p, "a", "b", 1)
    assert is_unknown(unknown) and unknown.path == ("a", "b", "1")
    assert is_unknown(lookup(p, "u", "deeper"))
    # The same read through the proxy raises, which is what lookup avoids.
    with pytest.raises(UnknownValueError):
        _ = p["u"]


def test_keys_entries_elements_and_plain_never_raise() -> None:
    p = props({"tags": {"owner": "[unknown]", "env": "prod"}, "list": ["x", "[unknown]"]})
    assert sorted(keys(lookup(p, "tags"))) == ["env", "owner"]
    pairs = dict(entries(lookup(p, "tags"), ("tags",)))
    assert pairs["env"] == "prod" and is_unknown(pairs["owner"])
    items = list(elements(lookup(p, "list"), ("list",)))
    assert items[0] == "x" and items[1] == Unknown(UNKNOWN_STRING_VALUE, ("list", "1"))
    assert plain(lookup(p, "tags"))["env"] == "prod"


def test_unknown_refuses_to_be_used_as_a_boolean() -> None:
    with pytest.raises(TypeError):
        bool(Unknown(UNKNOWN_STRING_VALUE, ("x",)))


def test_findings_settle_raises_the_sdk_error_after_all_violations() -> None:
    f, violations = findings()
    f.violation("first")
    f.unknown(Unknown(UNKNOWN_STRING_VALUE, ("rules", "0")), "bucket-a")
    f.unknown(Unknown(UNKNOWN_STRING_VALUE, ("policy",)), "bucket-b")
    with pytest.raises(UnknownValueError) as err:
        f.settle()
    assert violations == ["first"]
    assert err.value.message.startswith(
        "string value at .bucket-a.rules.0 can't be known during preview"
    )
    assert ".bucket-b.policy" in err.value.message


def test_findings_settle_is_silent_when_everything_was_decided() -> None:
    f, _ = findings()
    f.settle()


def test_cloud_of_and_regions() -> None:
    assert cloud_of("aws:s3/bucket:Bucket") == "aws"
    assert cloud_of("azure-native:storage:StorageAccount") == "azure"
    assert cloud_of("gcp:storage/bucket:Bucket") == "gcp"
    assert cloud_of("kubernetes:apps/v1:Deployment") == "kubernetes"
    assert cloud_of("random:index/randomString:RandomString") is None
    assert normalize_region("gcp", "EUROPE-WEST4") == "europe-west4"
    assert normalize_region("gcp", "europe-west4-a") == "europe-west4"
    assert normalize_region("gcp", "EUR4") == "eur4"
    assert normalize_region("azure", "West Europe") == "westeurope"
    assert normalize_region("aws", "eu-west-1") == "eu-west-1"


def test_provider_inputs_arrive_as_json_text() -> None:
    assert parse_json_input('{"tags": {"owner": "x"}}') == {"tags": {"owner": "x"}}
    assert parse_json_input("not json") is None
    assert parse_json_input(props({"a": {"b": 1}})) == {"a": {"b": 1}}


def _res(
    type_: str,
    name: str,
    inputs: dict,
    deps: list[PolicyResource] | None = None,
    prop_deps: dict[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    return PolicyResource(
        type_, props(inputs), f"urn:{name}", name, opts, None, None, deps or [], prop_deps or {}
    )


BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def test_pairing_prefers_property_dependencies_then_names_then_single_dependency() -> None:
    a = _res(BUCKET, "a", {"bucket": "bucket-a"})
    b = _res(BUCKET, "b", {"bucket": "[unknown]"})
    c = _res(BUCKET, "c", {})
    by_dep = _res(VERSIONING, "v-b", {"bucket": "[unknown]"}, prop_deps={"bucket": [b]})
    by_name = _res(VERSIONING, "v-a", {"bucket": "bucket-a"})
    by_single_dep = _res(VERSIONING, "v-c", {"bucket": "[unknown]"}, deps=[c])
    ambiguous = _res(VERSIONING, "v-x", {"bucket": "[unknown]"}, deps=[a, c])
    paired = companions(
        [a, b, c, by_dep, by_name, by_single_dep, ambiguous],
        [BUCKET],
        [VERSIONING],
        "bucket",
        "bucket",
    )
    assert [r.name for r in paired["urn:a"]] == ["v-a"]
    assert [r.name for r in paired["urn:b"]] == ["v-b"]
    assert [r.name for r in paired["urn:c"]] == ["v-c"]


def test_depends_on_type_uses_the_property_then_all_dependencies() -> None:
    key = _res("aws:kms/key:Key", "k", {})
    other = _res("aws:iam/role:Role", "r", {})
    with_prop = _res("x", "x", {}, prop_deps={"rules": [key]})
    prop_without_key = _res("x", "y", {}, deps=[key], prop_deps={"rules": [other]})
    only_deps = _res("x", "z", {}, deps=[key])
    assert depends_on_type(with_prop, "rules", ["aws:kms/key:Key"])
    assert not depends_on_type(prop_without_key, "rules", ["aws:kms/key:Key"])
    assert depends_on_type(only_deps, "rules", ["aws:kms/key:Key"])


def test_findings_is_a_plain_report_wrapper() -> None:
    seen: list[tuple[str, str | None]] = []
    f = Findings(lambda m, u=None: seen.append((m, u)))
    f.violation("m", "urn:x")
    assert seen == [("m", "urn:x")]
