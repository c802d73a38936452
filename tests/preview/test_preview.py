"""The offline preview end to end: both stacks synthesize; plan, secrets, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pulumi_aws
import pulumi_azure_native
import pulumi_gcp
import pulumi_kubernetes
import pulumi_random
import pulumi_tls
import pytest

from components.tags import REQUIRED_TAG_KEYS
from stacks.cli.main import main
from stacks.preview.run import PLACEHOLDER, run_preview
from tests.conftest import ROOT, stack_platform, write_stack

STATEFUL = {
    "aws:s3/bucket:Bucket", "aws:kms/key:Key", "gcp:storage/bucket:Bucket",
    "gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey",
    "azure-native:storage:StorageAccount", "azure-native:keyvault:Vault",
    "azure-native:keyvault:Key", "azure-native:storage:BlobContainer",
}
_PACKAGES = {"aws": pulumi_aws, "gcp": pulumi_gcp, "azure-native": pulumi_azure_native,
             "kubernetes": pulumi_kubernetes, "random": pulumi_random, "tls": pulumi_tls}


def _custom(plan):
    return [r for r in plan["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")]


def test_dev_plan_shape(dev_plan):
    assert dev_plan["project"] == "hybrid-ml-platform" and dev_plan["stack"] == "dev"
    first = dev_plan["resources"][0]
    assert first["type"] == "pulumi:pulumi:Stack" and first["parent"] is None
    for r in dev_plan["resources"]:
        assert set(r) >= {"urn", "type", "name", "parent", "provider", "protect", "custom", "inputs"}
    clouds = {r["type"].split(":")[0] for r in _custom(dev_plan)}
    # random: the VPN pre-shared keys; kubernetes: the on-prem and EKS clusters' add-ons;
    # tls: the platform root CA and each cluster's intermediate
    assert clouds == {"aws", "random", "kubernetes", "tls"}
    assert not any(r["protect"] for r in dev_plan["resources"])


def test_prod_spans_three_clouds_and_random(prod_plan):
    packages = {r["type"].split(":")[0] for r in _custom(prod_plan)}
    assert {"aws", "gcp", "azure-native", "random"} <= packages
    providers = {r["name"] for r in prod_plan["resources"] if r["type"].startswith("pulumi:providers:")}
    assert providers == {"aws-eu-west-1", "aws-eu-central-1", "gcp-europe-west4",
                         "azure-westeurope", "random", "tls", "k8s-onprem-prod", "cluster-aws-eu-west-1-k8s",
                         "cluster-gcp-europe-west4-k8s", "cluster-azure-westeurope-k8s"}


def test_every_resource_names_an_explicit_provider(prod_plan):
    by_urn = {r["urn"]: r for r in prod_plan["resources"]}
    for r in _custom(prod_plan):
        assert r["provider"] in by_urn, r["urn"]
        assert by_urn[r["provider"]]["type"] == f"pulumi:providers:{r['type'].split(':')[0]}"


def test_prod_stateful_resources_protected(prod_plan):
    stateful = [r for r in prod_plan["resources"] if r["type"] in STATEFUL]
    assert len(stateful) >= 20
    assert all(r["protect"] for r in stateful), [r["name"] for r in stateful if not r["protect"]]


def test_prod_everything_taggable_is_tagged(prod_plan):
    tagged = 0
    for r in _custom(prod_plan):
        for field in ("tags", "labels"):
            if field == "labels" and r["type"] == "aws:eks/nodeGroup:NodeGroup":
                continue  # Kubernetes node labels; its tags are checked as tags
            if field in r["inputs"]:
                tagged += 1
                assert set(REQUIRED_TAG_KEYS) <= set(r["inputs"][field]), r["urn"]
                assert r["inputs"][field]["environment"] == "prod"
    assert tagged >= 20


def test_prod_public_access_blocked_everywhere(prod_plan):
    res = _custom(prod_plan)
    s3 = {r["inputs"]["bucket"] for r in res if r["type"] == "aws:s3/bucket:Bucket"}
    blocked = {r["inputs"]["bucket"] for r in res
               if r["type"] == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
               and all(r["inputs"][k] for k in ("blockPublicAcls", "blockPublicPolicy",
                                                 "ignorePublicAcls", "restrictPublicBuckets"))}
    assert s3 and s3 == blocked
    for r in res:
        if r["type"] == "gcp:storage/bucket:Bucket":
            assert r["inputs"]["publicAccessPrevention"] == "enforced"
        if r["type"] == "azure-native:storage:StorageAccount":
            assert r["inputs"]["allowBlobPublicAccess"] is False


def test_no_secret_reaches_plan_or_output(tmp_path, capsys):
    assert main(["preview", "prod", "-C", str(ROOT), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    text = (tmp_path / "plan.json").read_text()
    for blob in (text, out.out, out.err):
        assert PLACEHOLDER not in blob
    kube = [r for r in json.loads(text)["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    assert kube[0]["inputs"]["kubeconfig"] == "[secret]"


def test_secret_from_stack_file_stays_secret(tmp_path):
    # A `secure:` config value is a secret whatever the program does with it.
    write_stack(tmp_path, "dev", stack_platform("dev"),
                extra={"hybrid-ml-platform:onpremKubeconfig": {"secure": "v1:abc"}})
    result = run_preview(tmp_path, "dev")
    assert PLACEHOLDER not in json.dumps(result.plan)


def _deprecated(token: str) -> bool:
    """Whether the SDK class behind a type token is marked deprecated."""
    package = _PACKAGES[token.split(":")[0]]
    pkg_dir = Path(package.__file__).parent
    needle = f'@pulumi.type_token("{token}")'
    for path in pkg_dir.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if needle in text:
            body = text.split(needle, 1)[1].split("def __init__", 1)[0]
            return "DeprecationWarning" in body
    if token.startswith("kubernetes:"):
        return False  # a custom resource (cert-manager, Gateway API): no SDK class to deprecate
    raise AssertionError(f"no SDK class for {token}")


def test_no_deprecated_resource_types(prod_plan, dev_plan):
    tokens = {r["type"] for plan in (prod_plan, dev_plan) for r in _custom(plan)}
    assert "aws:s3/bucket:Bucket" in tokens
    assert not any(re.search(r"V2$", t) for t in tokens)
    assert [t for t in sorted(tokens) if _deprecated(t)] == []
    assert _deprecated("aws:s3/bucketV2:BucketV2")  # the check itself can fail


def test_program_logs_no_warnings(prod_preview, dev_preview):
    assert prod_preview.diagnostics == [] and dev_preview.diagnostics == []


def test_cli_writes_plan_tree_and_summary(tmp_path, capsys):
    assert main(["preview", "dev", "-C", str(ROOT), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "hybridml:aws:ArtifactStore" in out and "aws:s3/bucket:Bucket" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert f"+ {len(plan['resources'])} to create" in out


@pytest.mark.parametrize("mutate, expected", [
    (lambda p: p["sites"]["aws"].update(regions=["us-east-1"]), "sites.aws.regions[0]"),
    (lambda p: p.update(colour="blue"), "platform.colour"),
    (lambda p: p["storage"]["defaults"].update(azureKeySize=-1), "azureKeySize"),
])
def test_bad_config_exits_2_and_writes_nothing(tmp_path, mutate, expected):
    platform = stack_platform("dev")
    mutate(platform)
    write_stack(tmp_path, "dev", platform)
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "dev", "-C", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "build").exists()


def test_missing_stack_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    assert main(["preview", "nope", "-C", str(tmp_path)]) == 2
    assert "Pulumi.nope.yaml: no such file" in capsys.readouterr().err


def test_default_provider_use_is_refused(tmp_path):
    import pulumi_aws as aws

    from stacks.preview.run import PreviewError

    write_stack(tmp_path, "dev", stack_platform("dev"))
    with pytest.raises(PreviewError, match="default aws provider is disabled"):
        run_preview(tmp_path, "dev", program=lambda: aws.s3.Bucket("stray"))


def test_schema_command_prints_strict_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"environment", "sites", "residency", "tags", "storage"} <= set(schema["properties"])
    assert schema["$defs"]["AwsSite"]["properties"]["accountId"]["description"]
