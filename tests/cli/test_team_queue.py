"""`hybrid-ml team add` with the work-queue flags (`--gpu-type`, `--borrow-gpus`, `--burst-to`),
the summary of what the team gets on each cluster, and `team list`'s queue column."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.cli.main import main
from tests.conftest import ROOT

T = "hybrid-ml-platform:platform.teams"
ROLE = "arn:aws:iam::444455556666:role/vision-ml"
A100 = "nvidia-a100-80gb-mig-3g-40gb"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _add(capsys: Any, project: Path, stack: str, *flags: str, name: str = "vision",
         preview: bool = False) -> tuple[int, str, str]:
    argv = ["team", "add", name, "--stack", stack, "-C", str(project), "--owner", "vision-ml",
            "--cost-center", "ML-4300", *flags, *([] if preview else ["--no-preview"])]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _entry(project: Path, stack: str, name: str = "vision") -> dict[str, Any]:
    doc = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
    teams = doc["config"]["hybrid-ml-platform:platform"]["teams"]
    return next(t for t in teams if t["name"] == name)


def _section(out: str, cluster: str) -> str:
    """The summary lines of one cluster (up to the next cluster's heading)."""
    match = re.search(rf"^{re.escape(cluster)}:\n((?:  .*\n?)*)", out, re.M)
    assert match, out
    return match.group(1)


def test_a_prod_team_on_prem_gets_two_guaranteed_and_two_borrowable_per_flavor(capsys, project):
    code, out, err = _add(capsys, project, "prod", "--gpus", "2", "--sites", "onprem")
    assert code == 0, err
    onprem = _section(out, "onprem")
    assert "namespace team-vision: GPU quota 8 " in onprem
    assert "ClusterQueue team-vision (cohort teams); LocalQueue default -> team-vision" in onprem
    assert f"    {A100}: 2 guaranteed + 2 borrowable (pools a100: 32 GPUs)" in onprem
    assert "    nvidia-l40s: 2 guaranteed + 2 borrowable (pools l40s: 4 GPUs)" in onprem
    assert "burst" not in out  # no burstTo: nothing leaves the cluster
    # No queue flag, no `queue` key: the entry stays as small as before.
    assert "queue" not in _entry(project, "prod")


def test_queue_flags_are_written_and_shape_the_summary(capsys, project):
    code, out, err = _add(capsys, project, "prod", "--gpus", "2", "--sites",
                          "onprem,aws/eu-west-1", "--aws-role-arn", ROLE,
                          "--gpu-type", "nvidia-l40s=3", "--gpu-type", "nvidia-l4=1",
                          "--borrow-gpus", "1", "--burst-to", "aws/eu-west-1")
    assert code == 0, err
    assert _entry(project, "prod")["queue"] == {
        "gpus": {"nvidia-l40s": 3, "nvidia-l4": 1}, "borrowGpus": 1, "burstTo": ["aws/eu-west-1"]}
    text = (project / "Pulumi.prod.yaml").read_text()
    assert "          burstTo: [aws/eu-west-1]\n" in text  # like `sites`, a flow list
    onprem = _section(out, "onprem")
    # A100 slices: `gpus` (2) + borrow 1; L40S: its own 3 + 1; the namespace holds all of it.
    assert "GPU quota 7 " in onprem
    assert f"{A100}: 2 guaranteed + 1 borrowable" in onprem
    assert "nvidia-l40s: 3 guaranteed + 1 borrowable" in onprem
    assert ("LocalQueue burst -> ClusterQueue team-vision-burst: MultiKueue dispatches its "
            "workloads to aws/eu-west-1") in onprem
    aws = _section(out, "aws/eu-west-1")
    assert "GPU quota 5 " in aws
    assert "nvidia-l4: 1 guaranteed + 1 borrowable" in aws
    assert "nvidia-a10g-spot: 2 guaranteed + 1 borrowable" in aws
    assert "LocalQueue burst -> team-vision: receives the team's bursts from onprem" in aws
    assert main(["team", "list", "--stack", "prod", "-C", str(project)]) == 0
    listed = capsys.readouterr().out
    assert "QUEUE" in listed.splitlines()[0]
    assert ("nvidia-l40s=3, nvidia-l4=1, borrow 1, burst to aws/eu-west-1"
            in listed.splitlines()[1])


def test_a_team_without_queue_settings_lists_a_dash(capsys, project):
    assert _add(capsys, project, "prod", "--gpus", "1", "--sites", "onprem")[0] == 0
    assert main(["team", "list", "--stack", "prod", "-C", str(project)]) == 0
    assert capsys.readouterr().out.splitlines()[1].rstrip().endswith("onprem  -")


def test_borrow_zero_is_written_and_means_no_borrowing(capsys, project):
    code, out, err = _add(capsys, project, "prod", "--gpus", "2", "--sites", "onprem",
                          "--borrow-gpus", "0")
    assert code == 0, err
    assert _entry(project, "prod")["queue"] == {"borrowGpus": 0}
    onprem = _section(out, "onprem")
    assert "GPU quota 4 " in onprem and "nvidia-l40s: 2 guaranteed + 0 borrowable" in onprem


@pytest.mark.parametrize("flags,expected", [
    # The flag's own form: a type without `=N`, a count that is not a whole number.
    (["--gpu-type", "nvidia-l40s"],
     f"{T}[0].queue.gpus (--gpu-type): bad value 'nvidia-l40s'; like nvidia-l4=2: a GPU type, "
     "`=`, and a whole number of GPUs"),
    (["--gpu-type", "nvidia-l40s=two"], f"{T}[0].queue.gpus (--gpu-type): bad value "
     "'nvidia-l40s=two'; like nvidia-l4=2"),
    (["--gpu-type", "nvidia-l40s=-1"], f"{T}[0].queue.gpus (--gpu-type): bad value "
     "'nvidia-l40s=-1'; like nvidia-l4=2"),
    (["--gpu-type", "nvidia-l40s=1", "--gpu-type", "nvidia-l40s=2"],
     f"{T}[0].queue.gpus (--gpu-type): bad value 'nvidia-l40s=2'; each GPU type once "
     "(nvidia-l40s is already 1)"),
    # What the stack's checks say about it.
    (["--gpu-type", "nvidia-h100-80gb=1"],
     f"{T}[0].queue.gpus.nvidia-h100-80gb (--gpu-type): bad value 'nvidia-h100-80gb'; allowed: "
     "the GPU types of the team's sites (nvidia-a100-80gb, nvidia-l40s)"),
    (["--gpu-type", "nvidia-l40s=5"],
     f"{T}[0].queue.gpus.nvidia-l40s (--gpu-type): bad value 5; at most 4 GPU(s) of flavor "
     "nvidia-l40s on onprem"),
    (["--borrow-gpus", "-1"], f"{T}[0].queue.borrowGpus (--borrow-gpus): bad value -1"),
    (["--borrow-gpus", "513"], f"{T}[0].queue.borrowGpus (--borrow-gpus): bad value 513"),
    (["--burst-to", "gcp/europe-west4"],
     f"{T}[0].queue.burstTo[0] (--burst-to): bad value 'gcp/europe-west4'; allowed: the team's "
     "cloud sites with GPU pools (none); add the cluster to `sites` first"),
])
def test_bad_queue_flags_are_refused_with_the_key_and_nothing_is_written(capsys, project,
                                                                         flags, expected):
    before = (project / "Pulumi.prod.yaml").read_text()
    code, out, err = _add(capsys, project, "prod", "--gpus", "2", "--sites", "onprem", *flags)
    assert code == 2
    assert "cannot be added to stack 'prod'; nothing was written:" in err
    assert expected in err
    assert "Traceback" not in err and out == ""
    assert (project / "Pulumi.prod.yaml").read_text() == before


def test_burst_needs_the_stack_to_burst(capsys, project):
    before = (project / "Pulumi.dev.yaml").read_text()
    code, _, err = _add(capsys, project, "dev", "--sites", "onprem,aws/eu-west-1",
                        "--aws-role-arn", "arn:aws:iam::111122223333:role/vision-ml",
                        "--burst-to", "aws/eu-west-1")
    assert code == 2
    assert (f"{T}[0].queue.burstTo[0] (--burst-to): bad value 'aws/eu-west-1'; bursting needs "
            "services.workQueues.burst: true") in err
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_a_restricted_team_may_not_burst_even_where_the_stack_bursts(capsys, project):
    # dev's `restricted` data must stay on-prem; turn bursting on to see the team refused.
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("      workQueues:\n",
                                               "      workQueues:\n        burst: true\n", 1))
    before = stack.read_text()
    code, _, err = _add(capsys, project, "dev", "--sites", "onprem",
                        "--data-classification", "restricted", "--burst-to", "aws/eu-west-1")
    assert code == 2
    assert (f"{T}[0].queue.burstTo[0] (--burst-to): bad value 'aws/eu-west-1'; 'restricted' "
            "data must stay on-prem; the team may burst nowhere") in err
    assert stack.read_text() == before
    # The same team keeping its work on-prem is fine, and is told where it runs.
    code, out, err = _add(capsys, project, "dev", "--sites", "onprem", "--gpus", "1",
                          "--data-classification", "restricted")
    assert code == 0, err
    assert "nvidia-t4-shared4: 1 guaranteed + 1 borrowable" in _section(out, "onprem")
    assert "burst" not in out


def test_the_summary_matches_the_queues_and_quota_the_preview_builds(capsys, project):
    from stacks.preview.manifests import kubernetes_objects
    from stacks.preview.run import run_preview

    code, out, err = _add(capsys, project, "prod", "--gpus", "2", "--sites",
                          "onprem,aws/eu-west-1", "--aws-role-arn", ROLE,
                          "--gpu-type", "nvidia-l4=1", "--borrow-gpus", "3",
                          "--burst-to", "aws/eu-west-1")
    assert code == 0, err
    objs = [o for o in kubernetes_objects(run_preview(project, "prod").plan)
            if o.body.get("metadata", {}).get("name", "").startswith("team-vision")
            or o.body.get("metadata", {}).get("namespace") == "team-vision"]
    for cluster, ref in (("onprem-prod", "onprem"), ("hml-prod-aws-eu-west-1", "aws/eu-west-1")):
        said = _section(out, ref)
        quota = next(o for o in objs if o.cluster == cluster and o.kind == "ResourceQuota")
        assert f"GPU quota {quota.body['spec']['hard']['requests.nvidia.com/gpu']} " in said
        queue = next(o for o in objs if o.cluster == cluster and o.kind == "ClusterQueue"
                     and o.name == "team-vision")
        gpu_group = queue.body["spec"]["resourceGroups"][1]
        for flavor in gpu_group["flavors"]:
            (res,) = flavor["resources"]
            assert (f"{flavor['name']}: {res['nominalQuota']} guaranteed + "
                    f"{res['borrowingLimit']} borrowable") in said
        local = sorted(o.name for o in objs if o.cluster == cluster and o.kind == "LocalQueue")
        assert local == ["burst", "default"]
    assert any(o.cluster == "onprem-prod" and o.kind == "ClusterQueue"
               and o.name == "team-vision-burst" for o in objs)
