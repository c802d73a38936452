"""The Cloud KMS key of a GKE cluster and the service agents allowed to use it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.gcp.kms import ENCRYPTER_DECRYPTER, ROTATION_PERIOD, key_grant, regional_key
from components.tags import StandardTags, gcp_labels

#: Re-exported: callers knew the rotation period and the key-user role from this module.
__all__ = ["ENCRYPTER_DECRYPTER", "ROTATION_PERIOD", "ClusterKey", "cluster_key", "service_agents"]


def service_agents(project_number: str) -> dict[str, str]:
    """Role -> the Google-managed service agent that must use the key for it.

    The GKE service agent encrypts Secrets in etcd (application-layer secrets encryption,
    cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets); the Compute Engine
    service agent encrypts CMEK node boot disks and PD CSI volumes
    (cloud.google.com/kubernetes-engine/docs/how-to/using-cmek).
    """
    return {
        "gke": f"service-{project_number}@container-engine-robot.iam.gserviceaccount.com",
        "compute": f"service-{project_number}@compute-system.iam.gserviceaccount.com",
    }


@dataclass(frozen=True)
class ClusterKey:
    """The key's id, and the same id as known only once each agent may use it.

    Consumers take the id from the grant they rely on, so the engine orders them after it and
    GKE or Compute Engine never meets a key it cannot use.
    """

    key_id: pulumi.Output[str]
    secrets_key_id: pulumi.Output[str]
    disk_key_id: pulumi.Output[str]


def cluster_key(
    parent: pulumi.Resource,
    name: str,
    *,
    project: str,
    project_number: str,
    region: str,
    cluster_name: str,
    tags: StandardTags,
    protect: bool,
) -> ClusterKey:
    """A key ring and rotating symmetric key in the cluster's region, usable by its agents.

    The ring lives where the cluster does: GKE requires the secrets key in the cluster's
    location and Compute Engine a disk key in the disks' region.
    """
    key = regional_key(name, parent, ring_name=f"{cluster_name}-gke",
                       key_name=f"{cluster_name}-gke", project=project, region=region,
                       labels=gcp_labels(tags), protect=protect)
    grants = {
        role: key_grant(f"{name}-key-{role}-agent", key, f"serviceAccount:{agent}", parent)
        for role, agent in service_agents(project_number).items()
    }
    return ClusterKey(key_id=key.id, secrets_key_id=grants["gke"].crypto_key_id,
                      disk_key_id=grants["compute"].crypto_key_id)
