"""The preview warns while a stack still holds documentation-only values, key by key."""

from __future__ import annotations

from stacks.checks.examples import example_values
from tests.conftest import stack_platform


def _paths(raw) -> dict[str, str]:
    return {e.path: e.why for e in example_values(raw)}


def test_the_committed_prod_stack_is_flagged_where_it_holds_examples():
    found = _paths(stack_platform("prod"))
    root = "hybrid-ml-platform:platform"
    assert found[f"{root}.sites.aws.accountId"] == "an AWS account id from AWS's documentation"
    assert found[f"{root}.network.onprem.vpnDevices[0].publicIp"] == "an RFC 5737 documentation address"
    assert found[f"{root}.services.serving.failover.domain"] == "an example domain (RFC 2606)"
    # real-looking values are left alone
    assert f"{root}.sites.gcp.project" not in found
    assert f"{root}.network.onprem.cidrs[0]" not in found


def test_real_values_give_no_warning():
    raw = {"sites": {"aws": {"accountId": "738291045561"}},
           "network": {"onprem": {"vpnDevices": [{"name": "edge1", "publicIp": "81.2.69.160"}],
                                  "cidrs": ["10.0.0.0/14"]}},
           "services": {"mlflow": {"oidc": {"issuerUrl": "https://login.corp-ml.eu/realms/ml"}},
                        "serving": {"failover": {"domain": "serve.examples-corp.com"}}}}
    assert example_values(raw) == []


def test_each_kind_of_example_is_recognised_inside_larger_values():
    raw = {"a": "https://login.hml.example.com/realms/ml", "b": "ops@team.example",
           "c": "arn:aws:iam::111122223333:role/x", "d": ["203.0.113.7/32"]}
    found = _paths(raw)
    assert set(found) == {f"hybrid-ml-platform:platform.{k}" for k in ("a", "b", "c")} | {
        "hybrid-ml-platform:platform.d[0]"}


def test_the_preview_warns_but_passes(tmp_path, capsys):
    from stacks.cli.main import main
    from tests.conftest import ROOT

    assert main(["preview", "dev", "-C", str(ROOT), "--out", str(tmp_path), "--no-policy"]) == 0
    err = capsys.readouterr().err
    assert "warning: Pulumi.dev.yaml still holds documentation-only values" in err
    assert "platform.sites.aws.accountId: '111122223333'" in err
