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
    # `hybrid-ml policy-config STACK --write` regenerates them; a stack change must be carried over,
    # byte for byte, so that the command's output is what gets committed.
    from stacks.plan.policy_config import policy_config_text
    from stacks.preview.run import load_platform
    from stacks.preview.stack_file import read_stack

    for stack in ("dev", "prod"):
        expected = policy_config_text(load_platform(read_stack(ROOT, stack)))
        committed = (ROOT / "policies" / f"config.{stack}.json").read_text()
        assert committed == expected, (
            f"policies/config.{stack}.json is out of date with Pulumi.{stack}.yaml; "
            f"fix: hybrid-ml policy-config {stack} --write")


def _project_copy(tmp_path, stack: str):
    """The project files a policy run of `stack` reads, in a folder of their own."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(ROOT / "policies", project / "policies",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", f"Pulumi.{stack}.yaml"):
        shutil.copy(ROOT / name, project / name)
    return project


def test_policy_config_write_changes_no_byte_of_an_up_to_date_file(tmp_path):
    project = _project_copy(tmp_path, "prod")
    path = project / "policies" / "config.prod.json"
    before = path.read_bytes()
    proc = _run("policy-config", "prod", "--write", "-C", str(project))
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == before
    assert "is up to date" in proc.stderr
    # and a stale file is rewritten to exactly the committed format
    path.write_text(json.dumps(json.loads(before), indent=4))
    assert _run("policy-config", "prod", "--write", "-C", str(project)).returncode == 0
    assert path.read_bytes() == before


def test_a_stale_policy_config_is_named_with_the_command_and_its_violations_grouped(tmp_path,
                                                                                   dev_plan):
    project = _project_copy(tmp_path, "dev")
    path = project / "policies" / "config.dev.json"
    stale = json.loads(path.read_text())
    stale["data-residency"]["allowedRegions"] = ["eu-central-1"]  # the stack moved on, this did not
    path.write_text(json.dumps(stale))
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(dev_plan))
    proc = _run("policy", "dev", "--pack", str(project / "policies"), "-C", str(project),
                "--plan", str(plan_path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "policies/config.dev.json is out of date with Pulumi.dev.yaml" in proc.stderr
    assert "data-residency.allowedRegions" in proc.stderr
    assert "fix: hybrid-ml policy-config dev --write" in proc.stderr
    report = json.loads((tmp_path / "out" / "policy-report.json").read_text())
    (residency,) = [p for p in report["policies"] if p["result"] == "fail"]
    count = len(residency["violations"])
    assert count > 30
    # one line for all of them, with the count; the policy description is not repeated
    assert proc.stdout.count("is not in the allowed regions") == 1
    assert f"{count} resources: region 'eu-west-1' is not in the allowed regions" in proc.stdout
    assert residency["description"] not in proc.stdout
    assert "`hybrid-ml policy-config dev --write`" in proc.stdout  # the remediation, for this stack
    assert len(proc.stdout.splitlines()) < 20


def test_sarif_places_each_violation_on_its_stack_key_with_a_stable_fingerprint(tmp_path, prod_plan):
    bad = _bad_plan(prod_plan)
    runs = []
    for attempt in ("first", "second"):
        (tmp_path / attempt).mkdir()
        _judge(bad, tmp_path / attempt)
        runs.append(json.loads((tmp_path / attempt / "policy-report.sarif").read_text())["runs"][0])
    run = runs[0]
    rules = run["tool"]["driver"]["rules"]
    stack_lines = (ROOT / "Pulumi.prod.yaml").read_text().splitlines()
    datasets = next(i + 1 for i, line in enumerate(stack_lines) if line.strip() == "- name: datasets")
    assert run["results"]
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert rule["help"]["text"] and rule["fullDescription"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "Pulumi.prod.yaml"
        # every violation is of the datasets store's bucket: its entry in storage.stores
        assert physical["region"]["startLine"] == datasets
        text = result["message"]["text"]
        assert not text.startswith(rule["fullDescription"]["text"][:40])
        assert "datasets-aws-eu-west-1-bucket" in text and len(text) < 200
    fingerprints = [[r["partialFingerprints"] for r in run["results"]] for run in runs]
    assert fingerprints[0] == fingerprints[1]
    assert len({json.dumps(f) for f in fingerprints[0]}) == len(run["results"])


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
    # MultiKueue bursts are judged by the same plan: a class the stack narrows narrows its bursts
    assert cfg["work-queue-residency"] == cfg["data-residency"]


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
