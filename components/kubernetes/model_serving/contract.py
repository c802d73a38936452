"""The contract of an `mlflow models build-docker` image (MLflow 3.18, `--env-manager local`):
its port, paths and the environment its entrypoint and uvicorn read, plus the labels and node
labels the serving objects use. See the package docstring for where each value comes from.
"""

from __future__ import annotations

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
#: What lets a pod onto AKS Spot nodes (their taint).
AKS_SPOT_TOLERATION = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                       "value": "spot", "effect": "NoSchedule"}
