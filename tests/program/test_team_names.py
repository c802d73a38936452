"""Teams with real names: long names (short forms in the tightest physical names), plain-words
rules, one canonical owner and cost centre on every target, every problem of `team add` at once,
and `team remove` of the last team leaving the file as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.tags import aws_tags, gcp_labels, k8s_labels
from stacks.checks.problems import ConfigError, ConfigProblem
from stacks.cli.team import _of_entry
from stacks.config.teams import team_short_name, team_store
from stacks.preview.team_file import TeamFile
from stacks.program.validate import parse_platform
from tests.conftest import ROOT, resources_of, stack_platform
from tests.program.test_teams import DEV_ROLE, T, _cli, _project, _team

P = "hybrid-ml-platform:platform"
LONG = "fraud-detection-and-scoring-eu"  # 30 characters


def _problems(platform: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse_platform(platform)
    return str(err.value)


# --- names ------------------------------------------------------------------------------------

def test_names_of_up_to_12_characters_are_their_own_short_name():
    # Every name the old limit allowed keeps its store, hence all its physical names.
    for name in ("fraud", "abc", "fraud-scorer", "a1b2c3d4e5f6"):
        assert team_short_name(name) == name
        assert team_store(name) == f"t-{name}"


def test_a_long_name_gets_a_stable_12_character_short_name_with_a_hash():
    assert team_short_name(LONG) == "fraud-d-58b5"  # the example of docs/platform.md
    assert team_short_name("fraud-detection") != team_short_name("fraud-detection-eu")
    assert len(team_short_name(LONG)) == 12
    assert team_short_name("abcdef-x-long-name") == "abcdef-" + team_short_name(
        "abcdef-x-long-name")[-4:]  # a trailing dash of the cut is dropped


def test_a_30_character_name_is_accepted_and_31_is_refused_in_plain_words():
    p = stack_platform("dev")
    p["teams"] = [_team(name=LONG)]
    assert parse_platform(p).teams[0].name == LONG
    p["teams"] = [_team(name=LONG + "x")]
    assert (f"{T}[0].name: bad value '{LONG}x'; 3-30 lowercase letters and digits, starting with "
            "a letter, in words joined by single dashes, like fraud-detection") in _problems(p)


def test_two_long_names_whose_short_names_meet_are_refused():
    # A real hash collision of the 4-digit short form.
    assert team_short_name("payments-risk-91") == team_short_name("payments-risk-191")
    p = stack_platform("dev")
    p["teams"] = [_team(name="payments-risk-91", sites=["onprem"]),
                  _team(name="payments-risk-191", sites=["onprem"], awsRoleArn=None)]
    assert (f"{T}[1].name: bad value 'payments-risk-191'; its store t-payment-45b0 (buckets, key "
            "rings and Azure accounts use this short form of long names) is also team "
            "payments-risk-91's") in _problems(p)


@pytest.fixture(scope="module")
def long_team_plan(tmp_path_factory) -> dict[str, Any]:
    """prod with a 30-character team on every cloud, owner and cost centre typed loosely."""
    from stacks.preview.run import run_preview

    project = _project(tmp_path_factory.mktemp("long-team"))
    edit = TeamFile(project / "Pulumi.prod.yaml", "hybrid-ml-platform")
    edit.add(_team(name=LONG, owner="Fraud-Team", costCenter="cc-4242",
                   awsRoleArn="arn:aws:iam::444455556666:role/fraud-ml",
                   azureGroupObjectId="00000000-0000-0000-0000-000000000001",
                   googleGroup="fraud@hml.example.com", dataClassification="confidential",
                   sites=["onprem", "aws/eu-west-1", "gcp/europe-west4", "azure/westeurope"],
                   topics=[{"name": "events"}]))
    (project / "Pulumi.prod.yaml").write_text(edit.text())
    return run_preview(project, "prod").plan


def _owned(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, type_) if "hybridml:teams:Team$" in r["urn"]
            and (f"t-{team_short_name(LONG)}" in r["urn"] or f"team-{LONG}" in r["urn"]
                 or f"team-{team_short_name(LONG)}" in r["urn"])]


def test_a_long_name_is_whole_in_kubernetes_and_short_in_buckets_and_key_rings(long_team_plan):
    plan = long_team_plan
    short = team_short_name(LONG)
    buckets = {r["inputs"]["bucket"] for r in _owned(plan, "aws:s3/bucket:Bucket")}
    assert buckets == {f"hml-prod-t-{short}-444455556666-eu-west-1",
                       f"hml-prod-t-{short}-logs-444455556666-eu-west-1"}
    assert {r["inputs"]["name"] for r in _owned(plan, "gcp:kms/keyRing:KeyRing")} == {
        f"hml-prod-t-{short}"}
    assert {r["inputs"]["name"] for r in _owned(plan, "gcp:storage/bucket:Bucket")} == {
        f"hml-prod-ml-t-{short}-europe-west4", f"hml-prod-ml-t-{short}-logs-europe-west4"}
    assert {r["inputs"]["resourceGroupName"]
            for r in _owned(plan, "azure-native:resources:ResourceGroup")} == {
        f"rg-hml-prod-t-{short}-westeurope"}
    # The IAM role of the store grant is autonamed (name + 8 characters, 64 at most).
    [role] = [r for r in resources_of(plan, "aws:iam/role:Role") if short in r["urn"]]
    assert len(role["name"]) + 8 <= 64
    namespaces = {r["inputs"]["metadata"]["name"]
                  for r in resources_of(plan, "kubernetes:core/v1:Namespace")
                  if LONG in r["urn"]}
    assert namespaces == {f"team-{LONG}"}


def test_owner_and_cost_centre_are_one_canonical_value_on_every_target(long_team_plan):
    plan = long_team_plan
    owners, centres = set(), set()
    for r in plan["resources"]:
        if f"team-{LONG}" not in r["urn"] and team_short_name(LONG) not in r["urn"]:
            continue
        inputs = r.get("inputs") or {}
        for tags in (inputs.get("tags"), inputs.get("labels"),
                     (inputs.get("metadata") or {}).get("labels")):
            if isinstance(tags, dict):
                owners |= {v for k, v in tags.items() if k.endswith("owner")}
                centres |= {v for k, v in tags.items() if k.endswith("cost-center")}
    assert owners == {"fraud-team"}  # AWS, Azure, GCP and Kubernetes alike
    # GCP labels hold no capitals: the one form that differs, by GCP's rule (docs/platform.md).
    assert centres == {"CC-4242", "cc-4242"}


def test_the_owner_rule_gives_identical_values_on_aws_gcp_and_kubernetes():
    p = stack_platform("dev")
    p["tags"] = {**p["tags"], "owner": "ML_Platform-2", "costCenter": "ml-4100"}
    cfg = parse_platform(p)
    assert (cfg.tags.owner, cfg.tags.cost_center) == ("ml_platform-2", "ML-4100")
    tags = cfg.standard_tags()
    k8s = {k.split("/", 1)[1]: v for k, v in k8s_labels(tags).items()}
    assert aws_tags(tags)["owner"] == gcp_labels(tags)["owner"] == k8s["owner"] == "ml_platform-2"


@pytest.mark.parametrize("key,value,expected", [
    ("owner", "fraud-team@example.com",
     "bad value 'fraud-team@example.com'; a team or person handle like fraud-team: 2-63 "
     "lowercase letters, digits, '-' and '_', starting and ending with a letter or digit (no '@' "
     "or '.': the owner is the same value on every cloud and in Kubernetes labels, and GCP "
     "labels cannot hold them); e.g. fraud-team for fraud-team@example.com"),
    ("owner", "ml.platform", "bad value 'ml.platform'; a team or person handle like fraud-team"),
    ("costCenter", "4200", "bad value '4200'; like ML-4200: 2-6 capital letters, a dash, 3-6 "
     "digits"),
])
def test_platform_and_team_tags_are_refused_in_plain_words(key, value, expected):
    p = stack_platform("dev")
    p["tags"] = {**p["tags"], key: value}
    p["teams"] = [_team(**{key: value})]
    out = _problems(p)
    assert f"{P}.tags.{key}: {expected}" in out
    assert f"{T}[0].{key}: {expected}" in out
    assert "pattern" not in out and "^" not in out


# --- team add: every problem at once, canonical values written --------------------------------

def test_team_add_reports_every_problem_of_the_entry_in_one_run(tmp_path):
    project = _project(tmp_path)
    before = (project / "Pulumi.dev.yaml").read_text()
    proc = _cli("team", "add", "fraud-detection-and-scoring-eu1", "--stack", "dev", "-C",
                str(project), "--owner", "fraud-team@example.com", "--cost-center", "cc_4242",
                "--sites", "onprem,aws/eu-west-1", "--gpus", "9", "--no-preview")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    err = proc.stderr
    assert f"{T}[0].name (NAME): bad value 'fraud-detection-and-scoring-eu1'; 3-30" in err
    assert f"{T}[0].owner (--owner): bad value 'fraud-team@example.com'" in err
    assert f"{T}[0].costCenter (--cost-center): bad value 'cc_4242'; like ML-4200" in err
    # The checks of meaning come in the same run, not after the above are fixed.
    assert f"{T}[0].awsRoleArn (--aws-role-arn): missing; required when the team runs on EKS" in err
    assert f"{T}[0].gpus (--gpus): bad value 9; at most the" in err
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_team_add_writes_the_canonical_owner_and_cost_centre(tmp_path):
    project = _project(tmp_path)
    proc = _cli("team", "add", "fraud-detection", "--stack", "dev", "-C", str(project),
                "--owner", "Fraud-Team", "--cost-center", "cc-4242", "--sites", "onprem",
                "--no-preview")
    assert proc.returncode == 0, proc.stderr
    text = (project / "Pulumi.dev.yaml").read_text()
    assert ("      - name: fraud-detection\n        owner: fraud-team\n"
            "        costCenter: CC-4242\n") in text


def test_only_the_new_entrys_problems_are_shown_and_teams_1_is_not_teams_10():
    def at(path: str) -> ConfigProblem:
        return ConfigProblem(f"{P}.{path}", 1, "x")

    assert _of_entry(at("teams[1].gpus"), 1) and _of_entry(at("teams[1]"), 1)
    assert not _of_entry(at("teams[10].gpus"), 1) and not _of_entry(at("teams[0].name"), 1)


# --- team remove --------------------------------------------------------------------------------

def test_removing_the_last_team_leaves_the_file_as_before_the_first_add(tmp_path):
    project = _project(tmp_path)
    path: Path = project / "Pulumi.dev.yaml"
    before = path.read_text()
    for name in ("fraud", "vision"):
        added = _cli("team", "add", name, "--stack", "dev", "-C", str(project), "--owner", "x1",
                     "--cost-center", "ML-4300", "--sites", "onprem", "--no-preview")
        assert added.returncode == 0, added.stderr
    for name in ("fraud", "vision"):
        removed = _cli("team", "remove", name, "--stack", "dev", "-C", str(project))
        assert removed.returncode == 0, removed.stderr
    assert path.read_text() == before
    assert (ROOT / "Pulumi.dev.yaml").read_text() == before  # (the copy was of the committed one)


def test_a_teams_key_written_by_hand_stays_when_its_last_team_goes(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    before = (ROOT / "Pulumi.dev.yaml").read_text().replace(
        "    services:\n", "    # teams come here\n    teams: []\n    services:\n", 1)
    path.write_text(before)
    edit = TeamFile(path, "hybrid-ml-platform")
    edit.add(_team(sites=["onprem"], awsRoleArn=DEV_ROLE))
    path.write_text(edit.text())
    edit = TeamFile(path, "hybrid-ml-platform")
    assert edit.remove("fraud")
    assert edit.text() == before
