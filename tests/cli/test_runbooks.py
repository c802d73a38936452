"""Runbooks: the procedures the platform promises exist, and their `hybrid-ml` commands are ones
the CLI accepts (a renamed flag fails here, not during an incident)."""

from __future__ import annotations

import re
import shlex

import pytest

from stacks.cli.main import _parser
from tests.conftest import ROOT

RUNBOOKS = ROOT / "runbooks"
#: The procedures operators rely on, by file.
PROMISED = {
    "bootstrap-environment.md": "bootstrap a new environment",
    "onboard-team.md": "onboard a team",
    "rotate-vpn-keys.md": "rotate VPN pre-shared keys",
    "rotate-database-passwords.md": "rotate database passwords",
    "fail-over-serving.md": "fail serving over and back",
    "restore-mlflow.md": "restore MLflow database and artifacts",
    "scale-gpu-pool.md": "scale or add a GPU pool",
    "respond-to-policy-violation.md": "respond to a policy violation on a PR",
    "upgrade-pinned-charts.md": "upgrade pinned charts",
}
_STOP = {"|", "||", "&&", ">", ">>", "2>&1", ";"}


def _commands() -> list[tuple[str, list[str]]]:
    out = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        in_code = False
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("```"):
                in_code = not in_code
                continue
            if not in_code or "hybrid-ml " not in line:
                continue
            text = line.split(" #", 1)[0].rstrip().rstrip("\\")
            words = shlex.split(text[text.index("hybrid-ml ") + len("hybrid-ml "):])
            argv = []
            for w in words:
                if w in _STOP:
                    break
                argv.append(w)
            out.append((path.name, argv))
    return out


def test_every_promised_runbook_exists_with_commands():
    for name in PROMISED:
        text = (RUNBOOKS / name).read_text()
        assert re.search(r"```(bash)?\n", text), f"{name} has no commands"
        assert name in (RUNBOOKS / "README.md").read_text(), f"{name} missing from the index"


@pytest.mark.parametrize("where,argv", _commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_runbook_commands_are_accepted_by_the_cli(where, argv):
    try:
        _parser().parse_args(argv)
    except SystemExit as err:  # argparse's way of refusing
        pytest.fail(f"{where}: `hybrid-ml {' '.join(argv)}` is not a valid command ({err})")
