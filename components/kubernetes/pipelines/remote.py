"""How Airflow's task Jobs reach the teams' namespaces: the rights they need there, and on each
remote site the identity Airflow uses through the VPN (`RemoteSiteAccess`).

On the cluster Airflow runs on, its worker pods (ServiceAccount `airflow-worker`) launch the
Jobs; on another site a ServiceAccount `airflow-tasks` of that cluster does, through the
Airflow connection `hybridml_<site>` (a kubeconfig with its token). Either identity holds the
ClusterRole `airflow-tasks` (`TASK_RULES`) only where a RoleBinding of a team namespace grants
it (`task_role_binding`): never cluster-wide."""

from __future__ import annotations

import base64
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.objects import object_labels, pod_security_labels
from components.kubernetes.work_queues.specs import worker_kubeconfig
from components.tags import StandardTags

#: The ClusterRole every launching identity is bound to, per team namespace.
TASK_ROLE = "airflow-tasks"
#: On remote sites: the namespace holding the ServiceAccount Airflow acts as.
REMOTE_NAMESPACE = "airflow-remote"
REMOTE_SERVICE_ACCOUNT = "airflow-tasks"
#: On the home cluster: the chart's worker ServiceAccount (release `airflow`).
WORKER_SERVICE_ACCOUNT = "airflow-worker"
#: What the KubernetesJobOperator does: run a Job, follow its pods and their logs.
TASK_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["create", "get", "list", "watch", "delete", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
)


def task_role_binding(team_namespace: str, subject_namespace: str, subject: str) -> dict[str, Any]:
    """The RoleBinding (body) granting `subject` the task role in one team namespace."""
    return {
        "metadata": {"name": TASK_ROLE, "namespace": team_namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": TASK_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": subject, "namespace": subject_namespace}],
    }


def kubernetes_connection(kubeconfig: str) -> str:
    """The cncf.kubernetes provider's connection (JSON form) for a kubeconfig (text)."""
    return json.dumps({"conn_type": "kubernetes", "extra": {"kube_config": kubeconfig, "in_cluster": False}})


def task_cluster_role(name: str, tags: StandardTags, opts: pulumi.ResourceOptions) -> k8s.rbac.v1.ClusterRole:
    return k8s.rbac.v1.ClusterRole(name, metadata={"name": TASK_ROLE, "labels": object_labels(tags)},
                                   rules=[dict(r) for r in TASK_RULES], opts=opts)


def _token(data: dict[str, str] | None) -> str:
    encoded = (data or {}).get("token", "")
    return base64.b64decode(encoded).decode() if encoded else ""


class RemoteSiteAccess(pulumi.ComponentResource):
    """On a remote cluster: namespace `airflow-remote`, its ServiceAccount `airflow-tasks` with
    a long-lived token, and the ClusterRole `airflow-tasks`. `connection` (secret) is the
    Airflow connection that reaches the cluster's private API endpoint over the VPN with it."""

    connection: pulumi.Output[str]

    def __init__(self, name: str, cluster_name: str, cluster_kubeconfig: pulumi.Output[str],
                 tags: StandardTags, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hybridml:kubernetes:AirflowRemoteSite", name, None, opts)
        labels = object_labels(tags)
        ns = k8s.core.v1.Namespace(f"{name}-namespace", metadata={
            "name": REMOTE_NAMESPACE, "labels": {**labels, **pod_security_labels("restricted")}},
            opts=pulumi.ResourceOptions(parent=self))
        after = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        account = k8s.core.v1.ServiceAccount(f"{name}-account", metadata={
            "name": REMOTE_SERVICE_ACCOUNT, "namespace": REMOTE_NAMESPACE, "labels": labels}, opts=after)
        task_cluster_role(f"{name}-role", tags, pulumi.ResourceOptions(parent=self))
        token = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": f"{REMOTE_SERVICE_ACCOUNT}-token", "namespace": REMOTE_NAMESPACE,
                      "labels": labels,
                      "annotations": {"kubernetes.io/service-account.name": REMOTE_SERVICE_ACCOUNT}},
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account], additional_secret_outputs=["data"]))
        self.connection = pulumi.Output.secret(pulumi.Output.all(cluster_kubeconfig, token.data).apply(
            lambda v: kubernetes_connection(worker_kubeconfig(v[0], _token(v[1]), cluster_name))))
        self.register_outputs({"connection": self.connection})


def bind_task_role(name: str, team_namespace: str, remote: bool, tags: StandardTags,
                   opts: pulumi.ResourceOptions) -> k8s.rbac.v1.RoleBinding:
    """The RoleBinding that lets Airflow run a team's task Jobs in its namespace on one cluster:
    the chart's worker ServiceAccount on the cluster Airflow runs on, `airflow-tasks` of
    `airflow-remote` on a remote site. Made with the team's namespace (`opts` waits for it)."""
    subject = (REMOTE_NAMESPACE, REMOTE_SERVICE_ACCOUNT) if remote else ("airflow", WORKER_SERVICE_ACCOUNT)
    body = task_role_binding(team_namespace, *subject)
    return k8s.rbac.v1.RoleBinding(name, metadata={**body["metadata"], "labels": object_labels(tags)},
                                   role_ref=body["roleRef"], subjects=body["subjects"], opts=opts)
