"""Names the notebooks hub, its servers and the team namespaces agree on."""

from __future__ import annotations

#: Release and app name of the Zero to JupyterHub chart.
APP = "jupyterhub"
#: Port of every notebook server (KubeSpawner's default).
NOTEBOOK_PORT = 8888
#: The hub's API and metrics port; the proxy's public port.
HUB_PORT = 8081
PROXY_PORT = 8000
#: The chart's hub ServiceAccount (the Role in each team namespace binds it).
HUB_SERVICE_ACCOUNT = "hub"
#: Labels the chart gives its pods (`component`), and the one every server gets from us.
HUB_POD_LABELS = {"app": APP, "component": "hub"}
PROXY_POD_LABELS = {"app": APP, "component": "proxy"}
SERVER_LABELS = {"hybridml.io/notebook-server": "true"}
#: The Kueue queue label of GPU servers (needs Kueue's `pod` integration).
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
#: Home volume mount (the images' jovyan home).
HOME_MOUNT = "/home/jovyan"
#: ConfigMap with the hub module and its settings; Secret with the OIDC client secret.
HUB_CONFIGMAP = "hybridml-hub"
OIDC_SECRET = "notebooks-oidc"
OIDC_SECRET_KEY = "client-secret"
#: Secret with the hub database's password (prod), read by libpq from this env var.
DB_SECRET = "notebooks-db"
DB_SECRET_KEY = "password"
DB_PASSWORD_ENV = "PGPASSWORD"
