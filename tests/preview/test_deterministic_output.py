"""The same config gives the same bytes: plan.json and manifests, whatever the task order."""

from __future__ import annotations

import copy

from stacks.preview.manifests import write_manifests
from stacks.preview.offline import Capture, Captured
from stacks.preview.plan_file import build_plan, write_plan
from stacks.preview.run import run_preview
from tests.conftest import ROOT


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_previews_of_dev_write_identical_files(dev_preview, tmp_path):
    again = run_preview(ROOT, "dev")
    outs = []
    for n, result in enumerate((dev_preview, again)):
        out = tmp_path / str(n)
        write_plan(result.plan, out)
        write_manifests(result.plan, out)
        outs.append(_files(out))
    assert outs[0].keys() == outs[1].keys()
    assert [p for p in outs[0] if outs[0][p] != outs[1][p]] == []


def _capture(deps: list[str], prop_deps: dict[str, list[str]]) -> Capture:
    cap = Capture("p", "s")
    cap.resources.append(Captured(
        urn="urn:pulumi:s::p::t::a", type="t", name="a", parent=None, provider=None,
        protect=False, custom=True, inputs={"x": 1}, dependencies=deps,
        property_dependencies=prop_deps, options={}))
    return cap


def test_dependency_order_does_not_reach_the_plan():
    # The engine reports dependencies in the order their tasks finished: run-dependent.
    a = build_plan(_capture(["urn:b", "urn:a"], {"y": ["urn:b", "urn:a"], "x": ["urn:c"]}))
    b = build_plan(_capture(["urn:a", "urn:b"], {"x": ["urn:c"], "y": ["urn:a", "urn:b"]}))
    assert a == b
    assert list(a["resources"][0]["propertyDependencies"]) == ["x", "y"]
    assert a["resources"][0]["dependencies"] == ["urn:a", "urn:b"]


def _deployment(body):
    return {"project": "p", "stack": "s", "helmReleases": [], "resources": [
        {"urn": "urn:pulumi:s::p::pulumi:providers:kubernetes::k", "type": "pulumi:providers:kubernetes",
         "name": "k", "custom": True, "provider": None, "inputs": {"clusterIdentifier": "c1"}},
        {"urn": "urn:pulumi:s::p::kubernetes:apps/v1:Deployment::d", "type": "kubernetes:apps/v1:Deployment",
         "name": "d", "custom": True, "provider": "urn:pulumi:s::p::pulumi:providers:kubernetes::k",
         "inputs": body}]}


def test_manifest_key_order_is_stable_with_api_version_and_kind_first(tmp_path):
    body = {"metadata": {"namespace": "ns", "labels": {"z": "1", "a": "2"}, "name": "d"},
            "spec": {"replicas": 1}, "kind": "Deployment", "apiVersion": "apps/v1"}
    shuffled = copy.deepcopy(body)
    shuffled["metadata"]["labels"] = {"a": "2", "z": "1"}
    shuffled = dict(reversed(list(shuffled.items())))
    texts = []
    for n, b in enumerate((body, shuffled)):
        root = write_manifests(_deployment(b), tmp_path / str(n))
        texts.append((root / "c1" / "ns" / "deployment-d.yaml").read_text())
    assert texts[0] == texts[1]
    keys = [line.split(":")[0] for line in texts[0].splitlines() if line and line[0].isalpha()]
    assert keys == ["apiVersion", "kind", "metadata", "spec"]
    assert texts[0].index("a: '2'") < texts[0].index("z: '1'")
