"""OnPremPostgres: one CloudNativePG `Cluster` with one database, its credentials, backups,
metrics and network rules. The constructor reads as a table of contents; the specs come from
the pure builders of `cluster_specs.py`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.database import connection_outputs, generated_password
from components.kubernetes.objects import MONITORING_API, known_name, network_policy, object_labels
from components.kubernetes.postgres_onprem.cluster_args import (
    CNPG_API,
    POSTGRES_PORT,
    WAIT_FOR_READY,
    OnPremPostgresArgs,
)
from components.kubernetes.postgres_onprem.cluster_specs import (
    cluster_selector,
    cluster_spec,
    credentials_secret_name,
    network_rules,
    pod_monitor_spec,
    scheduled_backup_metadata,
    scheduled_backup_spec,
)


class OnPremPostgres(pulumi.ComponentResource):
    """A CloudNativePG `Cluster` with one database, its credentials and its network rules.

    Creates a generated password (RandomPassword) and from it the owner's credentials Secret
    (`kubernetes.io/basic-auth`); the `Cluster` bootstrapping `database` owned by `username`
    with those credentials; with `volume_snapshot_class` a `ScheduledBackup` (method
    volumeSnapshot); with `monitoring_crds` a `PodMonitor`; and NetworkPolicies letting the
    operator reach the instances (8000, 5432), the clients (`client_pod_labels`) reach
    5432, the instances reach each other and the API server. Pulumi counts the Cluster as
    created only once CNPG reports it `Ready`.

    Guarantees: `instances` pods, one per node (anti-affinity) and spread across zones where
    nodes carry zone labels; volumes on the encrypted StorageClass; PodDisruptionBudgets
    (more than one instance); TLS required for every TCP connection (non-TLS ones are
    rejected in pg_hba; CNPG serves certificates from its own CA, secret `<cluster>-ca`);
    no superuser access; the password never in plain text; backups only by non-deprecated
    means (volume snapshots, cold from a standby when there is one).

    Caller opts: providers=[the cluster's Kubernetes provider, the random provider].
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: str
    username: str
    password: pulumi.Output[str]
    sslmode: str
    cluster_name: str
    credentials_secret_name: pulumi.Output[str]
    ca_secret_name: str

    def __init__(self, name: str, args: OnPremPostgresArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:kubernetes:OnPremPostgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = object_labels(args.tags)
        ns, cluster_name = args.namespace, args.cluster_name

        password = generated_password(name, self, length=32, min_each=2)
        # Secret on every path (the engine marks `result` secret; say it here too).
        secret_password = pulumi.Output.secret(password.result)
        secret_name = credentials_secret_name(args)
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": secret_name, "namespace": ns, "labels": labels},
            type="kubernetes.io/basic-auth",
            string_data={"username": args.username, "password": secret_password},
            opts=child,
        )
        cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster", api_version=CNPG_API, kind="Cluster",
            metadata={"name": cluster_name, "namespace": ns, "labels": labels,
                      "annotations": dict(WAIT_FOR_READY)},
            spec=cluster_spec(args),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[args.operator, secret]),
        )
        if args.volume_snapshot_class is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-scheduled-backup", api_version=CNPG_API, kind="ScheduledBackup",
                metadata=scheduled_backup_metadata(args, labels),
                spec=scheduled_backup_spec(args),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster]),
            )
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor", api_version=MONITORING_API, kind="PodMonitor",
                metadata={"name": cluster_name, "namespace": ns, "labels": labels},
                spec=pod_monitor_spec(args),
                opts=pulumi.ResourceOptions(parent=self,
                                            depends_on=[cluster, args.monitoring_crds]),
            )
        for role, spec in network_rules(args):
            network_policy(f"{name}-{role}", f"{cluster_name}-{role}", ns, args.tags, spec,
                           self, pod_selector=cluster_selector(args))

        self.cluster_name = cluster_name
        # The read-write service always points at the primary (switchover and failover too).
        self.host = known_name(cluster, f"{cluster_name}-rw.{ns}.svc")
        self.port = cluster.urn.apply(lambda _: POSTGRES_PORT)
        self.database = args.database
        self.username = args.username
        self.password = secret_password
        # CNPG's server certificate is signed by its own CA; verify-full needs that CA.
        self.sslmode = "require"
        self.credentials_secret_name = known_name(secret, secret_name)
        self.ca_secret_name = f"{cluster_name}-ca"
        self.register_outputs({
            **connection_outputs(self),
            "cluster_name": self.cluster_name,
            "credentials_secret_name": self.credentials_secret_name,
            "ca_secret_name": self.ca_secret_name,
        })
