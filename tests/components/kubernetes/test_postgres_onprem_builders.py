"""The pure builders of components/kubernetes/postgres_onprem/, without Pulumi."""

from __future__ import annotations

import pulumi
import pytest

from components.kubernetes.addons import STORAGE_CLASS
from components.kubernetes.postgres_onprem import CloudNativePgOperatorArgs, OnPremPostgresArgs
from components.kubernetes.postgres_onprem.cluster_specs import (
    backup_spec,
    cluster_selector,
    cluster_spec,
    credentials_secret_name,
    network_rules,
    operand_image,
    pod_monitor_spec,
    scheduled_backup_metadata,
    scheduled_backup_spec,
)
from components.kubernetes.postgres_onprem.cnpg_operator import operator_values
from components.tags import StandardTags

TAGS = StandardTags(owner="ml-platform", cost_center="ML-4100", environment="prod",
                    data_classification="internal")


def _args(**overrides) -> OnPremPostgresArgs:
    values = {"name": "mlflow", "prefix": "hml-prod", "tags": TAGS, "protect": True,
              "high_availability": True, "backup_retention_days": 14, "storage_gb": 50,
              "namespace": "mlflow", "client_pod_labels": {"app.kubernetes.io/name": "mlflow"},
              # The builders never read the operator; an unregistered instance passes the
              # args' type check without a Pulumi runtime.
              "operator": pulumi.CustomResource.__new__(pulumi.CustomResource)}
    return OnPremPostgresArgs(**{**values, **overrides})


def test_cluster_spec_bootstraps_the_owner_from_the_credentials_secret():
    spec = cluster_spec(_args(database="tracking", username="tracker"))
    assert credentials_secret_name(_args()) == "mlflow-postgres-credentials"
    assert spec["bootstrap"] == {"initdb": {"database": "tracking", "owner": "tracker",
                                            "secret": {"name": "mlflow-postgres-credentials"}}}
    assert spec["description"] == "tracking database (mlflow)"
    assert spec["enableSuperuserAccess"] is False
    assert spec["postgresql"]["pg_hba"] == ["hostnossl all all all reject"]


def test_cluster_spec_sizes_and_places_the_instances():
    spec = cluster_spec(_args(storage_size="80Gi", request_cpu="1", limit_cpu="3", memory="4Gi"))
    assert spec["instances"] == 3 and spec["enablePDB"] is True
    assert spec["storage"] == {"size": "80Gi", "storageClass": STORAGE_CLASS}
    assert spec["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"},
                                 "limits": {"cpu": "3", "memory": "4Gi"}}
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}}
    assert cluster_spec(_args(storage_gb=20))["storage"]["size"] == "20Gi"


def test_a_single_instance_has_no_budget_and_only_preferred_anti_affinity():
    spec = cluster_spec(_args(high_availability=False, instances=1))
    assert spec["enablePDB"] is False
    assert spec["affinity"]["podAntiAffinityType"] == "preferred"


def test_operand_image_is_the_given_one_else_the_operators_default():
    # No `cnpg-postgresql` pin today: the operator's default image, so no imageName.
    assert operand_image(_args()) is None
    assert "imageName" not in cluster_spec(_args())
    pinned = _args(image_name="ghcr.io/cloudnative-pg/postgresql:17.5")
    assert cluster_spec(pinned)["imageName"] == "ghcr.io/cloudnative-pg/postgresql:17.5"


def test_backups_are_cold_snapshots_from_a_standby_and_only_with_a_snapshot_class():
    assert backup_spec(_args()) is None and "backup" not in cluster_spec(_args())
    args = _args(volume_snapshot_class="csi-snapshots")
    assert cluster_spec(args)["backup"] == backup_spec(args) == {
        "target": "prefer-standby",
        "volumeSnapshot": {"className": "csi-snapshots", "online": False,
                           "snapshotOwnerReference": "none"}}
    alone = _args(volume_snapshot_class="csi-snapshots", high_availability=False, instances=1)
    assert backup_spec(alone)["volumeSnapshot"]["online"] is True


def test_scheduled_backup_records_retention_and_runs_at_once():
    args = _args(backup_schedule="0 30 3 * * *")
    meta = scheduled_backup_metadata(args, {"l": "v"})
    assert meta == {"name": "mlflow-postgres-snapshots", "namespace": "mlflow",
                    "labels": {"l": "v"},
                    "annotations": {"hybridml.io/backup-retention-days": "14"}}
    assert scheduled_backup_spec(args) == {
        "schedule": "0 30 3 * * *", "cluster": {"name": "mlflow-postgres"},
        "method": "volumeSnapshot", "backupOwnerReference": "self", "immediate": True}


def test_network_rules_admit_operator_clients_peers_and_the_api_server():
    rules = dict(network_rules(_args(api_server_cidrs=("10.0.0.10/32",),
                                     api_server_ports=(6443,))))
    assert list(rules) == ["from-operator", "from-clients", "between-instances",
                           "to-api-server"]
    operator = rules["from-operator"]["ingress"][0]
    assert operator["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "cnpg-system"}
    assert [p["port"] for p in operator["ports"]] == [5432, 8000]
    clients = rules["from-clients"]["ingress"][0]
    assert clients["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "mlflow"}}}]
    assert clients["ports"] == [{"protocol": "TCP", "port": 5432}]
    peers = rules["between-instances"]
    assert peers["policyTypes"] == ["Ingress", "Egress"]
    assert peers["egress"][0]["to"] == [{"podSelector": cluster_selector(_args())}]
    assert rules["to-api-server"]["egress"] == [{
        "to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}],
        "ports": [{"protocol": "TCP", "port": 6443}]}]


def test_pod_monitor_and_operator_values():
    assert pod_monitor_spec(_args()) == {
        "selector": {"matchLabels": {"cnpg.io/cluster": "mlflow-postgres"}},
        "podMetricsEndpoints": [{"port": "metrics"}]}
    values = operator_values(CloudNativePgOperatorArgs(tags=TAGS, replicas=3))
    assert values["replicaCount"] == 3
    assert values["crds"] == {"create": True}
    assert values["monitoring"] == {"podMonitorEnabled": False}


def test_args_refuse_egress_to_everywhere_and_a_five_field_schedule():
    with pytest.raises(ValueError, match="everywhere"):
        _args(api_server_cidrs=("0.0.0.0/0",))
    with pytest.raises(ValueError, match="six cron fields"):
        _args(backup_schedule="0 2 * * *")
