"""`hybrid-ml preview --diff`: the pure diff on small plans, and the CLI end to end on dev."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from stacks.cli.main import main
from stacks.preview.plan_diff import (
    PlanFileError,
    diff_json,
    diff_lines,
    diff_plans,
    diff_values,
    load_plan,
)
from tests.conftest import ROOT, stack_platform, write_stack

STACK_URN = "urn:pulumi:dev::hybrid-ml-platform::pulumi:pulumi:Stack::hybrid-ml-platform-dev"
PROVIDER = "urn:pulumi:dev::hybrid-ml-platform::pulumi:providers:kubernetes::k8s"


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::hybrid-ml-platform::{type_}::{name}"


def _resource(type_: str, name: str, inputs: dict, **extra) -> dict:
    r = {"urn": _urn(type_, name), "type": type_, "name": name, "parent": STACK_URN,
         "provider": PROVIDER, "protect": False, "custom": True, "inputs": inputs,
         "dependencies": [], "propertyDependencies": {}, "options": {}}
    r.update(extra)
    return r


def _deployment(image: str = "registry/app:1.0", replicas: int = 2) -> dict:
    return _resource("kubernetes:apps/v1:Deployment", "app", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "labels": {"app.kubernetes.io/name": "app"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "app", "image": image}, {"name": "sidecar", "image": "registry/proxy:2"}]}}},
    })


def _plan(*resources: dict, outputs: dict | None = None) -> dict:
    stack = {"urn": STACK_URN, "type": "pulumi:pulumi:Stack", "name": "hybrid-ml-platform-dev",
             "parent": None, "provider": None, "protect": False, "custom": False, "inputs": {},
             "dependencies": [], "propertyDependencies": {}, "options": {}}
    return {"project": "hybrid-ml-platform", "stack": "dev", "resources": [stack, *resources],
            "outputs": outputs or {}}


def _text(diff) -> str:
    return "\n".join(diff_lines(diff))


def test_added_deleted_changed_and_unchanged_by_urn():
    bucket = _resource("aws:s3/bucket:Bucket", "logs", {"bucket": "logs"})
    queue = _resource("aws:sqs/queue:Queue", "jobs", {"name": "jobs"})
    old = _plan(_deployment(), bucket)
    new = _plan(_deployment(image="registry/app:1.1"), queue)
    diff = diff_plans(old, new, "old/plan.json")
    assert [r["name"] for r in diff.added] == ["jobs"]
    assert [r["name"] for r in diff.deleted] == ["logs"]
    assert [c.name for c in diff.changed] == ["app"]
    assert diff.unchanged == 1  # the stack
    text = _text(diff)
    assert "+ aws:sqs/queue:Queue jobs (create)" in text
    assert "- aws:s3/bucket:Bucket logs (delete)" in text
    assert "~ kubernetes:apps/v1:Deployment app (update)" in text
    assert text.splitlines()[-1] == "1 to add, 1 to change, 1 to delete, 1 unchanged"


def test_changed_inputs_are_named_by_nested_path_with_old_and_new():
    old = _deployment()
    new = copy.deepcopy(old)
    new["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = "registry/app:1.1"
    new["inputs"]["spec"]["replicas"] = 3
    new["inputs"]["metadata"]["labels"]["app.kubernetes.io/name"] = "app2"
    del new["inputs"]["spec"]["template"]["spec"]["containers"][1]
    new["inputs"]["spec"]["paused"] = True
    diff = diff_plans(_plan(old), _plan(new))
    changes = {c.path: c for c in diff.changed[0].inputs}
    assert set(changes) == {
        "spec.template.spec.containers[0].image", "spec.replicas", "spec.paused",
        'metadata.labels["app.kubernetes.io/name"]', "spec.template.spec.containers[1]",
    }
    assert changes["spec.template.spec.containers[1]"].op == "delete"
    assert changes["spec.paused"].op == "add"
    text = _text(diff)
    assert '~ spec.template.spec.containers[0].image: "registry/app:1.0" → "registry/app:1.1"' in text
    assert "~ spec.replicas: 2 → 3" in text
    assert "+ spec.paused: true" in text
    assert '- spec.template.spec.containers[1]: {"name": "sidecar", "image": "registry/proxy:2"}' in text


def test_secrets_are_opaque_and_never_printed():
    plain_old = _resource("kubernetes:core/v1:Secret", "s", {"stringData": {"password": "hunter2"}})
    plain_new = _resource("kubernetes:core/v1:Secret", "s", {"stringData": {"password": "[secret]"}})
    diff = diff_plans(_plan(plain_old), _plan(plain_new))
    text = _text(diff)
    assert "~ stringData.password: [secret] (secret changed? the value is not shown)" in text
    assert "hunter2" not in text and "hunter2" not in json.dumps(diff_json(diff))
    assert diff_json(diff)["change"][0]["inputs"] == [
        {"path": "stringData.password", "op": "secret", "note": "secret changed?"}]
    # A secret that was rotated looks the same in both plans: nothing to say.
    assert diff_values({"k": "[secret]"}, {"k": "[secret]"}) == []
    # A structure holding a secret replaced by one whole secret: the wrapper differs, no values.
    assert [c.op for c in diff_values({"k": {"a": "[secret]", "b": "x"}}, {"k": "[secret]"})] == ["secret"]
    assert [c.op for c in diff_values({"k": ["[secret]"]}, {"k": "plain"})] == ["secret"]
    added = diff_plans(_plan(_resource("t:m:R", "r", {})), _plan(_resource("t:m:R", "r", {"key": "[secret]"})))
    assert "+ key: [secret]" in _text(added)


def test_unknowns_show_as_known_after_apply():
    old = _resource("aws:iam/role:Role", "r", {"name": "role-a", "arn": "[unknown]"})
    new = _resource("aws:iam/role:Role", "r", {"name": "[unknown]", "arn": "[unknown]"})
    diff = diff_plans(_plan(old), _plan(new))
    assert [c.path for c in diff.changed[0].inputs] == ["name"]  # [unknown] == [unknown]
    assert '~ name: "role-a" → (known after apply)' in _text(diff)
    assert diff_json(diff)["change"][0]["inputs"][0]["new"] == "[unknown]"  # as in plan.json


def test_protect_provider_parent_and_options_are_listed():
    old = _resource("aws:s3/bucket:Bucket", "b", {"bucket": "b"})
    new = dict(old, protect=True, provider=PROVIDER + "-2", parent=_urn("hybridml:aws:Store", "s"),
               options={"retainOnDelete": True, "ignoreChanges": ["tags"]})
    diff = diff_plans(_plan(old), _plan(new))
    text = _text(diff)
    assert "~ protect: false → true" in text
    assert f'~ provider: "{PROVIDER}" → "{PROVIDER}-2"' in text
    assert "~ parent:" in text
    assert "+ retainOnDelete: true" in text
    assert '+ ignoreChanges: ["tags"]' in text
    assert "may replace: its provider changed" in text
    assert "1 to change" in text.splitlines()[-1]


def test_replace_on_changes_marks_a_replacement():
    old = _resource("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "crd",
                    {"spec": {"versions": [{"name": "v1"}]}, "metadata": {"labels": {"a": "1"}}},
                    options={"replaceOnChanges": ["spec"]})
    new = copy.deepcopy(old)
    new["inputs"]["spec"]["versions"][0]["name"] = "v2"
    text = _text(diff_plans(_plan(old), _plan(new)))
    assert "+- kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition crd (replace)" in text
    assert "replaceOnChanges 'spec': spec.versions[0].name" in text
    only_labels = copy.deepcopy(old)
    only_labels["inputs"]["metadata"]["labels"]["a"] = "2"
    assert "(update)" in _text(diff_plans(_plan(old), _plan(only_labels)))


def test_values_compare_as_json_not_python():
    assert [(c.path, c.old, c.new) for c in diff_values({"a": 1, "b": [0]}, {"a": True, "b": [False]})] == [
        ("a", 1, True), ("b[0]", 0, False)]
    assert diff_values({"a": 1, "b": 2}, {"b": 2, "a": 1}) == []  # key order is no change


def test_multiline_text_is_diffed_line_by_line():
    old = _resource("kubernetes:core/v1:ConfigMap", "cm", {"data": {"conf": "a: 1\nb: 2\nc: 3\n"}})
    new = _resource("kubernetes:core/v1:ConfigMap", "cm", {"data": {"conf": "a: 1\nb: 5\nc: 3\n"}})
    lines = diff_lines(diff_plans(_plan(old), _plan(new)))
    at = lines.index("      ~ data.conf:")
    assert "-b: 2" in [x.strip() for x in lines[at:]] and "+b: 5" in [x.strip() for x in lines[at:]]


def test_outputs_and_no_changes():
    old = _plan(_deployment(), outputs={"clusters": {"a": {"nodes": 2}}})
    new = _plan(_deployment(), outputs={"clusters": {"a": {"nodes": 3}}})
    text = _text(diff_plans(old, new))
    assert "Outputs:" in text and "~ clusters.a.nodes: 2 → 3" in text
    same = diff_lines(diff_plans(old, copy.deepcopy(old)))
    assert same[-2:] == ["  no changes", "0 to add, 0 to change, 0 to delete, 2 unchanged"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not valid JSON"),
    ('{"resources": {}}', "no `resources` list"),
    ('{"resources": [{"urn": 1}]}', "resources[0] needs string `urn`"),
    ('{"project": "hybrid-ml-platform", "stack": "prod", "resources": []}', "a plan of stack 'prod', not 'dev'"),
])
def test_bad_old_plans_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PlanFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_plan(path, project="hybrid-ml-platform", stack="dev")


def test_cli_bad_diff_file_is_a_usage_error_before_previewing(tmp_path):
    write_stack(tmp_path, "dev", stack_platform("dev"))
    (tmp_path / "old.json").write_text("[]")
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "preview", "dev", "-C", str(tmp_path), "--no-policy",
         "--diff", str(tmp_path / "old.json")],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert "error: --diff:" in proc.stderr and "not a plan.json" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "build").exists()  # refused before the preview ran


def test_cli_previews_dev_twice_and_names_the_changed_input(tmp_path, capsys):
    project, out = tmp_path / "project", tmp_path / "out"
    project.mkdir()
    (project / "policies").symlink_to(ROOT / "policies")  # the real pack, as in the repo
    platform = stack_platform("dev")
    write_stack(project, "dev", platform)
    assert main(["preview", "dev", "-C", str(project), "--out", str(out), "--no-policy"]) == 0
    assert not (out / "diff.json").exists()
    capsys.readouterr()
    pool = platform["kubernetes"]["aws"]["eu-west-1"]["gpuPools"][0]
    old_max = pool["maxSize"]
    pool["maxSize"] = old_max + 1
    write_stack(project, "dev", platform)
    # The same --out: the old plan is read before the new one replaces it. With the policy
    # pack, the exit code is still the preview's own (dev is policy-clean).
    assert main(["preview", "dev", "-C", str(project), "--out", str(out),
                 "--diff", str(out / "plan.json")]) == 0
    text = capsys.readouterr().out
    assert "~ aws:eks/nodeGroup:NodeGroup cluster-aws-eu-west-1-gpu-l4-nodes (update)" in text
    assert f"~ scalingConfig.maxSize: {old_max} → {old_max + 1}" in text
    assert "0 to add, " in text and " to change, 0 to delete, " in text
    assert text.index("Diff written to") < text.index("Policy report written")
    diff = json.loads((out / "diff.json").read_text())
    assert diff["summary"]["add"] == 0 and diff["summary"]["delete"] == 0
    node_group = next(c for c in diff["change"] if c["type"] == "aws:eks/nodeGroup:NodeGroup")
    assert {"path": "scalingConfig.maxSize", "op": "update", "old": old_max,
            "new": old_max + 1} in node_group["inputs"]
    plan = json.loads((out / "plan.json").read_text())
    assert diff["summary"]["unchanged"] + diff["summary"]["change"] == len(plan["resources"])
