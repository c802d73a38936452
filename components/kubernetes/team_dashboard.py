"""A team's Grafana dashboard (JSON, pure): what its namespace uses on every cluster and, with
work queues, how its queues move."""

from __future__ import annotations

import json

#: Kueue's per-ClusterQueue series (the team's queues are `team-<name>` and, on the MultiKueue
#: manager, `team-<name>-burst`).
_QUEUE_PENDING = "kueue_pending_workloads"
_QUEUE_ADMITTED = "kueue_admitted_active_workloads"
_QUEUE_USAGE = "kueue_cluster_queue_resource_usage"
_QUEUE_NOMINAL = "kueue_cluster_queue_nominal_quota"


def _panel(pid: int, title: str, expr: str, unit: str, x: int, y: int) -> dict:
    return {"id": pid, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": expr, "legendFormat": "{{cluster}}"}]}


def queue_panels(team: str, first_id: int, y: int) -> list[dict]:
    """The team's work queues: pending and admitted workloads, GPUs borrowed beyond its
    guarantee, and GPU-hours used (admitted workloads' GPUs over the last 24 hours)."""
    sel = f'cluster_queue=~"team-{team}(-burst)?", cluster=~"$cluster"'
    gpus = f'{sel}, resource="nvidia.com/gpu"'
    return [
        _panel(first_id, "Queue: workloads pending",
               f"sum by (cluster) ({_QUEUE_PENDING}{{{sel}}})", "short", 0, y),
        _panel(first_id + 1, "Queue: workloads admitted",
               f"sum by (cluster) ({_QUEUE_ADMITTED}{{{sel}}})", "short", 12, y),
        _panel(first_id + 2, "Queue: GPUs borrowed beyond the guarantee",
               f"sum by (cluster) (clamp_min({_QUEUE_USAGE}{{{gpus}}} - on (cluster, "
               f"cluster_queue, flavor, resource) {_QUEUE_NOMINAL}{{{gpus}}}, 0))",
               "short", 0, y + 8),
        _panel(first_id + 3, "Queue: GPU-hours (last 24 h)",
               f"sum by (cluster) (sum_over_time({_QUEUE_USAGE}{{{gpus}}}[24h:5m])) * 5 / 60",
               "short", 12, y + 8),
    ]


def notebook_panels(namespace: str, first_id: int, y: int) -> list[dict]:
    """The team's notebook servers (KubeSpawner names their pods `jupyter-<user>`) and how full
    their home volumes (`home-<user>`) are."""
    sel = f'namespace="{namespace}", cluster=~"$cluster"'
    homes = f'{sel}, persistentvolumeclaim=~"home-.*"'
    return [
        _panel(first_id, "Notebooks: servers running",
               f'sum by (cluster) (kube_pod_status_phase{{{sel}, pod=~"jupyter-.*", '
               'phase="Running"})', "short", 0, y),
        _panel(first_id + 1, "Notebooks: fullest home volume",
               f"max by (cluster) (kubelet_volume_stats_used_bytes{{{homes}}} / "
               f"kubelet_volume_stats_capacity_bytes{{{homes}}})", "percentunit", 12, y),
    ]


def pipeline_panels(namespace: str, first_id: int, y: int) -> list[dict]:
    """Jobs of the namespace (Airflow's task Jobs run there, as do training Jobs) that
    succeeded and failed over the last 24 hours."""
    sel = f'namespace="{namespace}", cluster=~"$cluster"'
    return [
        _panel(first_id, "Jobs succeeded (24 h; pipeline tasks and training)",
               f"sum by (cluster) (increase(kube_job_status_succeeded{{{sel}}}[24h]))",
               "short", 0, y),
        _panel(first_id + 1, "Jobs failed (24 h; pipeline tasks and training)",
               f"sum by (cluster) (increase(kube_job_status_failed{{{sel}}}[24h]))",
               "short", 12, y),
    ]


def team_dashboard(team: str, namespace: str, queues: bool = False, notebooks: bool = False,
                   pipelines: bool = False) -> str:
    """The team's Grafana dashboard (JSON): CPU, memory and GPUs of its namespace, per cluster;
    its work queues, notebooks and pipelines where it has them."""
    sel = f'namespace="{namespace}", cluster=~"$cluster"'
    panels = [
        _panel(1, "CPU used (cores)",
               f"sum by (cluster) (rate(container_cpu_usage_seconds_total{{{sel}, "
               'container!=""}[5m]))', "short", 0, 0),
        _panel(2, "Memory used",
               f'sum by (cluster) (container_memory_working_set_bytes{{{sel}, container!=""}})',
               "bytes", 12, 0),
        _panel(3, "GPUs requested of quota",
               f'sum by (cluster) (kube_resourcequota{{{sel}, resource="requests.nvidia.com/gpu", '
               'type="used"})', "short", 0, 8),
        _panel(4, "Pods running",
               f'sum by (cluster) (kube_pod_status_phase{{{sel}, phase="Running"}})',
               "short", 12, 8),
    ]
    extra = []
    if queues:
        extra.append(lambda pid, y: queue_panels(team, pid, y))
    if notebooks:
        extra.append(lambda pid, y: notebook_panels(namespace, pid, y))
    if pipelines:
        extra.append(lambda pid, y: pipeline_panels(namespace, pid, y))
    for make in extra:
        rows = make(len(panels) + 1, max(p["gridPos"]["y"] + 8 for p in panels))
        panels += rows
    doc = {
        "uid": f"team-{team}"[:40], "title": f"Team {team}", "schemaVersion": 39,
        "tags": ["hybrid-ml-platform", "team"], "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            {"name": "cluster", "type": "query", "datasource": {"type": "prometheus",
                                                               "uid": "${datasource}"},
             "query": f'label_values(kube_namespace_labels{{namespace="{namespace}"}}, cluster)',
             "includeAll": True, "multi": True, "refresh": 2},
        ]},
        "panels": panels,
    }
    return json.dumps(doc, indent=2, sort_keys=True)
