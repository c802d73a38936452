"""The pure specs of an OnPremPostgres: the CNPG `Cluster`, its ScheduledBackup and PodMonitor,
and the NetworkPolicies its pods need. No Pulumi resources here."""

from __future__ import annotations

from components.kubernetes.charts import IMAGES, image
from components.kubernetes.postgres_onprem.cluster_args import (
    CLUSTER_LABEL,
    POSTGRES_IMAGE_KEY,
    POSTGRES_PORT,
    STATUS_PORT,
    OnPremPostgresArgs,
)
from components.kubernetes.postgres_onprem.cnpg_operator import OPERATOR_POD_LABELS
from components.tags import k8s_labels


def credentials_secret_name(args: OnPremPostgresArgs) -> str:
    """The owner's `kubernetes.io/basic-auth` Secret."""
    return f"{args.cluster_name}-credentials"


def cluster_selector(args: OnPremPostgresArgs) -> dict:
    """Every pod of the Cluster (instances and their jobs)."""
    return {"matchLabels": {CLUSTER_LABEL: args.cluster_name}}


def operand_image(args: OnPremPostgresArgs) -> str | None:
    """The PostgreSQL image: the given one, else the pinned `cnpg-postgresql`, else None (the
    operator's default for its version)."""
    return args.image_name or (image(POSTGRES_IMAGE_KEY) if POSTGRES_IMAGE_KEY in IMAGES else None)


def backup_spec(args: OnPremPostgresArgs) -> dict | None:
    """The Cluster's `backup`: volume snapshots (cold from a standby when there is one), or
    None without a VolumeSnapshotClass."""
    if args.volume_snapshot_class is None:
        return None
    return {
        "target": "prefer-standby",
        "volumeSnapshot": {
            "className": args.volume_snapshot_class,
            # Without a WAL archive CNPG recommends cold snapshots; a standby is fenced
            # for the snapshot, the primary never (hot only when it is alone).
            "online": args.instances == 1,
            # Snapshots outlive their Backup and the Cluster (a deleted Cluster must
            # still be restorable).
            "snapshotOwnerReference": "none",
        },
    }


def cluster_spec(args: OnPremPostgresArgs) -> dict:
    """`spec` of the CNPG Cluster: instances, bootstrap with the owner's Secret, TLS-only
    pg_hba, resources, anti-affinity and zone spread, and backups when configured."""
    image_name = operand_image(args)
    ha = args.instances > 1
    spec: dict = {
        "description": f"{args.database} database ({args.name})",
        "instances": args.instances,
        **({"imageName": image_name} if image_name else {}),
        # The standard tags onto every pod, volume and service CNPG makes (not Pulumi's
        # managed-by: CNPG manages those objects and labels them so itself).
        "inheritedMetadata": {"labels": {**k8s_labels(args.tags),
                                         "app.kubernetes.io/part-of": "hybrid-ml-platform"}},
        "enableSuperuserAccess": False,
        # Single instance: a budget would block every node drain; nothing to protect.
        "enablePDB": ha,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "storage": {"size": args.size, "storageClass": args.storage_class},
        "bootstrap": {"initdb": {
            "database": args.database,
            "owner": args.username,
            "secret": {"name": credentials_secret_name(args)},
        }},
        "postgresql": {
            # After CNPG's own rules (local and streaming_replica over TLS client
            # certificates); before its catch-all: plain-text TCP is refused outright.
            "pg_hba": ["hostnossl all all all reject"],
        },
        "resources": {
            "requests": {"cpu": args.request_cpu, "memory": args.memory},
            "limits": {"cpu": args.limit_cpu, "memory": args.memory},
        },
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "required" if args.high_availability else "preferred",
        },
        # Zones where the nodes have them; on-prem sites without zone labels still schedule.
        "topologySpreadConstraints": [{
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": cluster_selector(args),
        }],
    }
    backup = backup_spec(args)
    if backup is not None:
        spec["backup"] = backup
    return spec


def scheduled_backup_metadata(args: OnPremPostgresArgs, labels: dict[str, str]) -> dict:
    """Metadata of the ScheduledBackup; the intended retention is recorded as an annotation."""
    return {
        "name": f"{args.cluster_name}-snapshots",
        "namespace": args.namespace,
        "labels": labels,
        "annotations": {"hybridml.io/backup-retention-days": str(args.backup_retention_days)},
    }


def scheduled_backup_spec(args: OnPremPostgresArgs) -> dict:
    """`spec` of the ScheduledBackup: volume snapshots on the schedule, the first one at once."""
    return {
        "schedule": args.backup_schedule,
        "cluster": {"name": args.cluster_name},
        "method": "volumeSnapshot",
        "backupOwnerReference": "self",
        # A first backup right after bootstrap, not a day later.
        "immediate": True,
    }


def pod_monitor_spec(args: OnPremPostgresArgs) -> dict:
    """`spec` of the PodMonitor scraping the instances' `metrics` port."""
    return {"selector": cluster_selector(args), "podMetricsEndpoints": [{"port": "metrics"}]}


def network_rules(args: OnPremPostgresArgs) -> list[tuple[str, dict]]:
    """(role, spec) of each NetworkPolicy the instances need in a default-deny namespace; each
    selects the Cluster's pods and is named `<cluster>-<role>`."""
    selector = cluster_selector(args)
    operator_pods = {"namespaceSelector": {"matchLabels": {
                         "kubernetes.io/metadata.name": args.operator_namespace}},
                     "podSelector": {"matchLabels": OPERATOR_POD_LABELS}}
    tcp = [{"protocol": "TCP", "port": p} for p in (POSTGRES_PORT, STATUS_PORT)]
    return [
        # The operator polls each instance's status endpoint and connects to PostgreSQL.
        ("from-operator", {"policyTypes": ["Ingress"],
                           "ingress": [{"from": [operator_pods], "ports": tcp}]}),
        # The database's clients, by their pod labels (same namespace), on 5432 only.
        ("from-clients", {"policyTypes": ["Ingress"], "ingress": [{
            "from": [{"podSelector": {"matchLabels": dict(args.client_pod_labels)}}],
            "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]}]}),
        # Streaming replication and the instance managers' peer checks.
        ("between-instances", {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": selector}], "ports": tcp}],
            "egress": [{"to": [{"podSelector": selector}], "ports": tcp}],
        }),
        # The instance manager (in every instance and bootstrap job) watches its Cluster.
        ("to-api-server", {
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"ipBlock": {"cidr": c}} for c in args.api_server_cidrs],
                "ports": [{"protocol": "TCP", "port": p} for p in args.api_server_ports],
            }],
        }),
    ]
