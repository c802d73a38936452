"""Policy reports as people and code scanning read them: stack-file lines, short messages, groups."""

from __future__ import annotations

from stacks.preview.analyzer_client import Diagnostic, PackResult, PolicyInfo
from stacks.preview.policy_report import build_report, report_lines
from stacks.preview.stack_locations import StackLocator
from tests.conftest import ROOT

PREFIX = "urn:pulumi:prod::hybrid-ml-platform::"
LINES = (ROOT / "Pulumi.prod.yaml").read_text().splitlines()


def _line(text: str, after: str | None = None) -> int:
    """1-based line of the first stack-file line starting `text` (after the line `after`)."""
    start = LINES.index(after) if after else 0
    return next(i + 1 for i, line in enumerate(LINES) if i >= start and line.startswith(text))


def test_a_resource_is_located_at_the_config_key_that_built_it():
    locate = StackLocator(ROOT / "Pulumi.prod.yaml").line_of
    store = PREFIX + "hybridml:aws:ArtifactStore$aws:s3/bucket:Bucket::datasets-aws-eu-west-1-bucket"
    assert locate(store) == _line("        - name: datasets")
    subnet = PREFIX + "hybridml:aws:Network$aws:ec2/subnet:Subnet::network-aws-eu-central-1-private-a"
    assert locate(subnet) == _line("        eu-central-1:", after="    network:")
    pool = (PREFIX + "hybridml:aws:KubernetesCluster$hybridml:aws:GpuNodePool$aws:eks/nodeGroup:"
            "NodeGroup::cluster-aws-eu-west-1-gpu-a10g-nodes")
    assert locate(pool) == _line("            - name: a10g")
    # a provider for a region the stack does not configure: its site is where to look
    provider = PREFIX + "pulumi:providers:aws::aws-us-east-1"
    assert locate(provider) == _line("      aws:", after="    sites:")


def test_what_no_config_key_built_falls_back_to_the_top_of_the_stack_file():
    locate = StackLocator(ROOT / "Pulumi.prod.yaml").line_of
    assert locate(None) == 1
    assert locate(PREFIX + "pulumi:providers:tls::tls") == 1
    assert locate(PREFIX + "hybridml:pki:PlatformRootCa$tls:index/privateKey:PrivateKey::platform-ca-key") == 1


DESCRIPTION = "Every resource is in an allowed region. " * 8  # as long as the real ones


def _result(names: list[str]) -> PackResult:
    info = PolicyInfo("data-residency", DESCRIPTION, "mandatory", "mandatory", "resource", {},
                      display_name="Resources stay in the allowed regions",
                      remediation_steps="run `hybrid-ml policy-config <stack> --write`")
    # the policy SDK sends the description, a newline, then the violation
    diagnostics = [Diagnostic(
        "data-residency", "pack", DESCRIPTION,
        f"{DESCRIPTION}\n{n}: region 'eu-west-1' is not in the allowed regions ['eu-central-1']",
        "mandatory", f"{PREFIX}hybridml:aws:Network$aws:ec2/subnet:Subnet::{n}")
        for n in names]
    return PackResult("pack", "1", "1", [info], diagnostics)


def test_identical_violations_are_one_line_with_a_count_and_the_resources():
    names = [f"network-aws-eu-west-1-subnet-{i}" for i in range(36)]
    lines = report_lines(build_report(_result(names), "dev"))
    text = "\n".join(lines)
    flat = " ".join(text.split())
    assert "36 resources: region 'eu-west-1' is not in the allowed regions ['eu-central-1']" in text
    assert DESCRIPTION.strip() not in text
    assert text.count("is not in the allowed regions") == 1
    assert "network-aws-eu-west-1-subnet-0, network-aws-eu-west-1-subnet-1" in text
    assert "and 24 more (all in policy-report.json)" in flat
    assert len(lines) < 12
    # the stack's own command, not a placeholder
    assert "remediation: run `hybrid-ml policy-config dev --write`" in text


def test_a_single_violation_keeps_its_resource_and_short_message():
    report = build_report(_result(["network-aws-eu-west-1-vpc"]), "prod")
    (violation,) = report["policies"][0]["violations"]
    assert violation["message"] == (
        "network-aws-eu-west-1-vpc: region 'eu-west-1' is not in the allowed regions ['eu-central-1']")
    assert "network-aws-eu-west-1-vpc" in "\n".join(report_lines(report))
