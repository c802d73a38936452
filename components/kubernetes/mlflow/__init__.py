"""An MLflow tracking server on any cluster: PostgreSQL backend, proxied artifacts, SSO at the Gateway.

`TrackingServer` runs `mlflow server` with its backend store URI in a Secret, artifacts proxied
to the site's object store (`--serve-artifacts`: clients never hold storage credentials), and
exposes it only through the cluster's `platform` Gateway, where an Envoy Gateway
`SecurityPolicy` signs browsers in with OIDC and admits automation clients with a bearer JWT
from the same IdP. Storage is reached by the cluster's workload identity (EKS Pod Identity, GKE
Workload Identity Federation, Azure Workload Identity); only on-prem, where no such identity
exists, does it take an S3 access key pair (in a Secret, never in the pod spec).

Artifact size: with `--serve-artifacts` every upload and download passes through a server
worker, which spools the WHOLE file to a temporary file under `/tmp` before it is sent on
(`mlflow/server/handlers.py`: `_upload_artifact` and `_download_artifact` use `tempfile`).
`/tmp` is an emptyDir of `TMP_SIZE_LIMIT` (20Gi) per replica, shared by all its workers, so
the artifacts in flight through one replica at the same time must add up to less than that:
e.g. one artifact of up to ~19 GiB, or four concurrent transfers (the default 4 workers) of
up to ~4.5 GiB each. A replica that goes over is evicted by the kubelet (the transfers on it
fail and must be retried). Larger artifacts need a larger `TMP_SIZE_LIMIT` (and node disk),
not more workers.

Shutdown: a terminating replica first sleeps `PRE_STOP_SLEEP_SECONDS` (meanwhile its endpoint
leaves the Service and every Envoy proxy, so no new request reaches it), then the server stops
accepting and finishes its in-flight requests (uvicorn waits for them); the kubelet kills what
still runs `TERMINATION_GRACE_SECONDS` (10 minutes) after the start. The route allows a single
request up to an hour, so a transfer longer than the grace period can still be cut off by a
rollout or node drain and has to be retried by the client.

The package: `args` (the validated arguments), `server` (the component), and pure builders:
`pods` (the Deployment), `jobs` (migration and workspace Jobs), `network` (NetworkPolicies),
`routing` (Service, SecurityPolicy, HTTPRoute, ServiceMonitor), `credentials` (Secret data),
`names` (object names and labels). MLflow's own auth lives in components/kubernetes/mlflow_auth.py.
"""

from components.kubernetes.mlflow.args import (
    EPHEMERAL_STORAGE_LIMIT,
    EPHEMERAL_STORAGE_REQUEST,
    ArtifactTarget,
    ContainerResources,
    DatabaseConnection,
    IntInput,
    OidcAuth,
    Site,
    TrackingServerArgs,
)
from components.kubernetes.mlflow.credentials import backend_store_uri
from components.kubernetes.mlflow.jobs import (
    DB_UPGRADE_SCRIPT,
    JOB_BACKOFF_LIMIT,
    JOB_DEADLINE_SECONDS,
    JOB_PULUMI_TIMEOUT_SECONDS,
    RECONCILE_SCHEDULE,
)
from components.kubernetes.mlflow.names import (
    APP,
    APP_LABELS,
    ARTIFACT_CREDENTIALS_SECRET,
    AUTH_SECRET,
    BACKEND_ENV,
    BACKEND_SECRET,
    CA_CONFIGMAP,
    OIDC_SECRET,
    OIDC_SECRET_KEY,
    PLUGIN_CONFIGMAP,
    PORT,
    SERVICE_ACCOUNT,
    TEAMS_CONFIGMAP,
)
from components.kubernetes.mlflow.network import IDENTITY_ENDPOINTS, NON_PUBLIC
from components.kubernetes.mlflow.pods import (
    METRICS_DIR,
    MLFLOW_PRIVATE_HOST_PATTERNS,
    PRE_STOP_SLEEP_SECONDS,
    RUN_AS_USER,
    TERMINATION_GRACE_SECONDS,
    TMP_SIZE_LIMIT,
    host_patterns,
)
from components.kubernetes.mlflow.server import TrackingServer

__all__ = [
    "APP",
    "APP_LABELS",
    "ARTIFACT_CREDENTIALS_SECRET",
    "AUTH_SECRET",
    "BACKEND_ENV",
    "BACKEND_SECRET",
    "CA_CONFIGMAP",
    "DB_UPGRADE_SCRIPT",
    "EPHEMERAL_STORAGE_LIMIT",
    "EPHEMERAL_STORAGE_REQUEST",
    "IDENTITY_ENDPOINTS",
    "JOB_BACKOFF_LIMIT",
    "JOB_DEADLINE_SECONDS",
    "JOB_PULUMI_TIMEOUT_SECONDS",
    "METRICS_DIR",
    "MLFLOW_PRIVATE_HOST_PATTERNS",
    "NON_PUBLIC",
    "OIDC_SECRET",
    "OIDC_SECRET_KEY",
    "PLUGIN_CONFIGMAP",
    "PORT",
    "PRE_STOP_SLEEP_SECONDS",
    "RECONCILE_SCHEDULE",
    "RUN_AS_USER",
    "SERVICE_ACCOUNT",
    "TEAMS_CONFIGMAP",
    "TERMINATION_GRACE_SECONDS",
    "TMP_SIZE_LIMIT",
    "ArtifactTarget",
    "ContainerResources",
    "DatabaseConnection",
    "IntInput",
    "OidcAuth",
    "Site",
    "TrackingServer",
    "TrackingServerArgs",
    "backend_store_uri",
    "host_patterns",
]
