"""Stack-file rules every reader applies: no plaintext secrets, no repeated keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stacks.cli.main import main
from stacks.preview.stack_file import StackFileError
from stacks.preview.team_file import TeamFile
from tests.conftest import ROOT

SECRET_VALUE = "hunter2-plaintext"


def _copy(tmp: Path, stack: str, edit) -> Path:
    """A project in `tmp` whose stack file is the committed one, text edited by `edit`."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp / "Pulumi.yaml")
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    (tmp / f"Pulumi.{stack}.yaml").write_text(edit(text), encoding="utf-8")
    return tmp


def _line_of(text: str, line: str, nth: int = 0) -> int:
    """1-based number of the `nth` line equal to `line`."""
    return [i for i, t in enumerate(text.splitlines(), 1) if t == line][nth]


# --- plaintext secrets -------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["mlflowOidcClientSecret", "onpremKubeconfig"])
def test_plaintext_secret_is_refused_without_showing_it(tmp_path, capsys, key):
    _copy(tmp_path, "dev", lambda t: t + f"  hybrid-ml-platform:{key}: {SECRET_VALUE}\n")
    assert main(["preview", "dev", "-C", str(tmp_path), "--no-policy"]) == 2
    out = capsys.readouterr()
    assert f"hybrid-ml-platform:{key}: is a secret" in out.err
    assert f"`pulumi config set --secret {key} --stack dev`" in out.err
    assert "hunter2" not in out.out + out.err
    assert not (tmp_path / "build").exists()


def test_every_plaintext_secret_is_named_at_once_by_team_add(tmp_path, capsys):
    # prod reads five secrets; two written in plaintext are both reported, and nothing is written.
    lines = (f"  hybrid-ml-platform:mlflowOnpremS3SecretAccessKey: {SECRET_VALUE}\n"
             f"  hybrid-ml-platform:onpremKubeconfig: {SECRET_VALUE}\n")
    _copy(tmp_path, "prod", lambda t: t + lines)
    before = (tmp_path / "Pulumi.prod.yaml").read_text()
    assert main(["team", "add", "fraud", "--stack", "prod", "-C", str(tmp_path),
                 "--owner", "fraud-team", "--cost-center", "ML-4200", "--no-preview"]) == 2
    err = capsys.readouterr().err
    assert "pulumi config set --secret mlflowOnpremS3SecretAccessKey --stack prod" in err
    assert "pulumi config set --secret onpremKubeconfig --stack prod" in err
    assert "hunter2" not in err
    assert (tmp_path / "Pulumi.prod.yaml").read_text() == before


# --- duplicate keys ----------------------------------------------------------------------------

def _repeat_zones(text: str) -> str:
    return text.replace("          zones: 3\n", "          zones: 3\n          zones: 2\n", 1)


def _repeat_tags(text: str) -> str:
    block = "    tags:\n      owner: ml-platform\n      costCenter: ML-4100\n"
    assert block in text
    return text.replace(block, block + block.replace("ML-4100", "ML-9999"), 1)


@pytest.mark.parametrize("edit, key, lines", [
    (_repeat_zones, "config.hybrid-ml-platform:platform.network.aws.eu-west-1.zones",
     (("          zones: 3", 0), ("          zones: 2", 0))),
    (_repeat_tags, "config.hybrid-ml-platform:platform.tags", (("    tags:", 0), ("    tags:", 1))),
], ids=["zones", "tags-block"])
def test_duplicate_key_is_refused_with_both_lines(tmp_path, capsys, edit, key, lines):
    _copy(tmp_path, "dev", edit)
    text = (tmp_path / "Pulumi.dev.yaml").read_text()
    first, second = (_line_of(text, line, nth) for line, nth in lines)
    assert main(["preview", "dev", "-C", str(tmp_path), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert f"duplicate key `{key}` at lines {first} and {second}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "build").exists()


def test_repeated_keys_inside_a_repeated_block_are_all_named(tmp_path, capsys):
    _copy(tmp_path, "dev", lambda t: _repeat_zones(_repeat_tags(t)))
    assert main(["preview", "dev", "-C", str(tmp_path), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert "platform.tags` at lines" in err and "eu-west-1.zones` at lines" in err


def test_team_file_applies_the_same_rule(tmp_path):
    # `team add` edits through TeamFile; it must refuse exactly what the preview refuses.
    _copy(tmp_path, "dev", _repeat_tags)
    with pytest.raises(StackFileError, match=r"duplicate key `config.hybrid-ml-platform:platform.tags` "
                                             r"at lines \d+ and \d+"):
        TeamFile(tmp_path / "Pulumi.dev.yaml", "hybrid-ml-platform")
