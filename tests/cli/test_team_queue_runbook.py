"""The work-queue runbook: listed in the index, its example manifests are ones a team namespace
admits (queue and priority labels on the job object, the `workload` ServiceAccount, the team's
environment, GPU requests, the restricted Pod Security profile), and the queue alert has its
section in alerts.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from components.kubernetes.team import ENVIRONMENT_CONFIGMAP, WORKLOAD_SERVICE_ACCOUNT
from components.kubernetes.work_queues import DEFAULT_QUEUE, PRIORITY_CLASSES
from tests.conftest import ROOT

RUNBOOKS = ROOT / "runbooks"
RUNBOOK = RUNBOOKS / "work-queues.md"


def _manifests() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", RUNBOOK.read_text(), re.S)
    docs = [yaml.safe_load(b) for b in blocks]
    return [d for d in docs if isinstance(d, dict) and "apiVersion" in d]


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]
    if obj["kind"] == "Job":
        return [spec["template"]["spec"]]
    if obj["kind"] == "JobSet":
        return [r["template"]["spec"]["template"]["spec"] for r in spec["replicatedJobs"]]
    if obj["kind"] == "RayJob":
        ray = spec["rayClusterSpec"]
        return [ray["headGroupSpec"]["template"]["spec"],
                *(w["template"]["spec"] for w in ray["workerGroupSpecs"])]
    raise AssertionError(obj["kind"])


def test_the_runbook_is_indexed_and_shows_the_three_kinds():
    assert "work-queues.md" in (RUNBOOKS / "README.md").read_text()
    kinds = {(m["apiVersion"], m["kind"]) for m in _manifests()}
    assert kinds == {("batch/v1", "Job"), ("ray.io/v1", "RayJob"),
                     ("jobset.x-k8s.io/v1alpha2", "JobSet")}


@pytest.mark.parametrize("obj", _manifests(), ids=lambda m: m["kind"])
def test_example_workloads_pass_the_team_namespace_and_its_queue(obj):
    meta = obj["metadata"]
    assert meta["namespace"].startswith("team-")
    # On the job object: Kueue reads the queue and priority from there, not the pods.
    assert meta["labels"]["kueue.x-k8s.io/queue-name"] == DEFAULT_QUEUE
    assert meta["labels"]["kueue.x-k8s.io/priority-class"] in {c for c, _, _ in PRIORITY_CLASSES}
    gpus = 0
    for pod in _pod_specs(obj):
        assert pod["serviceAccountName"] == WORKLOAD_SERVICE_ACCOUNT
        sec = pod["securityContext"]
        assert sec["runAsNonRoot"] is True and isinstance(sec["runAsUser"], int)
        assert sec["runAsUser"] > 0
        assert sec["seccompProfile"] == {"type": "RuntimeDefault"}
        # Kueue adds the flavor's selector and toleration; a hand-made one would fight it.
        assert "tolerations" not in pod
        for c in pod["containers"]:
            assert {"configMapRef": {"name": ENVIRONMENT_CONFIGMAP}} in c["envFrom"]
            csec = c["securityContext"]
            assert csec["allowPrivilegeEscalation"] is False
            assert csec["capabilities"] == {"drop": ["ALL"]}
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])
            assert res["requests"].get("nvidia.com/gpu") == res["limits"].get("nvidia.com/gpu")
            gpus += int(res["limits"].get("nvidia.com/gpu", 0))
    assert gpus > 0


def test_the_runbook_covers_diagnosis_drain_and_burst_with_commands():
    text = RUNBOOK.read_text()
    for heading in ("## Diagnose a pending workload", "## Change a team's GPU share",
                    "## Drain a GPU pool", "## Burst to the cloud"):
        assert heading in text
    assert ("kubectl --context onprem-prod get --raw \\\n  /apis/visibility.kueue.x-k8s.io/v1beta2/"
            "namespaces/team-vision/localqueues/default/pendingworkloads") in text
    assert "queue-name: burst" in text


def test_team_queue_stalled_has_its_alert_section():
    text = (RUNBOOKS / "alerts.md").read_text()
    section = text.split("## TeamQueueStalled\n", 1)[1].split("\n## ", 1)[0]
    for part in ("**Meaning.**", "**First checks.**", "**Deeper.**", "maxWaitMinutes",
                 "cluster_queue", "kueue_pending_workloads", "(work-queues.md#"):
        assert part in section
