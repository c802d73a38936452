"""Everyday moments of the CLI: help that names real options, a pipe closed early, running from
a subfolder, a mistyped stack, a tree that fits the terminal, and a summary-only preview."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stacks.cli.main import main
from stacks.preview.plan_file import write_plan
from stacks.render.tree import WIDTH, tree_lines
from tests.conftest import ROOT


def test_preview_help_names_only_options_that_exist(capsys):
    with pytest.raises(SystemExit) as done:
        main(["preview", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "PACK" not in text  # preview has no --pack; its pack is the project's policies/
    assert "default: policies/config.STACK.json" in text
    assert "--summary" in text


def test_schema_into_a_pipe_closed_early_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "stacks", "schema"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # `| head -1`: read a line, then go away
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first == b"{\n"
    assert stderr == ""  # no BrokenPipeError traceback
    assert proc.returncode == 141  # as a shell reports a writer its reader left


def test_a_subfolder_of_the_project_finds_pulumi_yaml_above(monkeypatch, capsys):
    monkeypatch.chdir(ROOT / "docs")
    assert main(["graph", "dev"]) == 0
    assert capsys.readouterr().out.startswith("flowchart")


def test_outside_any_project_the_error_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "dev"]) == 2
    err = capsys.readouterr().err
    assert f"no Pulumi.yaml in {tmp_path} or any folder above it" in err
    assert "-C PROJECT_DIR" in err


@pytest.mark.parametrize("argv", [["graph", "prdo"], ["preview", "prdo"], ["team", "list", "--stack", "prdo"],
                                  ["policy-config", "prdo"]])
def test_an_unknown_stack_lists_the_stacks_that_exist(argv, capsys):
    assert main([*argv, "-C", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert f"error: {ROOT}/Pulumi.prdo.yaml: no such file; stacks there: dev, prod; did you mean 'prod'?" in err


def test_tree_lines_fit_120_columns(dev_plan):
    lines = tree_lines(dev_plan)
    assert WIDTH == 120
    assert max(len(line) for line in lines) <= WIDTH
    assert len(lines) == len(dev_plan["resources"]) + 1
    # Types that fit are shown whole; a shortened one keeps its package and its type name.
    assert any(line.split()[-2:] == ["aws:s3/bucket:Bucket", "artifacts-aws-eu-west-1-bucket"] for line in lines)
    encryption = [line for line in lines if "artifacts-aws-eu-west-1-bucket-encryption" in line]
    assert len(encryption) == 1 and " aws:s3:BucketServerSideEncryptionConfiguration " in encryption[0]


def test_a_deep_tree_of_long_names_still_fits():
    resources, parent = [], None
    for depth in range(12):
        urn = f"urn:pulumi:dev::p::t{depth}"
        resources.append({"urn": urn, "parent": parent, "protect": depth % 2 == 0, "name": "n" * 90 + str(depth),
                          "type": "kubernetes:networking.k8s.io/v1:NetworkPolicyWithAVeryLongName"})
        parent = urn
    lines = tree_lines({"resources": resources})
    assert max(len(line) for line in lines) <= WIDTH
    assert all("…" in line for line in lines[1:])  # cut, never wrapped into the next row


def test_summary_shows_counts_diff_totals_and_policies_without_the_tree(dev_plan, tmp_path, capsys):
    old = write_plan(dev_plan, tmp_path / "old")
    code = main(["preview", "dev", "-C", str(ROOT), "--out", str(tmp_path / "out"), "--summary",
                 "--diff", str(old)])
    assert code == 0
    out = capsys.readouterr().out
    assert "├─" not in out and "Type" not in out
    assert f"+ {len(dev_plan['resources'])} to create" in out
    assert "Policies: " in out
    # The diff's totals come last, after the policy report.
    assert out.rstrip().splitlines()[-1] == (
        f"Changes against {old}: 0 to add, 0 to change, 0 to delete, {len(dev_plan['resources'])} unchanged")
    assert (tmp_path / "out" / "plan.json").is_file()


def test_with_diff_the_full_tree_ends_with_the_diff_totals(dev_plan, tmp_path, capsys):
    old = write_plan(dev_plan, tmp_path / "old")
    assert main(["preview", "dev", "-C", str(ROOT), "--out", str(tmp_path / "out"), "--diff", str(old)]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert any("├─" in line for line in lines)
    assert lines[-1].startswith(f"Changes against {old}: 0 to add, 0 to change, 0 to delete")
