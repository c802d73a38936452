"""What the notebooks hub offers, derived from the config (pure): per hub cluster the teams with
notebooks there, their profiles (CPU, and one per GPU flavor the team may use on the cluster),
and the settings the hub module (`components/kubernetes/notebooks/hybridml_hub.py`) reads.

GPU profiles follow the work queues where `services.workQueues` runs on the cluster (the
team's flavors: those it has a guarantee or may borrow in); without queues, the cluster's GPU
pools grouped the same way, when the team has `gpus`. A GPU server carries the Kueue queue label
(`default`), so it waits for GPUs in the team's queue like any job.
"""

from __future__ import annotations

from typing import Any

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.notebooks.names import (
    HOME_MOUNT,
    NOTEBOOK_PORT,
    QUEUE_LABEL,
    SERVER_LABELS,
)
from components.kubernetes.team import ENVIRONMENT_CONFIGMAP, WORKLOAD_SERVICE_ACCOUNT
from components.kubernetes.work_queues.constants import DEFAULT_QUEUE
from stacks.config.notebooks import Notebooks
from stacks.config.platform import PlatformConfig
from stacks.config.teams import Team, team_namespace
from stacks.plan.teams import cluster_pools
from stacks.plan.work_queues import (
    GPU_RESOURCE,
    Flavor,
    borrowing_gpus,
    cluster_flavors,
    flavors_on,
    nominal_gpus,
    queue_clusters,
)

#: Each user's home volume (PVC) in their team's namespace.
HOME_VOLUME = "home-{user_server}"
#: GPU nodes are tainted for GPU workloads only; a GPU server tolerates it.
_GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
#: Restricted Pod Security in the team namespaces: what every server's pod and container declare.
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                      "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}


def secret_keys(cfg: PlatformConfig) -> list[str]:
    """The hub's OIDC client secret."""
    n = cfg.services.notebooks
    return [n.oidc.client_secret_key] if n is not None else []


def hostname(cluster_name: str, base_domain: str) -> str:
    """The hub at the cluster's Gateway."""
    return f"notebooks.{cluster_name}.{base_domain}"


def notebook_teams(cfg: PlatformConfig, ref: str) -> list[Team]:
    """Teams with notebooks whose sites include cluster `ref`."""
    return [t for t in cfg.teams if t.notebooks and ref in t.sites]


def team_flavors(cfg: PlatformConfig, team: Team, ref: str) -> list[Flavor]:
    """The GPU flavors the team's servers may ask for on cluster `ref`."""
    if ref in queue_clusters(cfg):
        return [f for f in flavors_on(cfg, ref)
                if nominal_gpus(team, f) > 0 or borrowing_gpus(team, f) > 0]
    return cluster_flavors(cluster_pools(cfg, ref)) if team.gpus > 0 else []


def _cpu_request(cpu: str) -> float:
    value = float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
    return round(value / 4, 3)


def _bytes(memory: str) -> str:
    """`8Gi` as KubeSpawner writes memory (its K/M/G/T are powers of 1024: `8G`)."""
    return memory[:-1]


def _common(n: Notebooks, team: Team) -> dict[str, Any]:
    return {
        "namespace": team_namespace(team.name),
        "service_account": WORKLOAD_SERVICE_ACCOUNT,
        "automount_service_account_token": True,
        "image": n.image,
        "cpu_limit": float(n.cpu[:-1]) / 1000 if n.cpu.endswith("m") else float(n.cpu),
        "cpu_guarantee": _cpu_request(n.cpu),
        "mem_limit": _bytes(n.memory), "mem_guarantee": _bytes(n.memory),
        "extra_labels": dict(SERVER_LABELS), "storage_extra_labels": dict(SERVER_LABELS),
        "extra_container_config": {"envFrom": [{"configMapRef": {"name": ENVIRONMENT_CONFIGMAP}}]},
        "pod_security_context": dict(POD_SECURITY),
        "container_security_context": dict(CONTAINER_SECURITY),
        "port": NOTEBOOK_PORT,
        "storage_class": STORAGE_CLASS, "storage_capacity": n.home_size,
        "storage_pvc_ensure": True,
        "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}],
        "volume_mounts": [{"name": "home", "mountPath": HOME_MOUNT}],
    }


def team_profiles(cfg: PlatformConfig, n: Notebooks, team: Team, ref: str) -> list[dict[str, Any]]:
    """The team's KubeSpawner profiles on cluster `ref`: CPU first, then each GPU flavor."""
    cpu = {"slug": f"{team.name}-cpu", "display_name": f"{team.name}: CPU",
           "description": f"{n.cpu} CPU, {n.memory} memory, home {n.home_size}",
           "kubespawner_override": _common(n, team)}
    out = [cpu]
    for f in team_flavors(cfg, team, ref):
        override = _common(n, team)
        override["image"] = n.gpu_image or n.image
        override["extra_labels"] = {**override["extra_labels"], QUEUE_LABEL: DEFAULT_QUEUE}
        override["extra_resource_limits"] = {GPU_RESOURCE: "1"}
        override["extra_resource_guarantees"] = {GPU_RESOURCE: "1"}
        override["node_selector"] = dict(f.node_labels)
        override["tolerations"] = [dict(_GPU_TOLERATION)]
        out.append({"slug": f"{team.name}-{f.name}", "display_name": f"{team.name}: 1 x {f.name}",
                    "description": f"one {f.name} GPU (queued in the team's queue), {n.cpu} CPU, "
                                   f"{n.memory} memory",
                    "kubespawner_override": override})
    return out


def hub_settings(cfg: PlatformConfig, ref: str, cluster_name: str) -> dict[str, Any]:
    """What the hub module reads on cluster `ref`: the IdP and every notebook team there."""
    n = cfg.services.notebooks
    assert n is not None and cfg.kubernetes is not None
    o = n.oidc
    host = hostname(cluster_name, cfg.kubernetes.base_domain)
    return {
        "oidc": {"issuer": o.issuer_url, "client_id": o.client_id,
                 "callback_url": f"https://{host}/hub/oauth_callback",
                 "scopes": list(o.scopes), "username_claim": o.username_claim,
                 "group_claims": list(o.group_claims), "admin_groups": list(o.admin_groups)},
        # Named before any profile applies (KubeSpawner fixes it when the spawner is made).
        "home_volume": HOME_VOLUME,
        "teams": [{"name": t.name, "groups": list(t.idp_groups),
                   "profiles": team_profiles(cfg, n, t, ref)} for t in notebook_teams(cfg, ref)],
    }
