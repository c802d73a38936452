"""The Kubernetes layer of the shipped stacks, as `hybrid-ml preview` builds it: one cluster per
configured site with GPU pools under one convention, the add-ons on every cluster, and a
schema-valid manifest tree per cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.kubernetes.charts import CHARTS
from stacks.preview.manifests import CLUSTER_SCOPED, kubernetes_objects, write_manifests
from stacks.preview.run import PLACEHOLDER, PreviewError, run_preview
from tests.conftest import ROOT

PROD_CLUSTERS = ["onprem-prod", "hml-prod-aws-eu-west-1", "hml-prod-gcp-europe-west4",
                 "hml-prod-azure-westeurope"]
PLATFORM_NAMESPACES = ["mlflow", "kafka", "monitoring", "serving"]
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"}
GPU_LABELS = {"nvidia.com/gpu.present": "true"}


@pytest.fixture(scope="module")
def prod(prod_preview):
    return prod_preview


def _objects(result, cluster: str | None = None, kind: str | None = None) -> list:
    return [o for o in kubernetes_objects(result.plan)
            if (cluster is None or o.cluster == cluster) and (kind is None or o.kind == kind)]


def _resources(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def test_prod_has_eks_gke_aks_and_the_onprem_cluster(prod):
    plan = prod.plan
    assert len(_resources(plan, "aws:eks/cluster:Cluster")) == 1
    assert len(_resources(plan, "gcp:container/cluster:Cluster")) == 1
    assert len(_resources(plan, "azure-native:containerservice:ManagedCluster")) == 1
    idents = sorted(r["inputs"].get("clusterIdentifier") for r in _resources(plan, "pulumi:providers:kubernetes"))
    assert idents == sorted(PROD_CLUSTERS)
    assert sorted(plan["outputs"]["clusters"]) == sorted(PROD_CLUSTERS)
    assert plan["outputs"]["kubeconfigs"] == "[secret]"


def test_every_cluster_has_every_addon_at_its_pinned_version(prod):
    releases = prod.plan["helmReleases"]
    by_cluster: dict[str, dict[str, dict]] = {}
    pins = {(p.chart, p.version) for p in CHARTS.values()}
    for r in releases:
        assert (r["chart"], r["version"]) in pins, r  # nothing floats
        by_cluster.setdefault(r["cluster"], {})[r["chart"]] = r
    assert sorted(by_cluster) == sorted(PROD_CLUSTERS)
    cert, gateway = CHARTS["cert-manager"].chart, CHARTS["envoy-gateway"].chart
    metrics, gpu = CHARTS["metrics-server"].chart, CHARTS["gpu-operator"].chart
    for cluster, charts in by_cluster.items():
        assert cert in charts and gateway in charts, cluster
    # GKE and AKS ship metrics-server; EKS and this on-prem cluster do not.
    assert {c for c, ch in by_cluster.items() if metrics in ch} == {"onprem-prod", "hml-prod-aws-eu-west-1"}
    # GKE runs its managed GPU stack; everywhere else the GPU operator, drivers where the image lacks them.
    assert {c for c, ch in by_cluster.items() if gpu in ch} == set(PROD_CLUSTERS) - {"hml-prod-gcp-europe-west4"}
    drivers = {c: ch[gpu]["values"]["driver"]["enabled"] for c, ch in by_cluster.items() if gpu in ch}
    assert drivers == {"onprem-prod": True, "hml-prod-aws-eu-west-1": False, "hml-prod-azure-westeurope": True}


def test_every_core_object_is_schema_valid_for_its_cluster_version(prod):
    check = prod.schema_check
    assert check.errors == []
    assert check.validated >= 4 * (1 + len(PLATFORM_NAMESPACES) * 4)  # SC + namespace objects per cluster
    assert check.custom >= 4 * 3  # ClusterIssuer, GatewayClass, Gateway per cluster


def test_manifest_tree_per_cluster(prod, tmp_path):
    root = write_manifests(prod.plan, tmp_path)
    assert sorted(p.name for p in root.iterdir()) == sorted(PROD_CLUSTERS)
    for cluster in PROD_CLUSTERS:
        base = root / cluster
        assert (base / "helm-releases.yaml").is_file()
        classes = [yaml.safe_load(p.read_text()) for p in (base / CLUSTER_SCOPED).glob("storageclass-*.yaml")]
        defaults = [c for c in classes
                    if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
        assert len(defaults) == 1, cluster
        for ns in PLATFORM_NAMESPACES:
            kinds = {p.name.split("-", 1)[0] for p in (base / ns).glob("*.yaml")}
            assert {"resourcequota", "limitrange", "networkpolicy"} <= kinds, (cluster, ns)
    text = "".join(p.read_text() for p in root.rglob("*.yaml"))
    assert PLACEHOLDER not in text  # secrets (the on-prem kubeconfig stand-in) never reach manifests


def test_default_storage_class_is_encrypted_on_every_cloud(prod):
    expected = {"hml-prod-aws-eu-west-1": ("ebs.csi.aws.com", "encrypted", "true"),
                "hml-prod-gcp-europe-west4": ("pd.csi.storage.gke.io", "disk-encryption-kms-key", None),
                "hml-prod-azure-westeurope": ("disk.csi.azure.com", "diskEncryptionSetID", None),
                "onprem-prod": ("rbd.csi.ceph.com", "encrypted", "true")}
    for cluster, (provisioner, param, value) in expected.items():
        [sc] = [o.body for o in _objects(prod, cluster, "StorageClass")]
        assert sc["provisioner"] == provisioner
        assert param in sc["parameters"] and (value is None or sc["parameters"][param] == value)
        assert sc["reclaimPolicy"] == "Retain"


def test_platform_namespaces_are_locked_down_on_every_cluster(prod):
    for cluster in PROD_CLUSTERS:
        for ns in PLATFORM_NAMESPACES:
            [namespace] = [o.body for o in _objects(prod, cluster, "Namespace") if o.name == ns]
            assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
            policies = [o.body for o in _objects(prod, cluster, "NetworkPolicy") if o.namespace == ns]
            deny = [p for p in policies if p["spec"]["podSelector"] == {} and
                    sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"] and
                    not p["spec"].get("ingress") and not p["spec"].get("egress")]
            assert deny, (cluster, ns)
            [limits] = [o.body for o in _objects(prod, cluster, "LimitRange") if o.namespace == ns]
            container = next(x for x in limits["spec"]["limits"] if x["type"] == "Container")
            assert {"cpu", "memory"} <= set(container["default"]) and {"cpu", "memory"} <= set(container["max"])
            assert [o for o in _objects(prod, cluster, "ResourceQuota") if o.namespace == ns]


def _containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    spec = body.get("spec", {})
    for key in ("jobTemplate", "template"):
        if key in spec:
            return _containers(spec[key])
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def _workload_problems(objects: list) -> list[str]:
    problems = []
    for w in objects:
        if w.namespace not in PLATFORM_NAMESPACES or w.kind not in WORKLOAD_KINDS:
            continue
        for c in _containers(w.body):
            if c.get("securityContext", {}).get("privileged"):
                problems.append(f"{w.namespace}/{w.name}: {c['name']} runs privileged")
            if not {"cpu", "memory"} <= set(c.get("resources", {}).get("limits", {})):
                problems.append(f"{w.namespace}/{w.name}: {c['name']} has no cpu/memory limits")
    return problems


def test_no_workload_in_platform_namespaces_is_privileged_or_unlimited(prod):
    assert _workload_problems(kubernetes_objects(prod.plan)) == []
    # Pods without limits get the LimitRange defaults; privileged ones are refused by admission.
    for cluster in PROD_CLUSTERS:
        enforced = {o.name for o in _objects(prod, cluster, "Namespace")
                    if o.body["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "restricted"}
        assert set(PLATFORM_NAMESPACES) <= enforced


def test_a_privileged_unlimited_workload_is_caught_by_the_check_and_the_policy_pack():
    from stacks.preview.analyzer_client import run_policy_pack
    from stacks.program.main import main

    def program():
        main()
        provider = k8s.Provider("bad-k8s", kubeconfig="unused", cluster_identifier="onprem-prod")
        k8s.apps.v1.Deployment(
            "rogue", metadata={"name": "rogue", "namespace": "mlflow"},
            spec={"selector": {"matchLabels": {"app": "rogue"}},
                  "template": {"metadata": {"labels": {"app": "rogue"}},
                               "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                                        "securityContext": {"privileged": True}}]}}},
            opts=pulumi.ResourceOptions(provider=provider))

    result = run_preview(ROOT, "prod", program=program)
    assert _workload_problems(kubernetes_objects(result.plan)) == [
        "mlflow/rogue: app runs privileged", "mlflow/rogue: app has no cpu/memory limits"]
    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", result.plan["resources"], config, analyze_all_resources=True)
    failed = {d.policy_name for d in report.diagnostics if d.urn and "rogue" in d.urn}
    assert {"k8s-no-privileged-containers", "k8s-resource-requests-limits"} <= failed


def _taint(t: dict[str, Any]) -> tuple[str, str, str]:
    effect = {"NO_SCHEDULE": "NoSchedule"}.get(t["effect"], t["effect"])
    return t["key"], t["value"], effect


def test_gpu_pools_share_one_label_and_taint_convention_on_every_target(prod):
    plan = prod.plan
    expected_taint = ("nvidia.com/gpu", "true", "NoSchedule")
    node_groups = [r["inputs"] for r in _resources(plan, "aws:eks/nodeGroup:NodeGroup")
                   if r["inputs"].get("amiType") == "AL2023_x86_64_NVIDIA"]
    assert len(node_groups) == 2
    for ng in node_groups:
        assert GPU_LABELS.items() <= ng["labels"].items() and "hybridml.io/gpu-type" in ng["labels"]
        assert [_taint(t) for t in ng["taints"]] == [expected_taint]
    gke = [r["inputs"] for r in _resources(plan, "gcp:container/nodePool:NodePool")
           if r["inputs"]["nodeConfig"].get("guestAccelerators")]
    [pool] = gke
    assert pool["nodeConfig"]["labels"]["hybridml.io/gpu-type"] == "nvidia-l4"
    assert "taints" not in pool["nodeConfig"]  # GKE's own nvidia.com/gpu=present:NoSchedule
    [acc] = pool["nodeConfig"]["guestAccelerators"]
    assert acc["type"] == "nvidia-l4"
    assert acc["gpuSharingConfig"]["maxSharedClientsPerGpu"] == 4
    aks = [r["inputs"] for r in _resources(plan, "azure-native:containerservice:AgentPool")
           if r["inputs"].get("nodeLabels", {}).get("nvidia.com/gpu.present") == "true"]
    [agent] = aks
    assert agent["vmSize"] == "Standard_NC24ads_A100_v4"
    assert agent["nodeTaints"] == ["nvidia.com/gpu=true:NoSchedule"]
    patches = [r["inputs"] for r in _resources(plan, "kubernetes:core/v1:NodePatch")]
    assert sorted(p["metadata"]["name"] for p in patches) == ["gpu-a100-01", "gpu-a100-02", "gpu-l40s-01"]
    for p in patches:
        assert GPU_LABELS.items() <= p["metadata"]["labels"].items()
        assert [_taint(t) for t in p["spec"]["taints"]] == [expected_taint]
    mig = {p["metadata"]["name"]: p["metadata"]["labels"].get("nvidia.com/mig.config") for p in patches}
    assert mig == {"gpu-a100-01": "all-3g.40gb", "gpu-a100-02": "all-3g.40gb", "gpu-l40s-01": None}


def test_a_schema_error_fails_the_preview_naming_object_and_field():
    from stacks.program.main import main

    def program():
        main()
        provider = k8s.Provider("bad-k8s", kubeconfig="unused", cluster_identifier="onprem-prod")
        k8s.core.v1.ConfigMap("bad", metadata={"name": "bad", "namespace": "mlflow"},
                              data={"threshold": 3}, opts=pulumi.ResourceOptions(provider=provider))

    with pytest.raises(PreviewError) as info:
        run_preview(ROOT, "prod", program=program)
    text = str(info.value)
    assert "onprem-prod: ConfigMap mlflow/bad: field data.threshold: 3 is not of type 'string'" in text


def test_cli_writes_the_manifest_tree(tmp_path, capsys):
    from stacks.cli.main import main

    assert main(["preview", "dev", "-C", str(ROOT), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Kubernetes manifests written to {tmp_path / 'manifests'}/" in out
    clusters = sorted(p.name for p in (tmp_path / "manifests").iterdir())
    assert clusters == ["hml-dev-aws-eu-west-1", "onprem-dev"]
    releases = yaml.safe_load((tmp_path / "manifests" / "onprem-dev" / "helm-releases.yaml").read_text())
    assert {r["chart"] for r in releases} >= {CHARTS["cert-manager"].chart, CHARTS["gpu-operator"].chart}
    assert all(r["version"] and isinstance(r["values"], dict) for r in releases)
    ts = [yaml.safe_load(p.read_text()) for p in Path(tmp_path / "manifests" / "onprem-dev").rglob("configmap-*.yaml")]
    assert any("t4" in (c.get("data") or {}) for c in ts)  # the dev T4 pool time-slices via the operator
