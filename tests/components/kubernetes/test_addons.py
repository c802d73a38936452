"""ClusterAddons and PlatformNamespace under the offline preview: pinned charts, schema-valid
objects, namespace guard rails, TLS-only gateway, the GPU stack per site and the policy pack."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
from pydantic import ValidationError

from components.gpu_catalog import GPU_TAINT_KEY
from components.kubernetes.addons import ClusterAddons, ClusterAddonsArgs
from components.kubernetes.charts import CHARTS
from components.kubernetes.cluster_spec import StorageClassSpec
from components.kubernetes.gpu_pool import TIME_SLICING_CONFIGMAP, GpuPoolSpec
from components.kubernetes.namespace import (
    ContainerDefaults,
    EgressAllowance,
    NamespaceQuota,
    NamespaceSpec,
)
from components.tags import REQUIRED_TAG_KEYS, StandardTags
from stacks.preview.analyzer_client import run_policy_pack
from tests.conftest import component_plan, resources_of

ROOT = Path(__file__).resolve().parents[3]
TAGS = StandardTags(
    owner="ml-platform",
    cost_center="ML-4100",
    environment="prod",
    data_classification="confidential",
)
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
#: API groups of built-in kinds, validated against the Kubernetes JSON schemas.
CORE_GROUPS = ("core/v1", "networking.k8s.io/v1", "storage.k8s.io/v1")
K8S_VERSION = "1.33.0"
KMS_KEY = "projects/p/locations/europe-west4/keyRings/r/cryptoKeys/k"

QUOTA = NamespaceQuota(
    requests_cpu="8", requests_memory="32Gi", limits_cpu="16", limits_memory="64Gi", requests_gpu=2
)
MLFLOW = NamespaceSpec(
    name="mlflow",
    quota=QUOTA,
    allow_egress_cidrs=(EgressAllowance(name="postgres", cidrs=("10.20.0.0/24",), ports=(5432,)),),
)

POOLS: dict[str, tuple[GpuPoolSpec, ...]] = {
    "aws": (
        GpuPoolSpec(
            target="aws", name="l4", gpu_type="nvidia-l4", gpu_count=1, machine_type="g6.xlarge"
        ),
    ),
    "gcp": (
        GpuPoolSpec(
            target="gcp",
            name="l4",
            gpu_type="nvidia-l4",
            gpu_count=1,
            machine_type="g2-standard-8",
            time_slicing_replicas=4,
        ),
    ),
    "azure": (
        GpuPoolSpec(
            target="azure",
            name="a100",
            gpu_type="nvidia-a100-80gb",
            gpu_count=1,
            machine_type="Standard_NC24ads_A100_v4",
            mig_profile="3g.40gb",
            spot=True,
        ),
    ),
    "onprem": (
        GpuPoolSpec(
            target="onprem",
            name="h100",
            gpu_type="nvidia-h100-80gb",
            gpu_count=8,
            nodes=("gpu-01",),
            mig_profile="1g.10gb",
        ),
        GpuPoolSpec(
            target="onprem",
            name="l40s",
            gpu_type="nvidia-l40s",
            gpu_count=4,
            nodes=("gpu-02",),
            time_slicing_replicas=4,
        ),
    ),
}
#: What each site's cluster component would pass (see the task's site matrix).
SITES: dict[str, dict[str, Any]] = {
    "aws": {
        "metrics_server": True,
        "gpu_stack": "operator",
        "gpu_driver": False,
        "gpu_toolkit": False,
        "storage_class": StorageClassSpec(
            "ebs.csi.aws.com",
            {
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": "arn:aws:kms:eu-west-1:444455556666:key/0000",
            },
        ),
    },
    "gcp": {
        "metrics_server": False,
        "gpu_stack": "gke-managed",
        "storage_class": StorageClassSpec(
            "pd.csi.storage.gke.io",
            {
                "type": "pd-balanced",
                "disk-encryption-kms-key": KMS_KEY,
            },
        ),
    },
    "azure": {
        "metrics_server": False,
        "gpu_stack": "operator",
        "gpu_driver": True,
        "gpu_toolkit": True,
        "storage_class": StorageClassSpec(
            "disk.csi.azure.com",
            {
                "skuName": "Premium_ZRS",
                "diskEncryptionSetID": "/subscriptions/s/resourceGroups/g/providers/"
                "Microsoft.Compute/diskEncryptionSets/des",
            },
        ),
    },
    "onprem": {
        "metrics_server": True,
        "gpu_stack": "operator",
        "gpu_driver": True,
        "gpu_toolkit": True,
        "storage_class": StorageClassSpec(
            "rbd.csi.ceph.com", {"clusterID": "ceph", "pool": "k8s", "encrypted": "true"}
        ),
    },
}


def _args(site: str, **over: Any) -> ClusterAddonsArgs:
    fields = {
        "cluster_name": f"{site}-prod",
        "site": site,
        "tags": TAGS,
        "gpu_pools": POOLS[site],
        "base_domain": "ml.example.internal",
        "platform_namespaces": (MLFLOW,),
        **SITES[site],
    }
    return ClusterAddonsArgs(**{**fields, **over})


def _program(args: ClusterAddonsArgs):
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="<placeholder>")
        addons = ClusterAddons("addons", args, pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("gateway", addons.gateway_name)
        pulumi.export("issuer", addons.cluster_issuer_name)
        pulumi.export("storage_class", addons.storage_class_name)
        pulumi.export("namespaces", {k: v.namespace_name for k, v in addons.namespaces.items()})

    return program


@pytest.fixture(scope="module", params=list(SITES))
def site_plan(request) -> tuple[str, dict]:
    return request.param, component_plan(_program(_args(request.param)))


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


def _releases(plan: dict) -> dict[str, dict]:
    return {r["inputs"]["name"]: r for r in resources_of(plan, RELEASE)}


def _core_objects(plan: dict) -> list[dict]:
    return [
        r
        for r in plan["resources"]
        if r["type"].startswith("kubernetes:")
        and r["type"].split(":")[1] in CORE_GROUPS
        and not r["type"].endswith("Patch")
    ]


def _schema_problem(obj: dict) -> str | None:
    """Why a manifest breaks the strict schema, naming the object and the field; None if valid."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        field = ".".join(str(p) for p in e.path)
        return f"{obj['kind']} {obj['metadata']['name']}: {field}: {e.message}"
    return None


# --- charts --------------------------------------------------------------------------------------


def test_every_release_is_pinned_installed_atomically_into_its_own_namespace(site_plan):
    site, plan = site_plan
    releases = _releases(plan)
    expected = {"cert-manager", "envoy-gateway"}
    expected |= {"metrics-server"} if SITES[site]["metrics_server"] else set()
    expected |= {"gpu-operator"} if SITES[site]["gpu_stack"] == "operator" else set()
    assert set(releases) == expected
    namespaces = {r["inputs"]["metadata"]["name"]: r for r in resources_of(plan, NAMESPACE)}
    for key, release in releases.items():
        i, pin = release["inputs"], CHARTS[key]
        assert (i["chart"], i["version"]) == (pin.chart, pin.version)
        assert i.get("repositoryOpts") == ({"repo": pin.repository} if pin.repository else None)
        assert i["atomic"] is True and i["cleanupOnFail"] is True
        assert i["timeout"] > 0 and 0 < i["maxHistory"] <= 10
        assert i["createNamespace"] is False
        # The namespace is a plain value (known to the manifest writer) and created first.
        assert namespaces[i["namespace"]]["urn"] in release["dependencies"]


def test_pins_are_exact_versions():
    for key, pin in CHARTS.items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", pin.version), key
        assert pin.source.startswith("https://"), key
        assert (pin.repository is None) == pin.chart.startswith("oci://"), key


def test_helm_values_hold_no_secrets(site_plan):
    _, plan = site_plan
    suspicious = re.compile(r"(?i)password|passwd|secret|token|credential|api.?key|private.?key")

    def walk(value: Any, path: str) -> list[str]:
        if isinstance(value, dict):
            return [
                p
                for k, v in value.items()
                for p in walk(v, f"{path}.{k}")
                + ([f"{path}.{k}"] if suspicious.search(k) and v not in ("", None, {}) else [])
            ]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in walk(v, f"{path}[{i}]")]
        return [path] if value == "[secret]" else []

    for name, release in _releases(plan).items():
        assert walk(release["inputs"]["values"], name) == []


# --- schemas --------------------------------------------------------------------------------------


def test_every_core_object_is_schema_valid_and_named_and_labelled(site_plan):
    _, plan = site_plan
    objects = _core_objects(plan)
    assert len(objects) >= 10
    for r in objects:
        obj = r["inputs"]
        assert _schema_problem(obj) is None, _schema_problem(obj)
        assert obj["metadata"]["name"], r["name"]
        labels = obj["metadata"]["labels"]
        assert {f"hybridml.io/{k}" for k in REQUIRED_TAG_KEYS} <= set(labels), r["name"]
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_a_broken_object_fails_naming_the_object_and_field(site_plan):
    _, plan = site_plan
    deny = next(
        r["inputs"]
        for r in resources_of(plan, POLICY)
        if r["inputs"]["metadata"]["name"] == "default-deny"
    )
    broken = copy.deepcopy(deny)
    broken["spec"]["policyTypes"] = "Ingress"
    problem = _schema_problem(broken)
    assert problem is not None
    assert problem.startswith("NetworkPolicy default-deny: spec.policyTypes:")
    [storage] = resources_of(plan, "kubernetes:storage.k8s.io/v1:StorageClass")
    misspelt = copy.deepcopy(storage["inputs"])
    misspelt["reclaimpolicy"] = misspelt.pop("reclaimPolicy")  # strict: unknown fields fail
    assert "reclaimpolicy" in (_schema_problem(misspelt) or "")


# --- namespaces ----------------------------------------------------------------------------------


def test_platform_namespace_has_pod_security_quota_limits_and_default_deny(site_plan):
    _, plan = site_plan
    names = _by_name(plan)
    ns = names["addons-ns-mlflow-namespace"]["inputs"]["metadata"]
    assert ns["name"] == "mlflow"
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert re.fullmatch(r"v1\.\d+", ns["labels"]["pod-security.kubernetes.io/enforce-version"])
    assert ns["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    quota = names["addons-ns-mlflow-quota"]["inputs"]
    assert quota["metadata"]["namespace"] == "mlflow"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "8",
        "requests.memory": "32Gi",
        "limits.cpu": "16",
        "limits.memory": "64Gi",
        "requests.nvidia.com/gpu": "2",
        "pods": "100",
        "persistentvolumeclaims": "20",
        "requests.storage": "500Gi",
    }
    [limits] = names["addons-ns-mlflow-limits"]["inputs"]["spec"]["limits"]
    assert limits["type"] == "Container" and set(limits) >= {"default", "defaultRequest", "max"}
    policies = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
        for r in resources_of(plan, POLICY)
        if r["inputs"]["metadata"]["namespace"] == "mlflow"
    }
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "allow-same-namespace",
        "allow-from-gateway",
        "allow-from-monitoring",
        "allow-egress-postgres",
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    [dns] = policies["allow-dns"]["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    [source] = policies["allow-from-gateway"]["ingress"][0]["from"]
    assert source == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}
    }
    # From monitoring only Prometheus: Grafana and friends do not reach services that trust the network.
    [scraper] = policies["allow-from-monitoring"]["ingress"][0]["from"]
    assert scraper == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    [egress] = policies["allow-egress-postgres"]["egress"]
    assert egress == {
        "to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }
    assert plan["outputs"]["namespaces"] == {"mlflow": "mlflow"}


def test_add_on_namespaces_are_privileged_only_for_the_gpu_operator(site_plan):
    site, plan = site_plan
    levels = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        for r in resources_of(plan, NAMESPACE)
    }
    assert levels.pop("gpu-operator", "privileged") == "privileged"
    assert "privileged" not in levels.values()
    assert levels["cert-manager"] == "restricted"


@pytest.mark.parametrize(
    "bad",
    [
        {"requests_cpu": "two"},
        {"limits_memory": "16Gi"},  # below requests.memory 32Gi
        {"requests_gpu": -1},
    ],
)
def test_bad_quota_is_rejected(bad):
    fields = {**QUOTA.model_dump(), **bad}
    with pytest.raises(ValidationError):
        NamespaceQuota(**fields)


def test_bad_namespace_specs_are_rejected():
    with pytest.raises(ValidationError, match="default request"):
        ContainerDefaults(default_request_cpu="2", default_cpu="1")
    with pytest.raises(ValidationError, match="everywhere"):
        EgressAllowance(name="internet", cidrs=("0.0.0.0/0",), ports=(443,))
    with pytest.raises(ValidationError, match="system namespace"):
        NamespaceSpec(name="kube-system", quota=QUOTA)


# --- gateway and certificates --------------------------------------------------------------------


def test_gateway_has_only_a_tls_listener_for_the_cluster_wildcard(site_plan):
    site, plan = site_plan
    [gw] = resources_of(plan, GATEWAY)
    i = gw["inputs"]
    assert (i["metadata"]["name"], i["metadata"]["namespace"]) == ("platform", "gateway")
    assert i["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "platform-ca"
    [listener] = i["spec"]["listeners"]
    assert listener["protocol"] == "HTTPS" and listener["port"] == 443
    assert listener["hostname"] == f"*.{site}-prod.ml.example.internal"
    assert listener["tls"]["mode"] == "Terminate"
    assert listener["tls"]["certificateRefs"][0]["kind"] == "Secret"
    [cls] = resources_of(plan, "kubernetes:gateway.networking.k8s.io/v1:GatewayClass")
    assert (
        cls["inputs"]["spec"]["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    )
    assert i["spec"]["gatewayClassName"] == cls["inputs"]["metadata"]["name"] == "envoy"
    assert plan["outputs"]["gateway"] == "platform"


def test_private_ca_chain_and_install_order(site_plan):
    _, plan = site_plan
    names, releases = _by_name(plan), _releases(plan)
    issuer = names["addons-cert-manager-bootstrap-issuer"]["inputs"]
    ca = names["addons-cert-manager-ca-certificate"]["inputs"]
    cluster_issuer = names["addons-cert-manager-cluster-issuer"]
    assert issuer["spec"] == {"selfSigned": {}}
    assert ca["spec"]["isCA"] is True and ca["metadata"]["namespace"] == "cert-manager"
    assert (
        ca["spec"]["privateKey"]["algorithm"] == "ECDSA" and ca["spec"]["privateKey"]["size"] == 384
    )
    assert ca["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert cluster_issuer["inputs"]["spec"] == {"ca": {"secretName": ca["spec"]["secretName"]}}
    assert (
        cluster_issuer["inputs"]["metadata"]["name"] == plan["outputs"]["issuer"] == "platform-ca"
    )
    cm, eg = releases["cert-manager"], releases["envoy-gateway"]
    values = cm["inputs"]["values"]
    assert values["crds"] == {"enabled": True, "keep": True}
    assert values["config"]["enableGatewayAPI"] is True
    # Gateway API CRDs before cert-manager; CRD objects after the releases defining them.
    assert eg["urn"] in cm["dependencies"]
    for role in ("bootstrap-issuer", "ca-certificate", "cluster-issuer"):
        assert cm["urn"] in names[f"addons-cert-manager-{role}"]["dependencies"]
    [gw] = resources_of(plan, GATEWAY)
    assert {eg["urn"], cluster_issuer["urn"]} <= set(gw["dependencies"])


# --- GPU stack ------------------------------------------------------------------------------------


def test_gpu_operator_only_where_asked_with_the_sites_driver_choice(site_plan):
    site, plan = site_plan
    operator = _releases(plan).get("gpu-operator")
    if SITES[site]["gpu_stack"] != "operator":
        assert operator is None and resources_of(plan, CONFIGMAP) == []
        return
    values = operator["inputs"]["values"]
    assert values["driver"]["enabled"] is SITES[site]["gpu_driver"]
    assert values["toolkit"]["enabled"] is SITES[site]["gpu_toolkit"]
    assert values["dcgmExporter"]["enabled"] is True
    assert {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"} in values[
        "daemonsets"
    ]["tolerations"]
    spot_toleration = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists",
                       "effect": "NoSchedule"}
    aks_spot = site == "azure" and any(p.spot for p in POOLS[site])
    assert (spot_toleration in values["daemonsets"]["tolerations"]) is aks_spot
    mig = any(p.mig_profile for p in POOLS[site])
    assert values["migManager"]["enabled"] is mig
    assert values.get("mig") == ({"strategy": "single"} if mig else None)


@pytest.mark.parametrize("time_slicing", [True, False])
def test_time_slicing_configmap_exists_iff_a_pool_time_slices(time_slicing):
    pools = (
        GpuPoolSpec(
            target="onprem",
            name="l40s",
            gpu_type="nvidia-l40s",
            gpu_count=4,
            nodes=("gpu-02",),
            time_slicing_replicas=4 if time_slicing else None,
        ),
    )
    plan = component_plan(_program(_args("onprem", gpu_pools=pools)))
    maps = resources_of(plan, CONFIGMAP)
    values = _releases(plan)["gpu-operator"]["inputs"]["values"]
    if not time_slicing:
        assert maps == [] and "devicePlugin" not in values
        return
    [cm] = maps
    meta = cm["inputs"]["metadata"]
    assert (meta["name"], meta["namespace"]) == (TIME_SLICING_CONFIGMAP, "gpu-operator")
    assert "replicas: 4" in cm["inputs"]["data"]["l40s"]
    config = values["devicePlugin"]["config"]
    assert config["name"] == TIME_SLICING_CONFIGMAP
    # Unlabelled GPU nodes get an explicit no-sharing config, never a pool's time-slicing.
    assert (
        config["default"] in cm["inputs"]["data"]
        and "timeSlicing" not in cm["inputs"]["data"][config["default"]]
    )


def test_no_gpu_stack_installs_nothing_gpu():
    plan = component_plan(_program(_args("aws", gpu_stack="none", gpu_pools=())))
    assert "gpu-operator" not in _releases(plan)
    assert "gpu-operator" not in {
        r["inputs"]["metadata"]["name"] for r in resources_of(plan, NAMESPACE)
    }


@pytest.mark.parametrize(
    ("site", "over", "problem"),
    [
        ("aws", {"gpu_stack": "gke-managed"}, "only on gcp"),
        ("aws", {"gpu_pools": POOLS["azure"]}, "not aws pools"),
        ("aws", {"gpu_stack": "none"}, "need a GPU stack"),
        ("gcp", {"gpu_driver": True}, "only with gpu_stack operator"),
        ("onprem", {"platform_namespaces": (MLFLOW, MLFLOW)}, "listed twice"),
        ("onprem", {"platform_namespaces": (NamespaceSpec(name="gateway", quota=QUOTA),)}, "clash"),
        ("onprem", {"base_domain": "ML_example"}, "DNS name"),
    ],
)
def test_inconsistent_addon_args_are_rejected(site, over, problem):
    with pytest.raises(ValidationError, match=problem):
        _args(site, **over)


# --- storage and policy ---------------------------------------------------------------------------


def test_default_storage_class_retains_and_waits_for_the_consumer(site_plan):
    site, plan = site_plan
    [sc] = resources_of(plan, "kubernetes:storage.k8s.io/v1:StorageClass")
    i, spec = sc["inputs"], SITES[site]["storage_class"]
    assert i["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert (i["provisioner"], i["parameters"]) == (spec.provisioner, dict(spec.parameters))
    assert i["reclaimPolicy"] == "Retain" and i["volumeBindingMode"] == "WaitForFirstConsumer"
    assert i["allowVolumeExpansion"] is True
    assert plan["outputs"]["storage_class"] == i["metadata"]["name"]


def _pack(resources: list[dict]):
    cfg = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    return run_policy_pack(ROOT / "policies", resources, cfg, analyze_all_resources=True)


def test_policy_pack_passes_and_catches_a_plain_http_listener(site_plan):
    _, plan = site_plan
    res = _pack(plan["resources"])
    assert [d for d in res.diagnostics if d.enforcement_level == "mandatory"] == []
    weak = copy.deepcopy(plan["resources"])
    gw = next(r for r in weak if r["type"] == GATEWAY)
    gw["inputs"]["spec"]["listeners"].append({"name": "http", "protocol": "HTTP", "port": 80})
    failed = [d for d in _pack(weak).diagnostics if d.policy_name == "ingress-tls"]
    assert {d.urn for d in failed} == {gw["urn"]}
