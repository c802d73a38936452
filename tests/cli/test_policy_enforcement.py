"""The policy pack enforced through the CLI, over the Analyzer protocol, as `pulumi preview --policy-pack`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

from tests.conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stacks", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_prod_preview_passes_policies_and_writes_reports(tmp_path):
    proc = _run("preview", "prod", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((tmp_path / "policy-report.json").read_text())
    assert report["summary"]["mandatoryViolations"] == 0
    assert report["summary"]["policies"] == len(report["policies"]) >= 25
    assert all(p["result"] in ("pass", "disabled", "undecided") for p in report["policies"])
    sarif = json.loads((tmp_path / "policy-report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]} == {
        p["name"] for p in report["policies"]}
    assert sarif["runs"][0]["results"] == []


def _bad_plan(plan: dict) -> dict:
    """prod, broken three ways: an unencrypted bucket, restricted data in the US, no owner tag."""
    bad = copy.deepcopy(plan)
    res = bad["resources"]
    target = "hml-prod-datasets-444455556666-eu-west-1"
    res[:] = [r for r in res if not (
        r["type"].endswith("BucketServerSideEncryptionConfiguration")
        and r["inputs"].get("bucket") == target)]
    us = next(r for r in res if r["name"] == "aws-eu-west-1")
    us_provider = {**copy.deepcopy(us), "name": "aws-us-east-1",
                   "urn": us["urn"].replace("aws-eu-west-1", "aws-us-east-1")}
    us_provider["inputs"]["region"] = "us-east-1"
    # provider default tags count, so the owner must be missing there too
    defaults = json.loads(us_provider["inputs"]["defaultTags"])
    del defaults["tags"]["owner"]
    us_provider["inputs"]["defaultTags"] = json.dumps(defaults)
    res.append(us_provider)
    for r in res:
        if r["type"] == "aws:s3/bucket:Bucket" and r["inputs"]["bucket"] == target:
            r["provider"] = us_provider["urn"]
            del r["inputs"]["tags"]["owner"]
    return bad


def _judge(plan: dict, tmp_path) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the pack over `plan` through the CLI; expect exit 1; the failed policies by name."""
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan))
    proc = _run("policy", "prod", "--pack", "policies", "--plan", str(plan_path),
                "--policy-config", "policies/config.prod.json", "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stderr + proc.stdout
    report = json.loads((tmp_path / "policy-report.json").read_text())
    return proc, {p["name"]: p for p in report["policies"] if p["result"] == "fail"}


def test_bad_stack_is_rejected_with_the_right_policies(tmp_path, prod_plan):
    proc, failed = _judge(_bad_plan(prod_plan), tmp_path)
    urn_hits = lambda name: " ".join(v["urn"] or "" for v in failed[name]["violations"])  # noqa: E731
    assert any("encrypt" in n for n in failed), sorted(failed)
    assert any("residency" in n or "region" in n for n in failed), sorted(failed)
    assert any("tag" in n for n in failed), sorted(failed)
    for name in failed:
        assert "datasets-aws-eu-west-1" in urn_hits(name) or failed[name]["violations"][0]["urn"] is None
    assert "mandatory" in proc.stdout
    sarif = json.loads((tmp_path / "policy-report.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == set(failed)


def test_unknown_pack_dir_is_a_usage_error(tmp_path):
    proc = _run("policy", "dev", "--pack", str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "not a policy pack" in proc.stderr


def test_policy_config_files_match_the_stack_files():
    # `hybrid-ml policy-config STACK --write` regenerates them; a stack change must be carried over.
    from stacks.plan.policy_config import policy_config_for
    from stacks.preview.run import load_platform
    from stacks.preview.stack_file import read_stack

    for stack in ("dev", "prod"):
        expected = policy_config_for(load_platform(read_stack(ROOT, stack)))
        committed = json.loads((ROOT / "policies" / f"config.{stack}.json").read_text())
        assert committed == expected, f"policies/config.{stack}.json drifted from Pulumi.{stack}.yaml"


def test_policy_config_follows_a_changed_residency_plan(tmp_path):
    from stacks.plan.policy_config import policy_config_for
    from stacks.program.validate import parse_platform
    from tests.conftest import stack_platform

    platform = stack_platform("prod")
    platform["residency"]["classifications"]["restricted"]["allowedRegions"] = ["eu-central-1"]
    platform["storage"]["stores"] = []
    del platform["services"]  # MLflow keeps its artifacts in a store
    cfg = policy_config_for(parse_platform(platform))
    assert cfg["data-residency"]["classifications"]["restricted"]["allowedRegions"] == ["eu-central-1"]


def _weak_vpn_plan(plan: dict) -> dict:
    """prod with the VPNs downgraded on every cloud, as a careless edit would do."""
    bad = copy.deepcopy(plan)
    for r in bad["resources"]:
        i = r["inputs"]
        if r["type"] == "aws:ec2/vpnConnection:VpnConnection":
            i["tunnel1IkeVersions"] = ["ikev1", "ikev2"]
            i["tunnel2Phase1EncryptionAlgorithms"] = ["AES128"]
            i["tunnel2Phase1DhGroupNumbers"] = [2]
        elif r["type"] == "gcp:compute/vPNTunnel:VPNTunnel":
            if i["vpnGatewayInterface"] == 0:
                i["ikeVersion"] = 1
            else:
                i["cipherSuite"]["phase1"]["dhs"].append("Group-2")
        elif r["type"] == "azure-native:network:VirtualNetworkGatewayConnection":
            i["ipsecPolicies"][0]["ikeEncryption"] = "DES3"
            i["ipsecPolicies"][0]["pfsGroup"] = "PFS1"
        elif r["type"] == "aws:ec2/subnet:Subnet":
            i["mapPublicIpOnLaunch"] = True
    return bad


def test_weak_vpn_fixture_fails_on_every_cloud(tmp_path, prod_plan):
    _, failed = _judge(_weak_vpn_plan(prod_plan), tmp_path)
    assert set(failed) == {"vpn-strong-crypto", "subnet-no-auto-public-ip"}
    messages = " ".join(v["message"] for v in failed["vpn-strong-crypto"]["violations"])
    for fragment in ("'ikev1'", "'AES128'", "[2]", "ikeVersion is 1", "['Group-2']", "'DES3'",
                     "'PFS1'"):
        assert fragment in messages
    clouds = {v["urn"].split("::")[2].split("$")[-1].split(":")[0]
              for v in failed["vpn-strong-crypto"]["violations"]}
    assert clouds == {"aws", "gcp", "azure-native"}
