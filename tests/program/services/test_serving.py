"""GPU model serving: canary split, GPU scheduling, public entries and Route 53 failover.

End to end through the offline preview of prod with the serving config (schema-valid or
PreviewError, policy-clean), the components on every target, and config refusals by key path.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.kubernetes.model_serving import ModelServing, ModelServingArgs, ServedVersion
from components.tags import StandardTags
from stacks.checks.problems import ConfigError
from stacks.preview.manifests import kubernetes_objects
from stacks.preview.offline import PreviewMocks
from stacks.preview.run import run_preview
from stacks.program.validate import parse_platform
from tests.conftest import ROOT, component_plan, resources_of, stack_platform, write_stack

#: The serving config the stack files get (same as /tmp/spec/serving-stack.yaml, minus comments).
SNIPPET = yaml.safe_load("""
prod:
  kubernetes:
    namespaces:
      - name: mlflow
      - name: kafka
      - name: monitoring
      - name: serving
        quota: {gpus: 8, cpu: "24", memory: 128Gi}
  services:
    serving:
      namespace: serving
      auth:
        issuer: https://login.hml.example.com/realms/ml
        jwksUri: https://login.hml.example.com/realms/ml/protocol/openid-connect/certs
        audiences: [model-serving]
      failover:
        domain: serve.hml.example.com
        hostedZoneId: Z0123456789ABCDEFGHIJ
        onpremPublicAddress: 198.51.100.20
        onpremServiceAnnotations:
          metallb.io/loadBalancerIPs: 10.0.8.20
        healthCheckInterval: 10
        failureThreshold: 3
      models:
        - name: fraud-detector
          registeredModel: fraud-detector
          clusters: [onprem, aws/eu-west-1]
          gpuTypes: [nvidia-l40s, nvidia-l4]
          gpusPerReplica: 1
          cpu: "2"
          cpuLimit: "4"
          memory: 16Gi
          stable:
            version: "3"
            image: registry.hml.example.com/models/fraud-detector:3@sha256:3f2a6c0e9b8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b
            minReplicas: 2
            maxReplicas: 3
          canary:
            version: "4"
            image: registry.hml.example.com/models/fraud-detector:4@sha256:4e3b7d1f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e
            weight: 10
            minReplicas: 1
            maxReplicas: 1
          failover:
            primary: onprem
            secondary: aws/eu-west-1
dev:
  kubernetes:
    namespaces:
      - name: mlflow
      - name: kafka
      - name: monitoring
      - name: serving
        quota: {gpus: 6}
  services:
    serving:
      namespace: serving
      auth:
        issuer: https://login-dev.hml.example.com/realms/ml
        jwksUri: https://login-dev.hml.example.com/realms/ml/protocol/openid-connect/certs
      models:
        - name: fraud-detector
          registeredModel: fraud-detector
          clusters: [onprem]
          gpuTypes: [nvidia-t4]
          gpusPerReplica: 1
          cpu: "1"
          cpuLimit: "2"
          memory: 8Gi
          stable:
            version: "4"
            image: registry.hml.example.com/models/fraud-detector:4@sha256:4e3b7d1f0a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e
            minReplicas: 1
            maxReplicas: 2
          canary:
            version: "5"
            image: registry.hml.example.com/models/fraud-detector:5@sha256:5a4c8e2f1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f
            weight: 20
            minReplicas: 1
            maxReplicas: 1
""")

#: The GPU taint of each target, as the cluster layer puts it on GPU nodes (README "Kubernetes").
GPU_TAINTS = {
    "aws": {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
    "azure": {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
    "onprem": {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
    "gcp": {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
}
CLUSTER_SITES = {"onprem-prod": "onprem", "hml-prod-aws-eu-west-1": "aws",
                 "hml-prod-gcp-europe-west4": "gcp", "hml-prod-azure-westeurope": "azure"}
ONPREM_PUBLIC = "198.51.100.20"
TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def platform_with(stack: str, serving: dict | None = None) -> dict[str, Any]:
    """The stack's platform config with the serving snippet (or `serving` instead of its service)."""
    snip = copy.deepcopy(SNIPPET[stack])
    platform = stack_platform(stack)
    platform["kubernetes"]["namespaces"] = snip["kubernetes"]["namespaces"]
    platform.setdefault("services", {})["serving"] = serving or snip["services"]["serving"]
    return platform


class AddressMocks(PreviewMocks):
    """The preview's engine stand-in, but reserved addresses and health check ids are known,
    so the records can be traced back to the resources that own their values."""

    def __init__(self) -> None:
        self.addresses: dict[str, str] = {}
        self._next = iter(ipaddress.ip_network("203.0.113.0/24").hosts())

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        key = {"aws:ec2/eip:Eip": "publicIp", "gcp:compute/address:Address": "address",
               "azure-native:network:PublicIPAddress": "ipAddress"}.get(args.typ)
        if key is not None:
            ip = str(next(self._next))
            self.addresses[args.name] = ip
            outputs = {**outputs, key: ip}
            if args.typ == "aws:ec2/eip:Eip":
                outputs["allocationId"] = f"eipalloc-{args.name}"
        if args.typ == "aws:route53/healthCheck:HealthCheck":
            rid = f"hc-{args.name}"
        if args.typ == "aws:ec2/subnet:Subnet":
            rid = f"subnet-{args.name}"
        return rid, outputs


def _preview(tmp: Path, platform: dict) -> tuple[Any, AddressMocks]:
    mocks = AddressMocks()
    return run_preview(write_stack(tmp, "prod", platform), "prod", resource_mocks=mocks), mocks


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return _preview(tmp_path_factory.mktemp("prod"), platform_with("prod"))


@pytest.fixture(scope="module")
def cloud_pair(tmp_path_factory):
    """A model failing over from GKE to EKS: the GCP public address path end to end."""
    serving = copy.deepcopy(SNIPPET["prod"]["services"]["serving"])
    serving["models"] = [{
        "name": "churn-scorer", "registeredModel": "churn", "clusters": ["gcp/europe-west4", "aws/eu-west-1"],
        "gpuTypes": ["nvidia-l4"], "cpu": "1", "memory": "8Gi",
        "stable": {"version": "7", "image": "registry.hml.example.com/models/churn:7", "maxReplicas": 2},
        "failover": {"primary": "gcp/europe-west4", "secondary": "aws/eu-west-1"},
    }]
    return _preview(tmp_path_factory.mktemp("pair"), platform_with("prod", serving))


def _objects(result, kind: str, namespace: str = "serving") -> list:
    return [o for o in kubernetes_objects(result.plan) if o.kind == kind and o.namespace == namespace]


def _by_name(plan: dict) -> dict[str, dict]:
    return {r["name"]: r for r in plan["resources"]}


def _policy_diagnostics(result) -> list[str]:
    from stacks.preview.analyzer_client import run_policy_pack

    config = json.loads((ROOT / "policies" / "config.prod.json").read_text())
    report = run_policy_pack(ROOT / "policies", result.plan["resources"], config, analyze_all_resources=True)
    return [f"{d.policy_name}: {d.urn}: {d.message}" for d in report.diagnostics]


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Kubernetes toleration matching, for one NoSchedule taint."""
    for t in tolerations:
        if t.get("effect") not in (None, "", taint["effect"]):
            continue
        operator = t.get("operator", "Equal")
        if not t.get("key"):
            if operator == "Exists":
                return True
            continue
        if t["key"] == taint["key"] and (operator == "Exists" or t.get("value") == taint["value"]):
            return True
    return False


# --- end to end: prod with the serving config ---------------------------------------------------------------


def test_prod_serving_is_schema_valid_and_policy_clean(prod):
    result, _ = prod
    # run_preview raised PreviewError on any schema error; the serving objects were among those checked.
    kinds = {o.kind for o in kubernetes_objects(result.plan) if o.namespace == "serving"}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "HTTPRoute",
            "SecurityPolicy", "ServiceAccount"} <= kinds
    assert result.schema_check.errors == []
    assert _policy_diagnostics(result) == []


def test_gpu_pods_tolerate_their_gpu_taint_and_request_gpus_with_limits(prod):
    result, _ = prod
    deployments = _objects(result, "Deployment")
    assert {(d.cluster, d.name) for d in deployments} == {
        (c, f"fraud-detector-{t}") for c in ("onprem-prod", "hml-prod-aws-eu-west-1")
        for t in ("stable", "canary")}
    for d in deployments:
        pod = d.body["spec"]["template"]["spec"]
        assert tolerates(pod["tolerations"], GPU_TAINTS[CLUSTER_SITES[d.cluster]]), d.cluster
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        [c] = pod["containers"]
        res = c["resources"]
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == "1"
        assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
        assert c["image"].startswith("registry.hml.example.com/models/fraud-detector:"
                                     + {"stable": "3@", "canary": "4@"}[d.body["metadata"]["labels"]["track"]])
        [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        exprs = {e["key"]: e for e in term["matchExpressions"]}
        # on-prem only the L40S pool qualifies; on EKS the on-demand L4 pool (the A10G pool is Spot).
        expected = {"onprem-prod": ["nvidia-l40s"], "hml-prod-aws-eu-west-1": ["nvidia-l4"]}[d.cluster]
        assert exprs["hybridml.io/gpu-type"]["values"] == expected
        if d.cluster.startswith("hml-prod-aws"):
            assert exprs["eks.amazonaws.com/capacityType"] == {
                "key": "eks.amazonaws.com/capacityType", "operator": "NotIn", "values": ["SPOT"]}


def test_canary_split_weights_equal_the_config_and_sum_to_100(prod):
    result, _ = prod
    routes = {(o.cluster, o.name): o.body for o in _objects(result, "HTTPRoute")}
    for cluster in ("onprem-prod", "hml-prod-aws-eu-west-1"):
        [rule] = routes[(cluster, "fraud-detector")]["spec"]["rules"]
        weights = {b["name"]: b["weight"] for b in rule["backendRefs"]}
        assert weights == {"fraud-detector-stable": 90, "fraud-detector-canary": 10}
        assert sum(weights.values()) == 100
        assert rule["matches"] == [{"path": {"type": "Exact", "value": "/invocations"}, "method": "POST"}]
        assert rule["timeouts"] == {"request": "65s"}  # the server's default 60 s, plus a margin
        [health] = routes[(cluster, "fraud-detector-health")]["spec"]["rules"]
        assert health["matches"] == [{"path": {"type": "Exact", "value": "/ping"}, "method": "GET"}]
        assert [b["name"] for b in health["backendRefs"]] == ["fraud-detector-stable"]
    out = result.plan["outputs"]["serving"]["fraud-detector"]
    assert out["sites"]["onprem"]["weights"] == {"stable": 90, "canary": 10}
    assert out["sites"]["onprem"]["url"] == "https://fraud-detector.onprem-prod.ml.hml.internal/invocations"
    assert out["failover"]["url"] == "https://fraud-detector.serve.hml.example.com/invocations"
    assert out["failover"]["healthCheckPath"] == "/ping"


def test_every_version_has_an_autoscaler_and_stable_a_disruption_budget(prod):
    result, _ = prod
    hpas = {(o.cluster, o.name): o.body["spec"] for o in _objects(result, "HorizontalPodAutoscaler")}
    pdbs = {(o.cluster, o.name): o.body["spec"] for o in _objects(result, "PodDisruptionBudget")}
    for cluster in ("onprem-prod", "hml-prod-aws-eu-west-1"):
        stable, canary = hpas[(cluster, "fraud-detector-stable")], hpas[(cluster, "fraud-detector-canary")]
        assert stable["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": "fraud-detector-stable"}
        assert (stable["minReplicas"], stable["maxReplicas"]) == (2, 3)
        assert (canary["minReplicas"], canary["maxReplicas"]) == (1, 1)
        assert stable["metrics"][0]["resource"]["name"] == "cpu"
        assert pdbs[(cluster, "fraud-detector-stable")]["minAvailable"] == 1
        # One canary replica: a budget of 1 would block every node drain.
        assert (cluster, "fraud-detector-canary") not in pdbs
    for d in _objects(result, "Deployment"):
        assert "replicas" not in d.body["spec"]  # the autoscaler owns it


def test_failover_records_point_at_two_different_sites_with_health_checks(prod):
    result, mocks = prod
    plan = result.plan
    byname = _by_name(plan)
    records = {r["inputs"]["failoverRoutingPolicies"][0]["type"]: r["inputs"]
               for r in resources_of(plan, "aws:route53/record:Record")}
    assert set(records) == {"PRIMARY", "SECONDARY"}
    assert {r["name"] for r in records.values()} == {"fraud-detector.serve.hml.example.com"}
    assert {r["type"] for r in records.values()} == {"A"} and {r["ttl"] for r in records.values()} == {60}
    assert len({r["setIdentifier"] for r in records.values()}) == 2

    # Primary: the on-prem DMZ address from the config.
    assert records["PRIMARY"]["records"] == [ONPREM_PUBLIC]
    # Secondary: exactly the Elastic IPs reserved in eu-west-1 (one per public subnet).
    eips = {n: ip for n, ip in mocks.addresses.items() if n.startswith("serving-address-aws-eu-west-1")}
    assert len(eips) == 3
    assert sorted(records["SECONDARY"]["records"]) == sorted(eips.values())
    for name in eips:
        assert "aws-eu-west-1" in byname[name]["provider"]
    assert not set(records["PRIMARY"]["records"]) & set(records["SECONDARY"]["records"])

    # Each record carries its own site's health check, probing that site's addresses.
    checks = {r["name"]: r["inputs"] for r in resources_of(plan, "aws:route53/healthCheck:HealthCheck")}
    primary_check = checks[records["PRIMARY"]["healthCheckId"].removeprefix("hc-")]
    assert primary_check["ipAddress"] == ONPREM_PUBLIC
    secondary_check = checks[records["SECONDARY"]["healthCheckId"].removeprefix("hc-")]
    assert secondary_check["type"] == "CALCULATED"
    assert secondary_check["childHealthThreshold"] == 3
    children = [checks[c.removeprefix("hc-")] for c in secondary_check["childHealthchecks"]]
    assert sorted(c["ipAddress"] for c in children) == sorted(eips.values())
    for check in [primary_check, *children]:
        assert check["type"] == "HTTPS" and check["port"] == 443 and check["enableSni"] is True
        assert check["fqdn"] == "fraud-detector.serve.hml.example.com"
        assert check["resourcePath"] == "/ping"
        assert check["failureThreshold"] == 3 and check["requestInterval"] == 10
        assert check["tags"]["owner"] == "ml-platform"
    out = plan["outputs"]["serving"]["fraud-detector"]["failover"]
    assert (out["primary"], out["secondary"]) == ("onprem", "aws/eu-west-1")
    assert out["record"] == "fraud-detector.serve.hml.example.com"


def test_each_failover_site_has_a_public_https_entry_on_its_reserved_address(prod):
    result, mocks = prod
    gateways = {o.cluster: o.body for o in _objects(result, "Gateway", "gateway") if o.name == "serving-public"}
    proxies = {o.cluster: o.body for o in _objects(result, "EnvoyProxy", "gateway")
               if o.name == "serving-public-proxy"}
    assert set(gateways) == set(proxies) == {"onprem-prod", "hml-prod-aws-eu-west-1"}
    for gw in gateways.values():
        [listener] = gw["spec"]["listeners"]
        assert (listener["protocol"], listener["port"]) == ("HTTPS", 443)
        assert listener["hostname"] == "*.serve.hml.example.com"
        assert listener["allowedRoutes"]["namespaces"]["selector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "serving"}
        assert gw["spec"]["infrastructure"]["parametersRef"]["name"] == "serving-public-proxy"
        assert gw["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "platform-ca"
    aws = proxies["hml-prod-aws-eu-west-1"]["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    eip_names = sorted(n for n in mocks.addresses if n.startswith("serving-address-aws-eu-west-1"))
    assert aws["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert aws["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"] == ",".join(
        f"eipalloc-{n}" for n in eip_names)
    # The NLB goes in the VPC's public subnets, one per zone, each with its address.
    public_subnets = sorted(r["name"] for r in resources_of(result.plan, "aws:ec2/subnet:Subnet")
                            if "-public-" in r["name"] and "aws-eu-west-1" in r["provider"])
    assert len(public_subnets) == 3
    assert sorted(aws["service.beta.kubernetes.io/aws-load-balancer-subnets"].split(",")) == [
        f"subnet-{n}" for n in public_subnets]
    # Never the platform Gateway's internal load balancer.
    assert not any("internal" in k for k in aws)
    onprem = proxies["onprem-prod"]["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    assert onprem == {"metallb.io/loadBalancerIPs": "10.0.8.20"}
    # Routes attach to both Gateways; inference needs a JWT, the health path does not.
    routes = {(o.cluster, o.name): o.body for o in _objects(result, "HTTPRoute")}
    for route in routes.values():
        assert {p["name"] for p in route["spec"]["parentRefs"]} == {"platform", "serving-public"}
        assert "fraud-detector.serve.hml.example.com" in route["spec"]["hostnames"]
    policies = {(o.cluster, o.name): o.body["spec"] for o in _objects(result, "SecurityPolicy")}
    for cluster in gateways:
        spec = policies[(cluster, "fraud-detector-jwt")]
        assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                       "name": "fraud-detector"}]
        [provider] = spec["jwt"]["providers"]
        assert provider["remoteJWKS"]["uri"].startswith("https://login.hml.example.com/")
    assert all(p["targetRefs"][0]["name"] != "fraud-detector-health" for p in policies.values())
    # Never a moment without token validation: the policy exists before the (public) route.
    by_urn = {r["urn"]: r for r in result.plan["resources"]}
    urns = {(o.cluster, o.name): o.urn for o in _objects(result, "HTTPRoute")}
    for o in _objects(result, "SecurityPolicy"):
        if o.name == "fraud-detector-jwt":
            route = urns[(o.cluster, "fraud-detector")]
            assert o.urn in by_urn[route]["dependencies"]
            assert route not in by_urn[o.urn]["dependencies"]


def test_a_gke_site_fails_over_to_an_eks_site_on_reserved_addresses(cloud_pair):
    result, mocks = cloud_pair
    plan = result.plan
    assert _policy_diagnostics(result) == []
    records = {r["inputs"]["failoverRoutingPolicies"][0]["type"]: r["inputs"]
               for r in resources_of(plan, "aws:route53/record:Record")}
    [gcp_name] = [n for n in mocks.addresses if n.startswith("serving-address-gcp-europe-west4")]
    assert records["PRIMARY"]["records"] == [mocks.addresses[gcp_name]]
    eips = [ip for n, ip in mocks.addresses.items() if n.startswith("serving-address-aws-eu-west-1")]
    assert sorted(records["SECONDARY"]["records"]) == sorted(eips)
    [address] = [r for r in resources_of(plan, "gcp:compute/address:Address")]
    assert (address["inputs"]["addressType"], address["inputs"]["region"]) == ("EXTERNAL", "europe-west4")
    proxy = next(o.body for o in _objects(result, "EnvoyProxy", "gateway")
                 if o.cluster == "hml-prod-gcp-europe-west4" and o.name == "serving-public-proxy")
    annotations = proxy["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    assert annotations == {"cloud.google.com/l4-rbs": "enabled",
                           "networking.gke.io/load-balancer-ip-addresses": address["inputs"]["name"]}
    gke = next(o.body for o in _objects(result, "Deployment") if o.cluster == "hml-prod-gcp-europe-west4")
    pod = gke["spec"]["template"]["spec"]
    assert tolerates(pod["tolerations"], GPU_TAINTS["gcp"])
    # No canary configured: all inference traffic to stable.
    route = next(o.body for o in _objects(result, "HTTPRoute")
                 if o.cluster == "hml-prod-gcp-europe-west4" and o.name == "churn-scorer")
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("churn-scorer-stable", 100)]


def test_dev_serves_one_site_without_public_entry_or_dns(tmp_path):
    from stacks.preview.analyzer_client import run_policy_pack

    result = run_preview(write_stack(tmp_path, "dev", platform_with("dev")), "dev")
    config = json.loads((ROOT / "policies" / "config.dev.json").read_text())
    report = run_policy_pack(ROOT / "policies", result.plan["resources"], config, analyze_all_resources=True)
    assert [d.message for d in report.diagnostics] == []
    assert resources_of(result.plan, "aws:route53/record:Record") == []
    assert not [r for r in resources_of(result.plan, "aws:ec2/eip:Eip") if r["name"].startswith("serving-")]
    assert not [o for o in kubernetes_objects(result.plan) if o.name == "serving-public"]
    [route] = [o for o in _objects(result, "HTTPRoute") if o.name == "fraud-detector"]
    assert {b["weight"] for b in route.body["spec"]["rules"][0]["backendRefs"]} == {80, 20}
    assert [p["name"] for p in route.body["spec"]["parentRefs"]] == ["platform"]
    out = result.plan["outputs"]["serving"]["fraud-detector"]
    assert out["failover"] is None and list(out["sites"]) == ["onprem"]


# --- the components on every target -------------------------------------------------------------------------


def _versions(stable_image: str = "r/ranker:2", weights: tuple[int, int] = (75, 25)
              ) -> tuple[ServedVersion, ...]:
    return (ServedVersion(track="stable", version="2", image=stable_image, weight=weights[0],
                          min_replicas=2, max_replicas=4),
            ServedVersion(track="canary", version="3", image="r/ranker@sha256:" + "a" * 64,
                          weight=weights[1], min_replicas=1, max_replicas=2))


def _serving_args(site: str, versions: tuple[ServedVersion, ...] | None = None,
                  **extra: Any) -> ModelServingArgs:
    return ModelServingArgs(
        model="ranker", registered_model="Ranker Model", namespace="serving", cluster_name="c1",
        site=site, base_domain="ml.example.internal", versions=versions or _versions(),
        gpus_per_replica=2, gpu_types=("nvidia-l4",), cpu="1", cpu_limit="2", memory="8Gi",
        tags=TAGS, **extra)


def _component(args: ModelServingArgs) -> dict:
    def program():
        provider = k8s.Provider("k8s", kubeconfig="unused", cluster_identifier="c1")
        ModelServing("ranker", args, pulumi.ResourceOptions(providers=[provider]))

    return component_plan(program)


@pytest.mark.parametrize("site", ["aws", "gcp", "azure", "onprem"])
def test_model_pods_tolerate_the_gpu_taint_of_every_target(site):
    plan = _component(_serving_args(site))
    deployments = resources_of(plan, "kubernetes:apps/v1:Deployment")
    assert len(deployments) == 2
    for d in deployments:
        pod = d["inputs"]["spec"]["template"]["spec"]
        for target, taint in GPU_TAINTS.items():
            assert tolerates(pod["tolerations"], taint), (site, target)
        res = pod["containers"][0]["resources"]
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == "2"
        # Spot nodes are avoided unless allowed: AKS taints them, the others only label them.
        assert not tolerates(pod["tolerations"], {"key": "kubernetes.azure.com/scalesetpriority",
                                                  "value": "spot", "effect": "NoSchedule"})


def test_spot_allowed_on_aks_tolerates_the_spot_taint_and_drops_the_exclusion():
    plan = _component(_serving_args("azure", spot=True))
    pod = resources_of(plan, "kubernetes:apps/v1:Deployment")[0]["inputs"]["spec"]["template"]["spec"]
    assert tolerates(pod["tolerations"], {"key": "kubernetes.azure.com/scalesetpriority",
                                          "value": "spot", "effect": "NoSchedule"})
    [term] = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [e["key"] for e in term["matchExpressions"]] == ["hybridml.io/gpu-type"]


def _container_port(container: dict, port: int | str) -> int:
    """The container port a probe or Service targetPort names (by name or number)."""
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return number


def test_pods_run_the_mlflow_318_image_contract_without_nginx_or_root():
    """What `mlflow models build-docker` (3.18) images do: the entrypoint serves uvicorn on 8000 when
    DISABLE_NGINX=true, binds 127.0.0.1 unless UVICORN_HOST says otherwise, starts one worker per
    node CPU unless MLFLOW_MODELS_WORKERS is set, and the Dockerfile has no USER."""
    plan = _component(_serving_args("onprem", workers=2, request_timeout_seconds=120))
    for d in resources_of(plan, "kubernetes:apps/v1:Deployment"):
        pod = d["inputs"]["spec"]["template"]["spec"]
        [c] = pod["containers"]
        # The image's own entrypoint runs (it activates the model's environment and serves).
        assert "command" not in c and "args" not in c
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env["DISABLE_NGINX"] == "true"
        assert env["UVICORN_HOST"] == "0.0.0.0"
        assert env["MLFLOW_MODELS_WORKERS"] == "2"
        assert env["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] == "120"
        assert not [n for n in env if n.startswith(("MLSERVER_", "GUNICORN_"))]
        assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        probes = {k: c[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
        assert {k: v["path"] for k, v in probes.items()} == {
            "startupProbe": "/ping", "readinessProbe": "/ping", "livenessProbe": "/health"}
        assert {_container_port(c, v["port"]) for v in probes.values()} == {8000}
        # Root in the image unless told: every id explicit and non-zero, nothing needs root.
        for ctx in (pod["securityContext"], c["securityContext"]):
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0 and ctx["runAsGroup"] > 0
        assert pod["securityContext"]["fsGroup"] > 0
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        # Read-only root: the only writable paths are emptyDirs, HOME among them.
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
        assert set(mounts) == {"/tmp", "/dev/shm"} and all("emptyDir" in v for v in mounts.values())
        assert env["HOME"] == "/tmp"
    [container] = resources_of(plan, "kubernetes:apps/v1:Deployment")[0]["inputs"]["spec"]["template"]["spec"][
        "containers"]
    services = {s["inputs"]["metadata"]["name"]: s["inputs"]["spec"] for s in
                resources_of(plan, "kubernetes:core/v1:Service")}
    for spec in services.values():
        # No metrics port: the MLflow scoring server has no Prometheus endpoint.
        [port] = spec["ports"]
        assert _container_port(container, port["targetPort"]) == 8000
    routes = {r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
              for r in resources_of(plan, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")}
    for route in routes.values():
        for backend in route["rules"][0]["backendRefs"]:
            assert backend["port"] == services[backend["name"]]["ports"][0]["port"]
    # Envoy's default 15 s would cut a request off before the server's own 504.
    assert routes["ranker"]["rules"][0]["timeouts"] == {"request": "125s"}


def test_no_service_monitor_and_envoy_drops_idle_upstream_connections_before_uvicorn():
    plan = _component(_serving_args("onprem"))
    assert not [r for r in plan["resources"] if r["type"].startswith("kubernetes:monitoring.coreos.com/")]
    [policy] = resources_of(plan, "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy")
    spec = policy["inputs"]["spec"]
    assert [t["name"] for t in spec["targetRefs"]] == ["ranker", "ranker-health"]
    idle = int(spec["timeout"]["http"]["connectionIdleTimeout"].removesuffix("s"))
    pod = resources_of(plan, "kubernetes:apps/v1:Deployment")[0]["inputs"]["spec"]["template"]["spec"]
    keep_alive = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}["UVICORN_TIMEOUT_KEEP_ALIVE"]
    assert idle < int(keep_alive)


def test_serving_routes_are_what_the_serving_alerts_measure(prod):
    """The alerts select Envoy clusters `httproute/<serving ns>/<route>/rule/<n>`: every serving
    route must be one of them, the inference route included."""
    import re

    from components.kubernetes.alert_rules import alert_groups

    result, _ = prod
    groups = alert_groups("https://x.example/runbooks", "serving", [("c", "onprem")])
    [serving] = [g for g in groups if g["name"] == "hybridml.serving"]
    for rule in serving["rules"]:
        [pattern] = set(re.findall(r'envoy_cluster_name=~"([^"]+)"', rule["expr"]))
        for route in _objects(result, "HTTPRoute"):
            for n, _rule in enumerate(route.body["spec"]["rules"]):
                assert re.fullmatch(pattern, f"httproute/{route.namespace}/{route.name}/rule/{n}")
    names = {o.name for o in _objects(result, "HTTPRoute")}
    assert names == {"fraud-detector", "fraud-detector-health"}


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": (60, 60)}, "weights must add up to 100"),
    ({"stable_image": "r/ranker:latest"}, "is not pinned"),
    ({"stable_image": "registry:5000/r/ranker"}, "is not pinned"),
])
def test_model_serving_args_refuse_a_bad_split_or_unpinned_image(kwargs, message):
    _serving_args("aws", _versions())  # the defaults build
    with pytest.raises(ValueError, match=message):
        _serving_args("aws", _versions(**kwargs))


def test_gcp_public_address_is_a_regional_premium_external_reservation():
    from components.gcp.public_address import PublicAddress, PublicAddressArgs

    def program():
        provider = gcp.Provider("gcp", project="p1", region="europe-west4")
        a = PublicAddress("pub", PublicAddressArgs(prefix="hml-prod", purpose="serving", project="p1",
                                                   region="europe-west4", tags=TAGS, protect=True),
                          pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("annotations", a.service_annotations)

    plan = component_plan(program)
    [address] = resources_of(plan, "gcp:compute/address:Address")
    assert address["protect"]
    assert {k: address["inputs"][k] for k in ("addressType", "networkTier", "region", "name")} == {
        "addressType": "EXTERNAL", "networkTier": "PREMIUM", "region": "europe-west4",
        "name": "hml-prod-serving-europe-west4"}
    assert address["inputs"]["labels"]["cost-center"] == "ml-4100"
    assert plan["outputs"]["annotations"] == {
        "cloud.google.com/l4-rbs": "enabled",
        "networking.gke.io/load-balancer-ip-addresses": "hml-prod-serving-europe-west4"}


def test_azure_public_ip_lives_in_its_own_group_the_cluster_identity_may_use():
    from components.azure.public_address import PublicAddress, PublicAddressArgs

    def program():
        provider = azure.Provider("az", subscription_id="sub-1", tenant_id="t", location="westeurope")
        a = PublicAddress("pub", PublicAddressArgs(prefix="hml-prod", purpose="serving",
                                                   subscription_id="sub-1", location="westeurope",
                                                   cluster_principal_id="principal-1", tags=TAGS,
                                                   protect=True),
                          pulumi.ResourceOptions(providers=[provider]))
        pulumi.export("annotations", a.service_annotations)

    plan = component_plan(program)
    [group] = resources_of(plan, "azure-native:resources:ResourceGroup")
    [pip] = resources_of(plan, "azure-native:network:PublicIPAddress")
    [grant] = resources_of(plan, "azure-native:authorization:RoleAssignment")
    assert group["inputs"]["resourceGroupName"] == "rg-hml-prod-serving-westeurope"
    assert pip["inputs"]["sku"] == {"name": "Standard", "tier": "Regional"}
    assert pip["inputs"]["publicIPAllocationMethod"] == "Static"
    assert pip["inputs"]["zones"] == ["1", "2", "3"] and pip["protect"]
    assert grant["inputs"]["principalId"] == "principal-1"
    assert grant["inputs"]["roleDefinitionId"].endswith("/4d97b98b-1d4f-4787-a291-c67834d212e7")
    assert group["urn"] in grant["propertyDependencies"]["scope"]
    assert plan["outputs"]["annotations"] == {
        "service.beta.kubernetes.io/azure-pip-name": "pip-hml-prod-serving-westeurope",
        "service.beta.kubernetes.io/azure-load-balancer-resource-group": "rg-hml-prod-serving-westeurope"}


def _aks_exposes_identity() -> bool:
    from components.azure.cluster import KubernetesCluster

    return "identity_principal_id" in getattr(KubernetesCluster, "__annotations__", {})


@pytest.mark.skipif(not _aks_exposes_identity(),
                    reason="components/azure/cluster.py does not expose identity_principal_id yet")
def test_an_aks_site_gets_a_public_ip_its_cluster_identity_may_attach(tmp_path):
    serving = copy.deepcopy(SNIPPET["prod"]["services"]["serving"])
    serving["models"][0]["clusters"] = ["onprem", "azure/westeurope"]
    serving["models"][0]["gpuTypes"] = ["nvidia-l40s", "nvidia-a100-80gb"]
    serving["models"][0]["failover"]["secondary"] = "azure/westeurope"
    result, mocks = _preview(tmp_path, platform_with("prod", serving))
    assert _policy_diagnostics(result) == []
    records = {r["inputs"]["failoverRoutingPolicies"][0]["type"]: r["inputs"]
               for r in resources_of(result.plan, "aws:route53/record:Record")}
    [pip] = [n for n in mocks.addresses if n.startswith("serving-address-azure-westeurope")]
    assert records["SECONDARY"]["records"] == [mocks.addresses[pip]]
    # Network Contributor on the address's group goes to the AKS cluster's own identity.
    [grant] = [r for r in resources_of(result.plan, "azure-native:authorization:RoleAssignment")
               if r["name"].startswith("serving-address-")]
    identity = next(r["urn"] for r in resources_of(result.plan, "azure-native:managedidentity:UserAssignedIdentity")
                    if r["name"] == "cluster-azure-westeurope-identity")
    assert identity in grant["propertyDependencies"]["principalId"]


# --- config refusals ----------------------------------------------------------------------------------------

PATH = "hybrid-ml-platform:platform."


def _problems(platform: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(platform)
    return [str(p) for p in info.value.problems]


def _model(platform: dict) -> dict:
    return platform["services"]["serving"]["models"][0]


def test_snippets_validate():
    for stack in ("dev", "prod"):
        cfg = parse_platform(platform_with(stack))
        assert cfg.services.serving is not None and cfg.services.serving.models[0].name == "fraud-detector"


def test_failover_to_the_same_site_is_refused():
    p = platform_with("prod")
    _model(p)["failover"]["secondary"] = "onprem"
    [problem] = _problems(p)
    assert problem.startswith(PATH + "services.serving.models[0].failover.secondary: bad value 'onprem'")
    assert "another cluster than the primary" in problem


def test_a_canary_above_half_the_traffic_is_refused():
    p = platform_with("prod")
    _model(p)["canary"]["weight"] = 60
    [problem] = _problems(p)
    assert problem.startswith(PATH + "services.serving.models[0].canary.weight: bad value 60")
    assert "50" in problem


def test_a_site_without_an_accepted_gpu_pool_is_refused():
    p = platform_with("prod")
    p["kubernetes"]["aws"]["eu-central-1"] = {}  # a cluster without GPU pools
    _model(p)["clusters"] = ["onprem", "aws/eu-west-1", "aws/eu-central-1"]
    [problem] = _problems(p)
    assert problem.startswith(PATH + "services.serving.models[0].clusters[2]: bad value 'aws/eu-central-1'")
    assert "kubernetes.aws.eu-central-1.gpuPools" in problem
    p = platform_with("prod")
    _model(p)["gpuTypes"] = ["nvidia-a10g"]  # only a Spot pool in eu-west-1, none on-prem
    problems = _problems(p)
    assert [x.split(":")[1] for x in problems] == [
        "platform.services.serving.models[0].clusters[0]", "platform.services.serving.models[0].clusters[1]"]
    assert "on-demand GPU pool" in problems[1]


def test_a_serving_quota_smaller_than_the_replicas_is_refused():
    p = platform_with("prod")
    p["kubernetes"]["namespaces"][3]["quota"]["gpus"] = 4
    [problem] = _problems(p)
    assert problem.startswith(PATH + "kubernetes.namespaces[3].quota.gpus: bad value 4")
    assert "at least 6" in problem
    p = platform_with("prod")
    p["kubernetes"]["namespaces"][3]["quota"]["memory"] = "64Gi"
    [problem] = _problems(p)
    assert problem.startswith(PATH + "kubernetes.namespaces[3].quota.memory: bad value '64Gi'")
    assert "at least 96Gi" in problem


@pytest.mark.parametrize("address", ["10.20.30.40", "192.168.1.5", "100.64.0.9", "127.0.0.1"])
def test_a_private_onprem_public_address_is_refused(address):
    p = platform_with("prod")
    p["services"]["serving"]["failover"]["onpremPublicAddress"] = address
    [problem] = _problems(p)
    assert problem.startswith(PATH + f"services.serving.failover.onpremPublicAddress: bad value '{address}'")
    assert "public IPv4" in problem


def test_failover_without_auth_dns_settings_or_pinned_images_is_refused():
    p = platform_with("prod")
    del p["services"]["serving"]["auth"]
    del p["services"]["serving"]["failover"]
    _model(p)["stable"]["image"] = "registry.hml.example.com/models/fraud-detector:latest"
    problems = _problems(p)
    keys = [x.split(": ")[0] for x in problems]
    assert keys == [PATH + "services.serving.models[0].stable.image",
                    PATH + "services.serving.failover", PATH + "services.serving.auth"]


def test_the_serving_namespace_must_be_a_platform_namespace():
    p = platform_with("prod")
    p["services"]["serving"]["namespace"] = "models"
    [problem] = _problems(p)
    assert problem.startswith(PATH + "services.serving.namespace: bad value 'models'")


def test_the_cli_exits_2_naming_the_key(tmp_path, capsys):
    from stacks.cli.main import main

    p = platform_with("prod")
    _model(p)["failover"]["secondary"] = "onprem"
    write_stack(tmp_path, "prod", p)
    assert main(["preview", "prod", "-C", str(tmp_path), "--no-policy"]) == 2
    assert "services.serving.models[0].failover.secondary" in capsys.readouterr().err


# --- runbook ------------------------------------------------------------------------------------------------


def test_runbook_has_the_anchors_alerts_link_to_and_the_exact_commands():
    text = (ROOT / "runbooks" / "fail-over-serving.md").read_text()
    anchors = {"-".join(line.lstrip("#").strip().lower().split())
               for line in text.splitlines() if line.startswith("#")}
    assert {"how-failover-works", "check-the-state", "fail-over-by-hand", "fail-back",
            "swap-primary-and-secondary", "shift-canary-weight", "verify"} <= anchors
    for command in ("aws route53 update-health-check --health-check-id \"$PRIMARY_CHECK\" --inverted",
                    "--no-inverted", "pulumi config set --stack prod --path",
                    "dig +short", "curl -sS", "https://$RECORD/ping", "https://$RECORD/invocations",
                    "pulumi stack output platformRootCa",
                    "mlflow models build-docker -m \"models:/$REGISTERED_MODEL/$VERSION\""):
        assert command in text
    # The MLServer / V2 contract is gone: the pinned MLflow's images serve neither.
    for stale in ("/v2/", "--enable-mlserver", "MLServer"):
        assert stale not in text


def test_failover_dns_refuses_one_site_twice_or_an_interval_route53_lacks():
    from components.aws.serving_dns import FailoverDnsArgs, FailoverSite

    def args(**kw: Any) -> FailoverDnsArgs:
        base = {"zone_id": "Z123", "record_name": "m.example.com", "health_path": "/ping",
                "tags": TAGS, "primary": FailoverSite(name="onprem", addresses=["198.51.100.20"]),
                "secondary": FailoverSite(name="aws-eu-west-1", addresses=["203.0.113.1"])}
        return FailoverDnsArgs(**{**base, **kw})

    args()
    with pytest.raises(ValueError, match="same site"):
        args(secondary=FailoverSite(name="onprem", addresses=["203.0.113.1"]))
    with pytest.raises(ValueError, match="10 or 30"):
        args(request_interval=20)
