"""stacks.analyzer_client against real pack processes, over the CLI's Analyzer protocol."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from stacks.preview.analyzer_client import (
    PolicyConfigError,
    PolicyPackError,
    run_policy_pack,
)
from stacks.preview.analyzer_wire import to_wire
from stacks.preview.offline import SECRET_SIG, UNKNOWN
from stacks.preview.offline import SIG_KEY as SECRET_KEY

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "packs" / "toy"
PREFIX = "urn:pulumi:dev::hybrid-ml-platform::"
PROVIDER = PREFIX + "pulumi:providers:aws::eu"


def rec(
    type_: str, name: str, inputs: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A plan.json record; with ``parent=`` the URN is parent-qualified as the engine builds it."""
    parent = extra.pop("parent", None)
    qualified = f"{parent.split('::')[2]}${type_}" if parent else type_
    return {
        "urn": f"{PREFIX}{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "provider": extra.pop("provider", None),
        "protect": extra.pop("protect", False),
        "custom": extra.pop("custom", True),
        "inputs": inputs or {},
        "dependencies": extra.pop("dependencies", []),
        "propertyDependencies": extra.pop("propertyDependencies", {}),
        "options": extra.pop("options", {}),
    }


def levels(result: Any, policy: str) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for d in result.diagnostics:
        if d.policy_name == policy:
            out.setdefault(d.urn, []).append(d.enforcement_level)
    return out


def write_pack(path: Path, main: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (path / "__main__.py").write_text(textwrap.dedent(main))
    return path


def test_compliant_and_violating_resources_get_the_right_levels() -> None:
    good = rec("aws:s3/bucket:Bucket", "good", {"tags": {"owner": "ml-team"}})
    bad = rec("aws:s3/bucket:Bucket", "bad", {"tags": {"team": "ml"}})
    small = rec(
        "aws:ec2/instance:Instance", "small", {"tags": {"owner": "a"}, "instanceType": "t3.micro"}
    )
    huge = rec(
        "aws:ec2/instance:Instance",
        "huge",
        {"tags": {"owner": "a"}, "instanceType": "p4d.24xlarge"},
    )
    result = run_policy_pack(TOY, [good, bad, small, huge])

    assert (result.pack_name, result.pack_version) == (
        "toy-pack",
        "0.2.0",
    )  # version from PulumiPolicy.yaml
    assert levels(result, "require-owner-tag") == {bad["urn"]: ["mandatory"]}
    assert levels(result, "allowed-instance-types") == {huge["urn"]: ["advisory"]}
    owner = next(d for d in result.diagnostics if d.policy_name == "require-owner-tag")
    assert "missing tag 'owner' on bad" in owner.message and owner.severity == "high"
    infos = {p.name: p for p in result.policies}
    assert infos["protected-databases"].policy_type == "stack"
    assert infos["allowed-instance-types"].config_schema["required"] == ["allowedTypes"]
    assert result.undecided == []


def test_policy_config_changes_enforcement() -> None:
    bad = rec("aws:s3/bucket:Bucket", "bad", {"tags": {"team": "ml"}})
    huge = rec(
        "aws:ec2/instance:Instance",
        "huge",
        {"tags": {"owner": "a"}, "instanceType": "p4d.24xlarge"},
    )
    small = rec(
        "aws:ec2/instance:Instance", "small", {"tags": {"owner": "a"}, "instanceType": "t3.micro"}
    )

    disabled = run_policy_pack(
        TOY,
        [bad, huge, small],
        {
            "require-owner-tag": "disabled",
            "allowed-instance-types": {
                "enforcementLevel": "mandatory",
                "allowedTypes": ["p4d.24xlarge"],
            },
        },
    )
    assert levels(disabled, "require-owner-tag") == {}
    assert levels(disabled, "allowed-instance-types") == {small["urn"]: ["mandatory"]}
    assert {p.name: p.enforcement_level for p in disabled.policies}[
        "require-owner-tag"
    ] == "disabled"

    relaxed = run_policy_pack(
        TOY, [bad], {"require-owner-tag": {"enforcementLevel": "advisory", "tagKey": "team"}}
    )
    assert (
        levels(relaxed, "require-owner-tag") == {}
    )  # "team" is present, and the config reached the policy

    everything = run_policy_pack(TOY, [bad], {"all": "advisory"})
    assert levels(everything, "require-owner-tag") == {bad["urn"]: ["advisory"]}


@pytest.mark.parametrize(
    "config",
    [
        {"allowed-instance-types": {"allowedTypes": "t3.micro"}},  # schema says array
        {"require-owner-tag": "sometimes"},  # not an enforcement level
        {"require-owner-tag": 3},
        {
            "no-such-policy": {"tagKey": "x"}
        },  # props without a level for an unknown policy: the CLI's Configure refuses
    ],
)
def test_invalid_policy_config_is_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError):
        run_policy_pack(TOY, [rec("aws:s3/bucket:Bucket", "b", {"tags": {"owner": "a"}})], config)


def test_stack_policy_sees_parents_dependencies_and_protect() -> None:
    component = rec("hybridml:data:Database", "orders", custom=False)
    sg = rec(
        "aws:ec2/securityGroup:SecurityGroup",
        "orders-sg",
        {"tags": {"owner": "a"}},
        parent=component["urn"],
    )
    good_db = rec(
        "aws:rds/instance:Instance",
        "orders-db",
        {"tags": {"owner": "a"}, "vpcSecurityGroupIds": ["x"]},
        parent=component["urn"],
        protect=True,
        dependencies=[sg["urn"]],
        propertyDependencies={"vpcSecurityGroupIds": [sg["urn"]]},
    )
    loose_db = rec("aws:rds/instance:Instance", "loose-db", {"tags": {"owner": "a"}})
    result = run_policy_pack(TOY, [component, sg, good_db, loose_db])

    stack = [d for d in result.diagnostics if d.policy_name == "protected-databases"]
    assert {d.urn for d in stack} == {loose_db["urn"]}
    assert sorted(d.message.split("\n")[-1] for d in stack) == [
        "database does not depend on a security group",
        "database is not parented by a hybridml component",
        "database is not protected",
    ]
    assert all(d.enforcement_level == "mandatory" for d in stack)
    # The component reached AnalyzeStack (its child's parent resolved), but not Analyze.
    assert component["urn"] not in levels(result, "require-owner-tag")
    assert any(log.message == "protected-databases checked 2 of 4 resources" for log in result.logs)


def test_secret_is_sent_as_a_secret_and_never_echoed() -> None:
    wire = to_wire(
        {"password": "[secret]", "list": ["[secret]"], "tags": "[unknown]"},
        "",
        secret_paths := set(),
    )
    assert wire["password"] == {SECRET_KEY: SECRET_SIG, "value": UNKNOWN}
    assert wire["list"] == [{SECRET_KEY: SECRET_SIG, "value": UNKNOWN}] and wire["tags"] == UNKNOWN
    assert secret_paths == {".password", ".list.0"}

    plain = rec(
        "aws:rds/instance:Instance", "plain", {"tags": {"owner": "a"}, "password": "changeme"}
    )
    secret = rec(
        "aws:rds/instance:Instance", "secret", {"tags": {"owner": "a"}, "password": "[secret]"}
    )
    result = run_policy_pack(TOY, [plain, secret])

    # The policy echoes what it reads: that is what a plaintext secret would risk.
    assert "'changeme'" in next(
        d.message for d in result.diagnostics if d.policy_name == "no-default-password"
    )
    assert levels(result, "no-default-password") == {plain["urn"]: ["mandatory"]}
    assert not any(secret["urn"] == d.urn and "password" in d.message for d in result.diagnostics)
    (undecided,) = [u for u in result.undecided if u.urn == secret["urn"]]
    assert (undecided.policy_name, undecided.enforcement_level) == (
        "no-default-password",
        "mandatory",
    )
    assert ".password" in undecided.reason and "secret" in undecided.reason


@pytest.mark.parametrize("tags", ["[unknown]", {"owner": "[unknown]"}])
def test_unknown_read_by_a_mandatory_policy_is_undecided_not_advisory(tags: Any) -> None:
    bucket = rec("aws:s3/bucket:Bucket", "pending", {"tags": tags})
    result = run_policy_pack(TOY, [bucket])

    assert [(u.policy_name, u.urn, u.enforcement_level) for u in result.undecided] == [
        ("require-owner-tag", bucket["urn"], "mandatory")
    ]
    assert "can't be known during preview" in result.undecided[0].reason
    assert not any(
        d.policy_name == "require-owner-tag" for d in result.diagnostics
    )  # no fake advisory


def test_provider_is_delivered_and_analyze_all_mirrors_the_cli() -> None:
    provider = rec("pulumi:providers:aws", "eu", {"region": "us-east-1"})
    bucket = rec("aws:s3/bucket:Bucket", "b", {"tags": {"owner": "a"}}, provider=PROVIDER)
    assert provider["urn"] == PROVIDER

    default = run_policy_pack(TOY, [provider, bucket])
    assert levels(default, "approved-regions") == {bucket["urn"]: ["advisory"]}
    assert "region us-east-1" in default.diagnostics[0].message
    assert provider["urn"] not in levels(default, "require-owner-tag")

    everything = run_policy_pack(TOY, [provider, bucket], analyze_all_resources=True)
    assert levels(everything, "require-owner-tag") == {provider["urn"]: ["mandatory"]}


def test_pack_without_manifest_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(PolicyPackError, match=r"Pulumi policy project"):
        run_policy_pack(tmp_path, [])


def test_pack_that_crashes_on_start_reports_its_stderr(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "broken", "raise RuntimeError('pack is broken: missing rule module')\n"
    )
    with pytest.raises(PolicyPackError, match="failed to start") as err:
        run_policy_pack(pack, [], timeout=30)
    assert "pack is broken: missing rule module" in err.value.stderr


def test_pack_printing_before_its_port_is_rejected(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "chatty",
        """\
        print("loading rules...")
        from pulumi_policy import PolicyPack, ResourceValidationPolicy
        PolicyPack("chatty", [ResourceValidationPolicy("p", "d", validate=lambda a, r: None)])
        """,
    )
    with pytest.raises(PolicyPackError, match="failed to start"):
        run_policy_pack(pack, [], timeout=30)


def test_policy_exception_raises_and_the_pack_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    pack = write_pack(
        tmp_path / "explodes",
        f"""\
        import os, pathlib
        from pulumi_policy import PolicyPack, ResourceValidationPolicy
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        def boom(args, report):
            raise ValueError("rule bug: boom")
        PolicyPack("explodes", [ResourceValidationPolicy("p", "d", validate=boom)])
        """,
    )
    with pytest.raises(PolicyPackError, match="boom"):
        run_policy_pack(pack, [rec("aws:s3/bucket:Bucket", "b")], timeout=30)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_pack_is_stopped_after_a_successful_run(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    pack = write_pack(
        tmp_path / "quiet",
        f"""\
        import os, pathlib
        from pulumi_policy import PolicyPack, ResourceValidationPolicy
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        PolicyPack("quiet", [ResourceValidationPolicy("p", "d", validate=lambda a, r: None)])
        """,
    )
    assert run_policy_pack(pack, [rec("aws:s3/bucket:Bucket", "b")], timeout=30).diagnostics == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_initial_config_without_level_downgrades_like_the_cli(tmp_path: Path) -> None:
    # PolicyConfig.enforcementLevel has no presence: the CLI reads a level-less initialConfig
    # entry as "advisory" and lays it over the policy's own level. Offline must match online.
    pack = write_pack(
        tmp_path / "initial",
        """\
        from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy
        PolicyPack("initial", [ResourceValidationPolicy("p", "d", validate=lambda a, r: r("x"),
                                                        enforcement_level=EnforcementLevel.MANDATORY)],
                   initial_config={"p": {"threshold": 1}})
        """,
    )
    result = run_policy_pack(pack, [rec("aws:s3/bucket:Bucket", "b")], timeout=30)
    assert [(d.policy_name, d.enforcement_level) for d in result.diagnostics] == [("p", "advisory")]
    assert (result.policies[0].declared_level, result.policies[0].enforcement_level) == (
        "mandatory",
        "advisory",
    )
