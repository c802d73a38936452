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
  imports it, so they answer 200 only once the model is loaded), `GET /version`,
  `POST /invocations` (JSON with one of `dataframe_split`, `dataframe_records`, `instances`,
  `inputs`; or CSV). No Prometheus endpoint: latency and errors are measured at the Envoy
  Gateway proxies (`httproute/<namespace>/<model>/rule/0`), so there is no ServiceMonitor for
  the pods.
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

Modules: `contract` (the image's port, paths, environment; labels), `args` (ModelServingArgs),
`pod` (pure specs of a version's pod, Deployment, Service, autoscaler, budget), `routes` (pure
specs of the routes and Envoy Gateway policies), `component` (ModelServing).
"""

from components.kubernetes.model_serving.args import JwtAuth, ModelServingArgs, ServedVersion
from components.kubernetes.model_serving.component import ModelServing
from components.kubernetes.model_serving.contract import (
    DISABLE_NGINX_ENV,
    HEALTH_PATH,
    HOST_ENV,
    HTTP_PORT,
    INFERENCE_PATH,
    KEEP_ALIVE_ENV,
    LIVE_PATH,
    MODEL_LABEL,
    PROXY_IDLE_SECONDS,
    ROUTE_TIMEOUT_MARGIN_SECONDS,
    SERVER_KEEP_ALIVE_SECONDS,
    SPOT_NODE_LABELS,
    TIMEOUT_ENV,
    TRACK_LABEL,
    VERSION_LABEL,
    WORKERS_ENV,
)
from components.kubernetes.model_serving.pod import pod_spec

__all__ = [
    "DISABLE_NGINX_ENV",
    "HEALTH_PATH",
    "HOST_ENV",
    "HTTP_PORT",
    "INFERENCE_PATH",
    "KEEP_ALIVE_ENV",
    "LIVE_PATH",
    "MODEL_LABEL",
    "PROXY_IDLE_SECONDS",
    "ROUTE_TIMEOUT_MARGIN_SECONDS",
    "SERVER_KEEP_ALIVE_SECONDS",
    "SPOT_NODE_LABELS",
    "TIMEOUT_ENV",
    "TRACK_LABEL",
    "VERSION_LABEL",
    "WORKERS_ENV",
    "JwtAuth",
    "ModelServing",
    "ModelServingArgs",
    "ServedVersion",
    "pod_spec",
]
