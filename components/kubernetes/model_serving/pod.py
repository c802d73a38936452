"""The pure specs of one served version: labels, pod, Deployment, Service, autoscaler and
disruption budget. No Pulumi resources here."""

from __future__ import annotations

from components.gpu_catalog import (
    GPU_PRESENT_LABEL_KEY,
    GPU_PRESENT_LABEL_VALUE,
    GPU_TYPE_LABEL_KEY,
)
from components.kubernetes.gpu_pool import gpu_toleration
from components.kubernetes.model_serving.args import ModelServingArgs, ServedVersion
from components.kubernetes.model_serving.contract import (
    AKS_SPOT_TOLERATION,
    DISABLE_NGINX_ENV,
    HEALTH_PATH,
    HOST_ENV,
    HTTP_PORT,
    KEEP_ALIVE_ENV,
    LIVE_PATH,
    MODEL_LABEL,
    SERVER_KEEP_ALIVE_SECONDS,
    SPOT_NODE_LABELS,
    TIMEOUT_ENV,
    TRACK_LABEL,
    VERSION_LABEL,
    WORKERS_ENV,
)
from components.kubernetes.objects import object_labels


def base_labels(args: ModelServingArgs) -> dict[str, str]:
    """Labels of every object of the model: standard tags, app name and component, model."""
    return {**object_labels(args.tags), "app.kubernetes.io/name": args.model,
            "app.kubernetes.io/component": "model-server", MODEL_LABEL: args.model}


def version_selector(args: ModelServingArgs, version: ServedVersion) -> dict[str, str]:
    """The pods of one track (what its Service, budget and spread select)."""
    return {MODEL_LABEL: args.model, TRACK_LABEL: version.track}


def version_object_name(args: ModelServingArgs, track: str) -> str:
    """`<model>-<track>`: the name of a track's Deployment, Service, autoscaler and budget."""
    return f"{args.model}-{track}"


def version_metadata(args: ModelServingArgs, version: ServedVersion,
                     base: dict[str, str]) -> dict:
    """Metadata shared by a version's Deployment, Service, autoscaler and budget."""
    labels = {**base, TRACK_LABEL: version.track, VERSION_LABEL: version.version,
              "app.kubernetes.io/instance": version_object_name(args, version.track),
              "app.kubernetes.io/version": version.version}
    return {"name": version_object_name(args, version.track), "namespace": args.namespace,
            "labels": labels}


def node_affinity(args: ModelServingArgs) -> dict:
    """GPU nodes of the accepted types; on-demand only unless `spot`."""
    expressions = [{"key": GPU_TYPE_LABEL_KEY, "operator": "In", "values": sorted(args.gpu_types)}]
    if not args.spot and args.site in SPOT_NODE_LABELS:
        key, value = SPOT_NODE_LABELS[args.site]
        expressions.append({"key": key, "operator": "NotIn", "values": [value]})
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": expressions}]}}}


def tolerations(args: ModelServingArgs) -> list[dict]:
    """The GPU taint of every target, and AKS's Spot taint when Spot is allowed there."""
    out = [gpu_toleration()]
    if args.spot and args.site == "azure":
        out.append(dict(AKS_SPOT_TOLERATION))
    return out


def serving_env(args: ModelServingArgs) -> list[dict]:
    """What the image's entrypoint and its uvicorn read (see the package docstring)."""
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


def http_probe(path: str, period: int, failures: int) -> dict:
    """An HTTP GET probe on the `http` port with a 5 s timeout."""
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": failures}


def pod_spec(args: ModelServingArgs, version: ServedVersion, service_account: str,
             selector: dict) -> dict:
    """The pod of one version: GPU-pinned, restricted, read-only root, probes on the scoring
    server's `/ping` (readiness, startup) and `/health` (liveness)."""
    gpus = str(args.gpus_per_replica)
    uid = args.run_as_user
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "nodeSelector": {GPU_PRESENT_LABEL_KEY: GPU_PRESENT_LABEL_VALUE},
        "affinity": node_affinity(args),
        "tolerations": tolerations(args),
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
            "env": serving_env(args),
            "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": args.cpu, "memory": args.memory, "nvidia.com/gpu": gpus},
                "limits": {"cpu": args.cpu_limit, "memory": args.memory, "nvidia.com/gpu": gpus},
            },
            # Loading a model onto a GPU can take minutes: liveness starts after startup succeeds.
            "startupProbe": http_probe(HEALTH_PATH, 10, 60),
            "readinessProbe": http_probe(HEALTH_PATH, 10, 3),
            "livenessProbe": http_probe(LIVE_PATH, 20, 3),
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


def deployment_spec(args: ModelServingArgs, version: ServedVersion, labels: dict[str, str]) -> dict:
    """`spec` of a version's Deployment: surge-only rollouts, the registry version annotated."""
    selector = version_selector(args, version)
    return {
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
                    "hybridml.io/model-uri": f"models:/{args.registered_model}/{version.version}",
                },
            },
            "spec": pod_spec(args, version, args.model, selector),
        },
    }


def service_spec(args: ModelServingArgs, version: ServedVersion) -> dict:
    """`spec` of a version's ClusterIP Service on the scoring server's port."""
    return {
        "type": "ClusterIP",
        "selector": version_selector(args, version),
        "ports": [
            {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP",
             "appProtocol": "http"},
        ],
    }


def autoscaler_spec(args: ModelServingArgs, version: ServedVersion) -> dict:
    """`spec` of a version's autoscaling/v2 HPA: CPU utilisation, slow scale-down."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                           "name": version_object_name(args, version.track)},
        "minReplicas": version.min_replicas,
        "maxReplicas": version.max_replicas,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu",
            "target": {"type": "Utilization",
                       "averageUtilization": args.target_cpu_utilization}}}],
        # GPU nodes take minutes to arrive and models to load: scale down slowly.
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
    }


def disruption_budget_spec(args: ModelServingArgs, version: ServedVersion) -> dict | None:
    """`spec` of a version's PodDisruptionBudget (minAvailable 1), or None below two replicas
    (a budget would then block every node drain)."""
    if version.min_replicas < 2:
        return None
    return {"minAvailable": 1, "selector": {"matchLabels": version_selector(args, version)}}
