"""Send one cluster's objects to the real API server; leave the server as it was found.

Per cluster, in this order:
1. **for real** (server-side apply): the cluster's Namespaces, then its LimitRanges,
   ResourceQuotas and ServiceAccounts, so that admission of what follows sees them. Stand-ins,
   counted: a `default` ServiceAccount in each namespace (the controller-manager, not running
   here, makes it), a namespace an object lives in that the program does not declare (a Helm
   release makes it), and a Node for each Node patch (a real cluster has the node; the program
   only labels and taints it).
2. **dry-run** (server-side apply, `dryRun=All`): every other object, custom resources included;
   then a Pod made of each workload's pod template (Deployment, Job, CronJob, ...), dry-run
   created, so PodSecurity *enforce*, LimitRanger, ResourceQuota and ServiceAccount admission
   judge what the workload's pods would be.
3. **cleanup**: everything made in 1 is deleted (namespaces finalized by hand, as the absent
   namespace controller would once they are empty), and the namespace list is back to the
   server's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.apiserver import Client, Response
from tests.e2e.crds import UNAVAILABLE
from tests.e2e.objects import E2eObject

APPLIED_FOR_REAL = ("LimitRange", "ResourceQuota", "ServiceAccount")
#: kind -> path of the pod template in the object.
POD_TEMPLATES = {
    "Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"), "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"), "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass
class ClusterResult:
    cluster: str
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<object>: <the server's message>"
    not_sent: list[str] = field(default_factory=list)  # "<object>: <why>" (no CRD published)
    pods_admitted: list[str] = field(default_factory=list)
    pods_refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "<object>: <warning>"
    stand_ins: list[str] = field(default_factory=list)


def _ns_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _record(result: ClusterResult, label: str, r: Response, ok: list[str], bad: list[str]) -> None:
    result.warnings += [f"{label}: {w}" for w in r.warnings]
    (ok if r.status < 300 else bad).append(label if r.status < 300 else f"{label}: {r.message}")


def _pod_of(obj: E2eObject) -> dict[str, Any] | None:
    path = POD_TEMPLATES.get(obj.kind)
    if path is None:
        return None
    template: Any = obj.body
    for key in path:
        template = (template or {}).get(key)
    if not template:
        return None
    meta = template.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{obj.name}-e2e", "namespace": obj.namespace,
                         "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}},
            "spec": template["spec"]}


def validate_cluster(client: Client, cluster: str, objects: list[E2eObject]) -> ClusterResult:
    result = ClusterResult(cluster)
    baseline = _namespaces(client)
    made: list[dict[str, Any]] = []  # created for real, to delete afterwards (in reverse)
    try:
        _prepare(client, cluster, objects, result, baseline, made)
        for obj in objects:
            if obj.kind == "Namespace" or obj.kind in APPLIED_FOR_REAL:
                continue
            group = obj.body["apiVersion"].rsplit("/", 1)[0]
            if group in UNAVAILABLE:
                result.not_sent.append(f"{obj.label}: no CRD ({UNAVAILABLE[group]})")
                continue
            _record(result, obj.label, client.apply(obj.body, dry_run=True),
                    result.accepted, result.refused)
            pod = _pod_of(obj)
            if pod is not None:
                _record(result, f"{obj.label} (pod template)", client.create(pod, dry_run=True),
                        result.pods_admitted, result.pods_refused)
    finally:
        _cleanup(client, made, baseline)
    return result


def _prepare(client: Client, cluster: str, objects: list[E2eObject], result: ClusterResult, baseline: set[str],
             made: list[dict[str, Any]]) -> None:
    def real(body: dict[str, Any], label: str, stand_in: str | None = None) -> None:
        r = client.apply(body, dry_run=False)
        if stand_in is not None:
            result.stand_ins.append(f"{label} ({stand_in})")
            if r.status >= 300:
                raise RuntimeError(f"stand-in {label} refused: {r.message}")
        else:
            _record(result, label, r, result.accepted, result.refused)
        if r.status < 300:
            made.append(body)

    declared = {o.name for o in objects if o.kind == "Namespace"}
    for obj in objects:
        if obj.kind == "Namespace":
            real(obj.body, obj.label)
    for ns in sorted({o.namespace for o in objects if o.namespace} - declared - baseline):
        real(_ns_body(ns), f"{cluster}: Namespace {ns}", "made by a Helm release")
    for ns in sorted({o.namespace for o in objects if o.namespace} | declared):
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}
        if client.get(client.path_of(sa)).status == 404:
            real(sa, f"{cluster}: ServiceAccount {ns}/default",
                 "made by the controller-manager")
    for obj in objects:
        if obj.patch and obj.kind == "Node":
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": obj.name}}
            real(node, obj.label, "the existing node the program labels and taints")
    for obj in objects:
        if obj.kind in APPLIED_FOR_REAL:
            real(obj.body, obj.label)


def _namespaces(client: Client) -> set[str]:
    return {n["metadata"]["name"] for n in client.get("/api/v1/namespaces").body.get("items", [])}


def _cleanup(client: Client, made: list[dict[str, Any]], baseline: set[str], timeout: float = 120) -> None:
    namespaces = [b for b in made if b["kind"] == "Namespace"]
    for body in reversed(made):
        if body["kind"] != "Namespace":
            client.delete(body)
    for body in namespaces:
        name = body["metadata"]["name"]
        client.delete(body)
        # What the namespace controller does once a namespace is empty: drop its finalizer.
        ns = client.get(f"/api/v1/namespaces/{name}").body
        if ns.get("kind") == "Namespace":
            ns["spec"]["finalizers"] = []
            client.request("PUT", f"/api/v1/namespaces/{name}/finalize", json=ns)
    deadline = time.monotonic() + timeout
    while _namespaces(client) != baseline:
        if time.monotonic() > deadline:
            raise RuntimeError(f"namespaces left behind: {sorted(_namespaces(client) - baseline)}")
        time.sleep(0.5)
