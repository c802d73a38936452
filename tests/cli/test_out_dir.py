"""The out folder holds one complete run: a run that stops early leaves the previous one, and a
policy report only ever sits beside the plan it judged."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stacks.cli import main as cli
from stacks.cli.main import main
from stacks.preview.analyzer_client import PolicyPackError
from tests.conftest import ROOT, stack_platform, write_stack


def _project(tmp: Path, max_size_delta: int = 0) -> Path:
    """A dev project with the real policy pack; `max_size_delta` changes one GPU pool (a new plan)."""
    tmp.mkdir()
    (tmp / "policies").symlink_to(ROOT / "policies")
    platform = stack_platform("dev")
    platform["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]["maxSize"] += max_size_delta
    return write_stack(tmp, "dev", platform)


def _main(argv: list[str]) -> int:
    """`main`, failing the test (not the whole session) if a KeyboardInterrupt escapes it."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main(): a traceback, not one line and exit 130")


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> Path:
    """A complete output of the dev stack with its policy reports (what the runs below replace)."""
    base = tmp_path_factory.mktemp("previous")
    out = base / "out"
    assert main(["preview", "dev", "-C", str(_project(base / "project")), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def changed_project(tmp_path_factory) -> Path:
    return _project(tmp_path_factory.mktemp("changed") / "project", max_size_delta=1)


@pytest.fixture
def out(previous, tmp_path) -> Path:
    """A copy of the previous complete output, plus a file the preview does not own (CI's log)."""
    copy = tmp_path / "build" / "dev"
    shutil.copytree(previous, copy)
    (copy / "preview.log").write_text("the log CI tees while the preview runs\n")
    return copy


def _no_leftovers(out: Path) -> None:
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "a staging folder was left behind"


def test_ctrl_c_in_the_policy_step_leaves_the_previous_complete_output(out, changed_project, monkeypatch, capsys):
    before = _files(out)
    assert {"plan.json", "policy-report.json", "policy-report.sarif", "diff.json"} - set(before) == {"diff.json"}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_policy_pack", interrupted)
    code = _main(["preview", "dev", "-C", str(changed_project), "--out", str(out)])
    assert code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "interrupted" in line] == [
        f"hybrid-ml: interrupted; {out} is as the last complete run left it"]
    assert _files(out) == before  # the old plan with its own report, not the new plan beside it
    _no_leftovers(out)


def test_ctrl_c_while_manifests_are_written_leaves_the_previous_complete_output(out, changed_project,
                                                                               monkeypatch):
    before = _files(out)
    real = cli.write_manifests

    def half_written(plan, out_dir):
        real(plan, out_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "write_manifests", half_written)
    assert _main(["preview", "dev", "-C", str(changed_project), "--out", str(out)]) == 130
    assert _files(out) == before
    _no_leftovers(out)


def test_a_failed_policy_step_keeps_the_previous_plan_and_reports(out, changed_project, monkeypatch, capsys):
    before = _files(out)

    def broken(*args, **kwargs):
        raise PolicyPackError("the pack crashed")

    monkeypatch.setattr(cli, "run_policy_pack", broken)
    assert main(["preview", "dev", "-C", str(changed_project), "--out", str(out)]) == 3
    assert _files(out) == before  # not the new plan beside the old plan's reports
    assert f"{out} left as the last complete run wrote it" in capsys.readouterr().err
    _no_leftovers(out)


def test_no_policy_after_a_policy_run_leaves_no_report(out, changed_project):
    old_plan = json.loads((out / "plan.json").read_text())
    assert main(["preview", "dev", "-C", str(changed_project), "--out", str(out), "--no-policy"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifests", "onprem", "plan.json", "preview.log"]
    assert json.loads((out / "plan.json").read_text()) != old_plan
    # The file the preview does not own is kept, as it was.
    assert (out / "preview.log").read_text() == "the log CI tees while the preview runs\n"
    _no_leftovers(out)


def test_judging_another_plan_puts_the_reports_beside_that_plan(out, tmp_path):
    other = json.loads((out / "plan.json").read_text())
    other["resources"] = [r for r in other["resources"] if "gpu" not in r["name"]]
    other_path = tmp_path / "other-plan.json"
    other_path.write_text(json.dumps(other))
    assert main(["policy", "dev", "--pack", str(ROOT / "policies"), "--plan", str(other_path),
                 "--policy-config", str(ROOT / "policies" / "config.dev.json"), "--out", str(out)]) in (0, 1)
    assert json.loads((out / "plan.json").read_text()) == other
    assert not (out / "manifests").exists()  # they belonged to the plan that was replaced
    assert (out / "policy-report.json").is_file()


def test_an_out_folder_holding_the_project_is_refused(tmp_path, capsys):
    project = _project(tmp_path / "project")
    assert main(["preview", "dev", "-C", str(project), "--out", str(tmp_path), "--no-policy"]) == 2
    assert "each preview replaces its out folder as a whole" in capsys.readouterr().err
    assert (project / "Pulumi.dev.yaml").is_file()


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    """A real SIGINT, as a terminal's Ctrl-C sends it, while the preview loads and runs."""
    # A terminal delivers Ctrl-C to a process whose SIGINT is at its default; a CI runner may
    # start tests with SIGINT ignored (which a child would inherit), so reset it for the child.
    proc = subprocess.Popen([sys.executable, "-m", "stacks", "preview", "dev", "--out", str(tmp_path / "out")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("hybrid-ml: interrupted")
    assert [line for line in stderr.splitlines() if "interrupted" in line] == [stderr.strip().splitlines()[-1]]
    assert not (tmp_path / "out").exists()
