"""The pure builders of ClusterAddons: metrics-server values, StorageClass, namespace args."""

from __future__ import annotations

from components.kubernetes import addons
from components.kubernetes.cluster_spec import StorageClassSpec
from components.kubernetes.namespace import NamespaceQuota, NamespaceSpec
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="confidential")
QUOTA = NamespaceQuota(requests_cpu="4", requests_memory="8Gi", limits_cpu="8",
                       limits_memory="16Gi")


def test_metrics_server_runs_two_replicas_with_a_disruption_budget():
    values = addons.metrics_server_values()
    assert values["replicas"] == 2
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert values["resources"]["limits"]["memory"] == "500Mi"


def test_storage_class_retains_binds_late_and_keeps_site_parameters():
    spec = StorageClassSpec(provisioner="ebs.csi.aws.com", parameters={"type": "gp3"})
    settings = addons.storage_class_settings(spec)
    assert settings == {"provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"},
                        "reclaim_policy": "Retain", "volume_binding_mode": "WaitForFirstConsumer",
                        "allow_volume_expansion": True}


def test_platform_namespaces_admit_the_gateway_and_prometheus():
    spec = NamespaceSpec(name="mlflow", quota=QUOTA, allow_from_namespaces=("team-a",))
    args = addons.platform_namespace_args(spec, TAGS)
    assert args.allow_from_namespaces == ("team-a", *addons.INGRESS_SOURCES)
    assert args.allow_from_pods == addons.INGRESS_PODS
    assert args.tags == TAGS
    assert args.name == "mlflow"


def test_a_namespace_may_narrow_the_pods_further():
    spec = NamespaceSpec(name="kafka", quota=QUOTA,
                         allow_from_pods={"monitoring": {"app": "exporter"}})
    args = addons.platform_namespace_args(spec, TAGS)
    assert args.allow_from_pods == {"monitoring": {"app": "exporter"}}
