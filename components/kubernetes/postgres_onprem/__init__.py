"""PostgreSQL on Kubernetes with the CloudNativePG operator (the on-prem site's managed database).

`CloudNativePgOperator` installs the pinned operator chart once per cluster;
`OnPremPostgres` is one CNPG `Cluster` (API `postgresql.cnpg.io/v1`) with its owner
credentials, scheduled volume-snapshot backups and the NetworkPolicies its pods need
inside a default-deny platform namespace.

Modules: `cnpg_operator` (CloudNativePgOperator), `cluster_args` (OnPremPostgresArgs and the
CNPG facts it relies on), `cluster_specs` (pure specs of the Cluster, backups, PodMonitor and
NetworkPolicies), `database` (OnPremPostgres).
"""

from components.kubernetes.postgres_onprem.cluster_args import (
    CLUSTER_LABEL,
    CNPG_API,
    DEFAULT_API_SERVER_CIDRS,
    DEFAULT_API_SERVER_PORTS,
    POSTGRES_IMAGE_KEY,
    POSTGRES_PORT,
    READY_TIMEOUT_SECONDS,
    STATUS_PORT,
    WAIT_FOR_READY,
    OnPremPostgresArgs,
)
from components.kubernetes.postgres_onprem.cnpg_operator import (
    OPERATOR_NAMESPACE,
    OPERATOR_POD_LABELS,
    CloudNativePgOperator,
    CloudNativePgOperatorArgs,
)
from components.kubernetes.postgres_onprem.database import OnPremPostgres

__all__ = [
    "CLUSTER_LABEL",
    "CNPG_API",
    "DEFAULT_API_SERVER_CIDRS",
    "DEFAULT_API_SERVER_PORTS",
    "OPERATOR_NAMESPACE",
    "OPERATOR_POD_LABELS",
    "POSTGRES_IMAGE_KEY",
    "POSTGRES_PORT",
    "READY_TIMEOUT_SECONDS",
    "STATUS_PORT",
    "WAIT_FOR_READY",
    "CloudNativePgOperator",
    "CloudNativePgOperatorArgs",
    "OnPremPostgres",
    "OnPremPostgresArgs",
]
