"""Names of the MLflow server's Kubernetes objects, its port and its labels (one place for each)."""

from __future__ import annotations

#: Name of every Kubernetes object of the server (Service, Deployment, ServiceAccount, ...).
APP = "mlflow"
#: The ServiceAccount the server runs as; workload identity grants are made to this one.
SERVICE_ACCOUNT = APP
PORT = 5000
#: Labels of every pod of the server: the replicas and the migration Job. The database rules
#: (egress here, ingress on the on-prem CloudNativePG cluster) admit exactly these pods.
APP_LABELS = {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": APP}
#: Labels of the server replicas only (their selector, spread, Service, PDB and policies).
SERVER_LABELS = {**APP_LABELS, "app.kubernetes.io/component": "server"}
BACKEND_SECRET = f"{APP}-backend-store"
#: MLflow's own auth: its config file (names the database) with the admin password and CSRF
#: key, the authorization function's code, and the team mapping
#: (components/kubernetes/mlflow_auth.py).
AUTH_SECRET = f"{APP}-auth"
PLUGIN_CONFIGMAP = f"{APP}-auth-plugin"
TEAMS_CONFIGMAP = f"{APP}-teams"
BACKEND_ENV = "MLFLOW_BACKEND_STORE_URI"
OIDC_SECRET = f"{APP}-oidc-client"
ARTIFACT_CREDENTIALS_SECRET = f"{APP}-artifact-credentials"
CA_CONFIGMAP = f"{APP}-object-store-ca"
#: Envoy Gateway's OIDC client secret key (`client-secret`, api/v1alpha1/oidc_types.go).
OIDC_SECRET_KEY = "client-secret"
#: Keys of the auth Secret besides the auth config file.
AUTH_ADMIN_PASSWORD_KEY = "admin-password"
AUTH_CSRF_KEY = "csrf-key"
#: The static S3 key pair of an on-prem object store (Secret keys and variable names alike).
ARTIFACT_KEY_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def internal_url(namespace: str) -> str:
    """The server's in-cluster URL (its Service; no sign-on)."""
    return f"http://{APP}.{namespace}.svc:{PORT}"
