"""The first deployment, as the README and the bootstrap runbook tell it: the same guarded
commands in both, and the secret list coming from the config model."""

from __future__ import annotations

import shutil

from stacks.cli.main import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
GUIDE = README.split("## First deployment", 1)[1].split("\n## ", 1)[0]
RUNBOOK = (ROOT / "runbooks" / "bootstrap-environment.md").read_text()


def test_both_apply_with_the_policy_pack_and_list_secrets_from_the_model():
    for text in (GUIDE, RUNBOOK):
        assert "pulumi up --stack dev --policy-pack policies --policy-pack-config policies/config.dev.json" in text
        assert "pulumi preview --stack dev" in text and "--policy-pack policies" in text
        assert "hybrid-ml secrets dev" in text and "--secrets-provider" in text
        assert "PULUMI_CONFIG_PASSPHRASE" in text
        assert "pulumi stack select dev\n" not in text  # fails on a new backend without --create


def test_secrets_lists_every_key_the_preview_stands_in_for(capsys):
    assert main(["secrets", "prod", "-C", str(ROOT)]) == 0
    out = capsys.readouterr().out
    keys = [line.split("--secret ", 1)[1].split()[0] for line in out.splitlines()
            if line.startswith("pulumi config set")]
    assert keys == ["onpremKubeconfig", "alertWebhookUrl", "mlflowOidcClientSecret",
                    "mlflowOnpremS3AccessKeyId", "mlflowOnpremS3SecretAccessKey"]
    assert all("# MISSING" in line for line in out.splitlines() if line.startswith("pulumi"))


def test_secrets_check_passes_once_every_key_is_set(tmp_path, capsys):
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    assert main(["secrets", "dev", "-C", str(tmp_path), "--check"]) == 1
    with (tmp_path / "Pulumi.dev.yaml").open("a") as f:
        for key in ("onpremKubeconfig", "mlflowOidcClientSecret", "mlflowOnpremS3AccessKeyId",
                    "mlflowOnpremS3SecretAccessKey"):
            f.write(f"  hybrid-ml-platform:{key}:\n    secure: v1:AAAA\n")
    capsys.readouterr()
    assert main(["secrets", "dev", "-C", str(tmp_path), "--check"]) == 0
    assert "MISSING" not in capsys.readouterr().out
