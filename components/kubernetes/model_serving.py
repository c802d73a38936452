"""One registered model served on GPUs on one cluster: stable and canary versions behind one route.

Why Deployments and an HTTPRoute rather than KServe: KServe's canary split
(`canaryTrafficPercent` on an InferenceService) exists only in its Serverless mode, which
brings Knative Serving and a Knative networking layer (Istio or Kourier) onto every cluster;
KServe's RawDeployment mode has no canary at all. The platform already runs Envoy Gateway on
every cluster, and a Gateway API HTTPRoute with weighted `backendRefs` splits traffic between
two Services exactly, so each model version is a plain Deployment + Service +
HorizontalPodAutoscaler + PodDisruptionBudget and the split is one route, with nothing more to
install, upgrade or secure.

"Runs a registered model": every version runs the image MLflow 3.18 (the platform's pinned
MLflow) builds from its registry version,

    mlflow models build-docker -m models:/<registeredModel>/<version> \\
        -n <registry>/<repo>:<version> --env-manager local

pushed and pinned by digest in the config. The model is inside the image, so serving needs
neither the MLflow server nor the artifact store at runtime: a site keeps serving (and fails
over) while MLflow is down, and the pods need no egress at all. What that image does, from the
MLflow 3.18.0 source (`mlflow/models/docker_utils.py`, `mlflow/pyfunc/backend.py`,
`mlflow/models/container/__init__.py`, `mlflow/pyfunc/scoring_server/__init__.py`):

- `build-docker` has no MLServer option; the entrypoint (`mlflow.models.container._serve`)
  starts nginx on 8080 in front of uvicorn on 127.0.0.1:8000. nginx writes `/var/log/nginx`
  and the entrypoint symlinks its logs there, which a read-only root filesystem refuses, so the
  pods set `DISABLE_NGINX=true`: then uvicorn alone serves, always on port 8000 (`--port 8000`
  is hard-coded). Its host is not passed, and uvicorn's default is 127.0.0.1, so
  `UVICORN_HOST=0.0.0.0` (uvicorn reads `UVICORN_*` for options not on its command line) makes
  it reachable from the Service. (`GUNICORN_CMD_ARGS` does nothing: 3.18 serves with uvicorn.)
- Workers: `MLFLOW_MODELS_WORKERS` (default: the node's CPU count, not the pod's limit; each
  worker is a process that loads its own copy of the model, on the GPU too), so it is always
  set. Request timeout: `MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT` seconds (default 60; the server
  answers 504 past it); the route's timeout is a little longer so the server's answer wins
  over Envoy's default 15 s cut-off.
- Paths: `GET /ping` and `GET /health` (same handler; the app loads the model when a worker
  imports it, so they answer 200 only once the model is loaded), `GET /version`, `POST /invocations` (JSON with one
  of `dataframe_split`, `dataframe_records`, `instances`, `inputs`; or CSV). No Prometheus
  endpoint: latency and errors are measured at the Envoy Gateway proxies
  (`httproute/<namespace>/<model>/rule/0`), so there is no ServiceMonitor for the pods.
- User: the generated Dockerfile has no `USER`, so the image runs as root unless told; the pods
  set `runAsUser`/`runAsGroup`/`fsGroup`. With `--env-manager local` the image is
  `python:<model's python>-slim` with the model's dependencies in the system Python
  (`/usr/local`) and the model in `/opt/ml/model`, world-readable, and the entrypoint installs
  nothing at start (`MLFLOW_DISABLE_ENV_CREATION=True`): nothing needs root. The CLI default
  `--env-manager virtualenv` instead builds on ubuntu:24.04 with pyenv and the model's
  virtualenv under `/root`, which only root can read: such an image does not run here. Models
  whose flavor needs Java (spark, h2o, johnsnowlabs) get the ubuntu base, where MLflow refuses
  `local`: they are not servable by this contract.
- Writable paths: `/tmp` (an emptyDir; also `HOME`, for library caches) and `/dev/shm` (an
  in-memory emptyDir for worker processes); nothing else is written.

Uvicorn closes idle keep-alive connections after 5 s by default, while Envoy keeps idle
upstream connections for an hour and would reuse one the server just closed (a 503 the client
sees): the pods keep connections for 75 s (`UVICORN_TIMEOUT_KEEP_ALIVE`) and a
BackendTrafficPolicy makes Envoy drop idle upstream connections after 60 s, before the server
does.

Autoscaling follows CPU utilisation: scaling on GPU utilisation needs a custom/external metrics
adapter (e.g. prometheus-adapter over DCGM metrics) that the platform does not run; CPU work per
request (pre/post-processing, batching) tracks load well enough for a safe default, and
`maxReplicas` bounds the GPUs a model can take.
"""

from __future__ import annotations

import re
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, field_validator, model_validator

from components.gpu_catalog import (
    GPU_PRESENT_LABEL_KEY,
    GPU_PRESENT_LABEL_VALUE,
    GPU_TYPE_LABEL_KEY,
)
from components.kubernetes.gateway import GATEWAY
from components.kubernetes.gateway import NAMESPACE as GATEWAY_NAMESPACE
from components.kubernetes.gpu_pool import gpu_toleration
from components.kubernetes.objects import known_name, object_labels, quantity
from components.kubernetes.serving_gateway import PUBLIC_GATEWAY
from components.tags import StandardTags

#: The scoring server's port with DISABLE_NGINX=true (mlflow.models.container:
#: DEFAULT_INFERENCE_SERVER_PORT, passed to uvicorn as `--port 8000`; nginx would listen on 8080).
HTTP_PORT = 8000
#: MLflow scoring server paths (mlflow.pyfunc.scoring_server.init).
INFERENCE_PATH = "/invocations"
HEALTH_PATH = "/ping"
LIVE_PATH = "/health"
#: Environment the image's entrypoint and uvicorn read (mlflow.models.container._serve_pyfunc,
#: mlflow.pyfunc.scoring_server.get_cmd, uvicorn's `UVICORN_*` options).
DISABLE_NGINX_ENV = "DISABLE_NGINX"
WORKERS_ENV = "MLFLOW_MODELS_WORKERS"
TIMEOUT_ENV = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"
HOST_ENV = "UVICORN_HOST"
KEEP_ALIVE_ENV = "UVICORN_TIMEOUT_KEEP_ALIVE"
#: Seconds an idle upstream connection lives: Envoy drops it first, then the server would.
PROXY_IDLE_SECONDS = 60
SERVER_KEEP_ALIVE_SECONDS = 75
#: The route waits this much longer than the server's own timeout, so the server's 504 wins.
ROUTE_TIMEOUT_MARGIN_SECONDS = 5
MODEL_LABEL = "hybridml.io/model"
VERSION_LABEL = "hybridml.io/model-version"
TRACK_LABEL = "track"
#: Node labels of Spot capacity per target (AKS also taints Spot nodes; EKS and GKE do not).
SPOT_NODE_LABELS: dict[str, tuple[str, str]] = {
    "aws": ("eks.amazonaws.com/capacityType", "SPOT"),
    "gcp": ("cloud.google.com/gke-spot", "true"),
    "azure": ("kubernetes.azure.com/scalesetpriority", "spot"),
}
_AKS_SPOT_TOLERATION = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                        "value": "spot", "effect": "NoSchedule"}
_GW_API = "gateway.networking.k8s.io/v1"
_EG_API = "gateway.envoyproxy.io/v1alpha1"
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ServedVersion(BaseModel):
    """One model version on one track."""

    model_config = ConfigDict(frozen=True)

    track: Literal["stable", "canary"] = Field(description="stable or canary.")
    version: str = Field(pattern=r"^[0-9]{1,9}$", description="MLflow registry version number.")
    image: str = Field(min_length=3, description="Pinned image built from that registry version.")
    weight: int = Field(ge=0, le=100, description="Percent of inference requests routed here.")
    min_replicas: int = Field(ge=1, description="Autoscaler lower bound.")
    max_replicas: int = Field(ge=1, description="Autoscaler upper bound.")

    @model_validator(mode="after")
    def _bounds(self) -> ServedVersion:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"{self.track}: min_replicas {self.min_replicas} > max_replicas {self.max_replicas}")
        if "@" not in self.image and self.image.rsplit("/", 1)[-1].partition(":")[2] in ("", "latest"):
            raise ValueError(f"{self.track}: image {self.image!r} is not pinned (tag other than latest, or digest)")
        return self


class JwtAuth(BaseModel):
    """The identity provider whose tokens inference requests carry."""

    model_config = ConfigDict(frozen=True)

    issuer: str = Field(description="Expected `iss` claim.")
    jwks_uri: str = Field(pattern=r"^https://", description="HTTPS URL of the issuer's JWKS.")
    audiences: tuple[str, ...] = Field(default=(), description="Accepted `aud` values (empty: any).")


class ModelServingArgs(BaseModel):
    """Arguments of one model on one cluster."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: str = Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$",
                       description="Serving name: object names and the hostname label.")
    registered_model: str = Field(min_length=1, description="MLflow registry name (annotation only).")
    namespace: str = Field(description="Platform namespace to run in (PSA restricted, quota with GPUs).")
    cluster_name: str = Field(description="Cluster name; the private host is <model>.<cluster>.<base_domain>.")
    site: Literal["aws", "gcp", "azure", "onprem"] = Field(description="Where the cluster runs.")
    base_domain: str = Field(description="Platform DNS domain.")
    versions: tuple[ServedVersion, ...] = Field(min_length=1, max_length=2,
                                                description="stable, and optionally canary.")
    gpus_per_replica: int = Field(ge=1, description="nvidia.com/gpu per replica (requests = limits).")
    gpu_types: tuple[str, ...] = Field(min_length=1,
                                       description="GPU types (node label hybridml.io/gpu-type) to run on.")
    spot: bool = Field(default=False, description="Allow Spot/preemptible GPU nodes.")
    cpu: str = Field(description="CPU request per replica.")
    cpu_limit: str = Field(description="CPU limit per replica.")
    memory: str = Field(description="Memory request and limit per replica.")
    shm_size: str = Field(default="1Gi", description="In-memory /dev/shm size.")
    tmp_size: str = Field(default="2Gi", description="Writable /tmp size (the root filesystem is read-only).")
    workers: int = Field(default=1, ge=1, le=64,
                         description="Scoring server (uvicorn) worker processes per replica; each "
                                     "loads its own copy of the model (MLFLOW_MODELS_WORKERS).")
    request_timeout_seconds: int = Field(
        default=60, ge=1, le=3600,
        description="Seconds the scoring server spends on one request before answering 504 "
                    "(MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT); the route allows a few more.")
    run_as_user: int = Field(default=1000, ge=1,
                             description="Numeric non-root uid and gid (the image has no USER: "
                                         "it would run as root).")
    target_cpu_utilization: int = Field(default=70, ge=10, le=95,
                                        description="HPA target: average CPU utilisation in percent.")
    public_hostname: str | None = Field(
        default=None, description="Also serve on the `serving-public` Gateway under this name "
                                  "(the failover record, `<model>.<failover domain>`).")
    auth: JwtAuth | None = Field(default=None, description="Require a JWT on inference requests.")
    after: tuple[InstanceOf[pulumi.Resource], ...] = Field(
        default=(), description="What the objects wait for (the namespace, the Gateways).")
    tags: StandardTags = Field(description="Standard tags, put on every object as labels.")

    @field_validator("cpu", "cpu_limit", "memory", "shm_size", "tmp_size")
    @classmethod
    def _quantity(cls, value: str) -> str:
        quantity(value)
        return value

    @field_validator("public_hostname")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not a lowercase DNS name")
        return value

    @model_validator(mode="after")
    def _split(self) -> ModelServingArgs:
        tracks = [v.track for v in self.versions]
        problems = []
        if "stable" not in tracks or len(set(tracks)) != len(tracks):
            problems.append(f"versions need one stable and at most one canary; got {tracks}")
        if sum(v.weight for v in self.versions) != 100:
            problems.append(f"weights must add up to 100; got {[v.weight for v in self.versions]}")
        if quantity(self.cpu_limit) < quantity(self.cpu):
            problems.append(f"cpu_limit {self.cpu_limit} is below cpu {self.cpu}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def hostname(self) -> str:
        return f"{self.model}.{self.cluster_name}.{self.base_domain}"


def _node_affinity(args: ModelServingArgs) -> dict:
    expressions = [{"key": GPU_TYPE_LABEL_KEY, "operator": "In", "values": sorted(args.gpu_types)}]
    if not args.spot and args.site in SPOT_NODE_LABELS:
        key, value = SPOT_NODE_LABELS[args.site]
        expressions.append({"key": key, "operator": "NotIn", "values": [value]})
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": expressions}]}}}


def _env(args: ModelServingArgs) -> list[dict]:
    """What the image's entrypoint and its uvicorn read (see the module docstring)."""
    return [
        # nginx would write /var/log/nginx on the read-only root; uvicorn then serves on 8000.
        {"name": DISABLE_NGINX_ENV, "value": "true"},
        # uvicorn's default host is 127.0.0.1 and the entrypoint passes none: listen on the pod IP.
        {"name": HOST_ENV, "value": "0.0.0.0"},
        {"name": WORKERS_ENV, "value": str(args.workers)},
        {"name": TIMEOUT_ENV, "value": str(args.request_timeout_seconds)},
        {"name": KEEP_ALIVE_ENV, "value": str(SERVER_KEEP_ALIVE_SECONDS)},
        # Non-root with a read-only root: caches and temporary files go to /tmp.
        {"name": "HOME", "value": "/tmp"},
    ]


def _probe(path: str, period: int, failures: int) -> dict:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": failures}


def pod_spec(args: ModelServingArgs, version: ServedVersion, service_account: str, selector: dict) -> dict:
    """The pod of one version: GPU-pinned, restricted, read-only root, probes on the scoring
    server's `/ping` (readiness, startup) and `/health` (liveness)."""
    gpus = str(args.gpus_per_replica)
    uid = args.run_as_user
    tolerations = [gpu_toleration()]
    if args.spot and args.site == "azure":
        tolerations.append(dict(_AKS_SPOT_TOLERATION))
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "nodeSelector": {GPU_PRESENT_LABEL_KEY: GPU_PRESENT_LABEL_VALUE},
        "affinity": _node_affinity(args),
        "tolerations": tolerations,
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": selector}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        "terminationGracePeriodSeconds": 30,
        "containers": [{
            "name": "model-server",
            "image": version.image,
            # No command/args: the image's entrypoint (mlflow.models.container._serve) runs.
            "env": _env(args),
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": args.cpu, "memory": args.memory, "nvidia.com/gpu": gpus},
                "limits": {"cpu": args.cpu_limit, "memory": args.memory, "nvidia.com/gpu": gpus},
            },
            # Loading a model onto a GPU can take minutes: liveness starts after startup succeeds.
            "startupProbe": _probe(HEALTH_PATH, 10, 60),
            "readinessProbe": _probe(HEALTH_PATH, 10, 3),
            "livenessProbe": _probe(LIVE_PATH, 20, 3),
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": uid,
                "runAsGroup": uid,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                             {"name": "dshm", "mountPath": "/dev/shm"}],
        }],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": args.tmp_size}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": args.shm_size}},
        ],
    }


class ModelServing(pulumi.ComponentResource):
    """A model's stable (and canary) versions on one cluster, split by weight on one route.

    Creates a ServiceAccount (no API token mounted), per version a Deployment, a Service, an
    autoscaling/v2 HorizontalPodAutoscaler and, with at least two replicas, a PodDisruptionBudget
    (minAvailable 1); an HTTPRoute `<model>` for `POST /invocations` splitting requests by weight,
    and one, `<model>-health`, for `GET /ping` (stable only), on the platform Gateway and, with
    `public_hostname`, on `serving-public`; a BackendTrafficPolicy closing idle upstream
    connections before the server does; a SecurityPolicy requiring a JWT on inference when
    `auth` is set. The routes are what the serving alerts measure (Envoy clusters
    `httproute/<namespace>/<model>/rule/0` and `.../<model>-health/rule/0`): keep their names.

    Guarantees: pods run only on GPU nodes of the accepted types (on-demand unless `spot`),
    tolerate the GPU taint of every target, request GPUs with equal limits and CPU/memory with
    limits, run non-root with no capabilities, no privilege escalation, RuntimeDefault seccomp
    and a read-only root filesystem; rollouts add a pod before removing one (maxUnavailable 0);
    only the inference and health paths are routed (not `/version`).
    """

    url: str
    public_url: str | None
    weights: dict[str, int]
    service_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:ModelServing", name, None, opts)
        ns, model = args.namespace, args.model
        base_labels = {**object_labels(args.tags), "app.kubernetes.io/name": model,
                       "app.kubernetes.io/component": "model-server", MODEL_LABEL: model}
        inside = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account",
            metadata={"name": model, "namespace": ns, "labels": base_labels},
            automount_service_account_token=False,
            opts=inside,
        )
        services: dict[str, k8s.core.v1.Service] = {}
        for v in args.versions:
            selector = {MODEL_LABEL: model, TRACK_LABEL: v.track}
            labels = {**base_labels, TRACK_LABEL: v.track, VERSION_LABEL: v.version,
                      "app.kubernetes.io/instance": f"{model}-{v.track}",
                      "app.kubernetes.io/version": v.version}
            meta = {"name": f"{model}-{v.track}", "namespace": ns, "labels": labels}
            deployment = k8s.apps.v1.Deployment(
                f"{name}-{v.track}",
                metadata=meta,
                spec={
                    # No `replicas`: the HorizontalPodAutoscaler owns it (minReplicas on creation).
                    "selector": {"matchLabels": selector},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "revisionHistoryLimit": 5,
                    "template": {
                        "metadata": {
                            "labels": labels,
                            "annotations": {
                                "hybridml.io/registered-model": args.registered_model,
                                "hybridml.io/model-uri": f"models:/{args.registered_model}/{v.version}",
                            },
                        },
                        "spec": pod_spec(args, v, model, selector),
                    },
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, account]),
            )
            services[v.track] = k8s.core.v1.Service(
                f"{name}-{v.track}-service",
                metadata=meta,
                spec={
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [
                        {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP",
                         "appProtocol": "http"},
                    ],
                },
                opts=inside,
            )
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{v.track}-autoscaler",
                metadata=meta,
                spec={
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": f"{model}-{v.track}"},
                    "minReplicas": v.min_replicas,
                    "maxReplicas": v.max_replicas,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization",
                                   "averageUtilization": args.target_cpu_utilization}}}],
                    # GPU nodes take minutes to arrive and models to load: scale down slowly.
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
            )
            if v.min_replicas >= 2:
                k8s.policy.v1.PodDisruptionBudget(
                    f"{name}-{v.track}-disruption-budget",
                    metadata=meta,
                    spec={"minAvailable": 1, "selector": {"matchLabels": selector}},
                    opts=inside,
                )

        parents = [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                    "namespace": GATEWAY_NAMESPACE, "name": GATEWAY, "sectionName": "https"}]
        hostnames = [args.hostname]
        if args.public_hostname is not None:
            parents.append({**parents[0], "name": PUBLIC_GATEWAY})
            hostnames.append(args.public_hostname)
        route_opts = pulumi.ResourceOptions(parent=self,
                                            depends_on=[*args.after, *services.values()])

        def backend(track: str, weight: int) -> dict:
            return {"group": "", "kind": "Service", "name": f"{model}-{track}",
                    "port": HTTP_PORT, "weight": weight}

        # The SecurityPolicy first, the inference route only after it: Envoy Gateway applies a
        # policy to a route that appears later, so the route (public too) is never served
        # without token validation, not even for a moment on create or replace.
        auth_first: list[pulumi.Resource] = []
        if args.auth is not None:
            provider: dict = {"name": "platform-idp", "issuer": args.auth.issuer,
                              "remoteJWKS": {"uri": args.auth.jwks_uri}}
            if args.auth.audiences:
                provider["audiences"] = list(args.auth.audiences)
            jwt_policy = k8s.apiextensions.CustomResource(
                f"{name}-jwt",
                api_version=_EG_API,
                kind="SecurityPolicy",
                metadata={"name": f"{model}-jwt", "namespace": ns, "labels": base_labels},
                spec={
                    "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                    "name": model}],
                    "jwt": {"providers": [provider]},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
            auth_first.append(jwt_policy)
        route = k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=_GW_API,
            kind="HTTPRoute",
            metadata={"name": model, "namespace": ns, "labels": base_labels},
            spec={
                "parentRefs": parents,
                "hostnames": hostnames,
                "rules": [{
                    "matches": [{"path": {"type": "Exact", "value": INFERENCE_PATH},
                                 "method": "POST"}],
                    "backendRefs": [backend(v.track, v.weight) for v in args.versions],
                    # Envoy's default is 15 s; the server answers 504 itself at its own timeout.
                    "timeouts": {"request": f"{args.request_timeout_seconds + ROUTE_TIMEOUT_MARGIN_SECONDS}s"},
                }],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, *services.values(),
                                                                 *auth_first]),
        )
        health_route = k8s.apiextensions.CustomResource(
            f"{name}-health-route",
            api_version=_GW_API,
            kind="HTTPRoute",
            metadata={"name": f"{model}-health", "namespace": ns, "labels": base_labels},
            spec={
                "parentRefs": parents,
                "hostnames": hostnames,
                # Open (no JWT): health checkers carry no token. The stable version decides
                # whether the site serves; a failing canary must not fail the site over.
                "rules": [{
                    "matches": [{"path": {"type": "Exact", "value": HEALTH_PATH}, "method": "GET"}],
                    "backendRefs": [backend("stable", 1)],
                }],
            },
            opts=route_opts,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-upstream",
            api_version=_EG_API,
            kind="BackendTrafficPolicy",
            metadata={"name": f"{model}-upstream", "namespace": ns, "labels": base_labels},
            spec={
                "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                "name": route_name} for route_name in (model, f"{model}-health")],
                # Uvicorn closes idle connections after UVICORN_TIMEOUT_KEEP_ALIVE; Envoy must
                # close them first or it reuses a connection the server is closing (a 503).
                "timeout": {"http": {"connectionIdleTimeout": f"{PROXY_IDLE_SECONDS}s"}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.after, route, health_route]),
        )
        self.url = f"https://{args.hostname}{INFERENCE_PATH}"
        self.public_url = (f"https://{args.public_hostname}{INFERENCE_PATH}"
                           if args.public_hostname else None)
        self.weights = {v.track: v.weight for v in args.versions}
        self.service_names = {t: known_name(s, f"{model}-{t}") for t, s in services.items()}
        self.register_outputs({"url": self.url, "public_url": self.public_url,
                               "weights": self.weights})
