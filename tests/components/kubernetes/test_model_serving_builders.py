"""The pure builders of components/kubernetes/model_serving/, without Pulumi."""

from __future__ import annotations

from components.kubernetes.model_serving import JwtAuth, ModelServingArgs, ServedVersion
from components.kubernetes.model_serving.pod import (
    autoscaler_spec,
    base_labels,
    deployment_spec,
    disruption_budget_spec,
    http_probe,
    node_affinity,
    pod_spec,
    service_spec,
    serving_env,
    tolerations,
    version_metadata,
    version_selector,
)
from components.kubernetes.model_serving.routes import (
    backend_ref,
    gateway_parents,
    health_route_spec,
    inference_route_spec,
    jwt_policy_spec,
    route_hostnames,
    upstream_policy_spec,
)
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")
STABLE = ServedVersion(track="stable", version="7", image="registry.example.com/fraud:7",
                       weight=90, min_replicas=2, max_replicas=4)
CANARY = ServedVersion(track="canary", version="8", image="registry.example.com/fraud@sha256:ab",
                       weight=10, min_replicas=1, max_replicas=2)


def _args(**overrides) -> ModelServingArgs:
    values = {"model": "fraud", "registered_model": "Fraud Detector", "namespace": "serving",
              "cluster_name": "hml-prod-aws-eu-west-1", "site": "aws",
              "base_domain": "ml.example.com", "versions": (STABLE, CANARY),
              "gpus_per_replica": 1, "gpu_types": ("nvidia-t4", "nvidia-l4"),
              "cpu": "2", "cpu_limit": "4", "memory": "8Gi", "tags": TAGS}
    return ModelServingArgs(**{**values, **overrides})


def test_node_affinity_pins_gpu_types_and_keeps_off_spot_unless_allowed():
    terms = node_affinity(_args())["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [
        {"key": "hybridml.io/gpu-type", "operator": "In", "values": ["nvidia-l4", "nvidia-t4"]},
        {"key": "eks.amazonaws.com/capacityType", "operator": "NotIn", "values": ["SPOT"]}]}]
    spot = node_affinity(_args(spot=True))["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert [e["key"] for e in spot["matchExpressions"]] == ["hybridml.io/gpu-type"]
    # On-prem has no Spot capacity to avoid.
    onprem = node_affinity(_args(site="onprem"))["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert len(onprem["matchExpressions"]) == 1


def test_tolerations_add_the_aks_spot_taint_only_for_spot_on_azure():
    assert len(tolerations(_args(site="azure"))) == 1
    azure_spot = tolerations(_args(site="azure", spot=True))
    assert azure_spot[1] == {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                             "value": "spot", "effect": "NoSchedule"}
    assert len(tolerations(_args(site="gcp", spot=True))) == 1


def test_serving_env_disables_nginx_and_sets_workers_timeout_and_keep_alive():
    env = {e["name"]: e["value"] for e in serving_env(_args(workers=3,
                                                            request_timeout_seconds=120))}
    assert env == {"DISABLE_NGINX": "true", "UVICORN_HOST": "0.0.0.0",
                   "MLFLOW_MODELS_WORKERS": "3", "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "120",
                   "UVICORN_TIMEOUT_KEEP_ALIVE": "75", "HOME": "/tmp"}


def test_pod_spec_is_restricted_gpu_bound_and_probed():
    args = _args(run_as_user=2000)
    pod = pod_spec(args, CANARY, "fraud", version_selector(args, CANARY))
    [container] = pod["containers"]
    assert container["image"] == CANARY.image
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == 2000
    assert pod["securityContext"]["fsGroup"] == 2000
    assert pod["automountServiceAccountToken"] is False
    assert container["startupProbe"] == http_probe("/ping", 10, 60)
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {c["labelSelector"]["matchLabels"]["track"] for c in pod["topologySpreadConstraints"]} \
        == {"canary"}


def test_version_objects_share_name_labels_and_selector():
    args = _args()
    meta = version_metadata(args, CANARY, base_labels(args))
    assert meta["name"] == "fraud-canary" and meta["namespace"] == "serving"
    assert meta["labels"]["hybridml.io/model-version"] == "8"
    assert meta["labels"]["app.kubernetes.io/instance"] == "fraud-canary"
    deployment = deployment_spec(args, CANARY, meta["labels"])
    assert "replicas" not in deployment
    assert deployment["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert deployment["template"]["metadata"]["annotations"]["hybridml.io/model-uri"] == (
        "models:/Fraud Detector/8")
    assert service_spec(args, CANARY)["selector"] == {"hybridml.io/model": "fraud",
                                                      "track": "canary"}


def test_autoscaler_and_disruption_budget_follow_the_replica_bounds():
    args = _args(target_cpu_utilization=55)
    hpa = autoscaler_spec(args, STABLE)
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    assert hpa["scaleTargetRef"]["name"] == "fraud-stable"
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
    assert disruption_budget_spec(args, STABLE) == {
        "minAvailable": 1, "selector": {"matchLabels": {"hybridml.io/model": "fraud",
                                                        "track": "stable"}}}
    assert disruption_budget_spec(args, CANARY) is None


def test_routes_split_inference_by_weight_and_send_health_to_stable_only():
    args = _args(request_timeout_seconds=30)
    inference = inference_route_spec(args)["rules"][0]
    assert inference["backendRefs"] == [backend_ref("fraud", "stable", 90),
                                        backend_ref("fraud", "canary", 10)]
    assert inference["matches"] == [{"path": {"type": "Exact", "value": "/invocations"},
                                     "method": "POST"}]
    assert inference["timeouts"] == {"request": "35s"}
    health = health_route_spec(args)["rules"][0]
    assert health["backendRefs"] == [backend_ref("fraud", "stable", 1)]
    assert backend_ref("fraud", "stable", 1)["port"] == 8000


def test_public_hostname_adds_the_public_gateway_and_name():
    private = _args()
    assert route_hostnames(private) == ["fraud.hml-prod-aws-eu-west-1.ml.example.com"]
    assert [p["name"] for p in gateway_parents(private)] == ["platform"]
    public = _args(public_hostname="fraud.serve.example.com")
    assert route_hostnames(public)[1] == "fraud.serve.example.com"
    parents = gateway_parents(public)
    assert [p["name"] for p in parents] == ["platform", "serving-public"]
    assert parents[0]["sectionName"] == parents[1]["sectionName"] == "https"


def test_jwt_and_upstream_policies_target_the_routes():
    auth = JwtAuth(issuer="https://idp.example.com", jwks_uri="https://idp.example.com/jwks",
                   audiences=("fraud",))
    spec = jwt_policy_spec("fraud", auth)
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                   "name": "fraud"}]
    assert spec["jwt"]["providers"] == [{"name": "platform-idp", "issuer": auth.issuer,
                                         "remoteJWKS": {"uri": auth.jwks_uri},
                                         "audiences": ["fraud"]}]
    no_audience = jwt_policy_spec("fraud", JwtAuth(issuer="i", jwks_uri="https://j"))
    assert "audiences" not in no_audience["jwt"]["providers"][0]
    upstream = upstream_policy_spec("fraud")
    assert [t["name"] for t in upstream["targetRefs"]] == ["fraud", "fraud-health"]
    assert upstream["timeout"]["http"]["connectionIdleTimeout"] == "60s"
