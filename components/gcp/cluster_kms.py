"""The Cloud KMS key of a GKE cluster and the service agents allowed to use it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.tags import StandardTags, gcp_labels

#: 90 days: well inside the policy pack's 365-day ceiling; old versions stay usable for decrypt.
ROTATION_PERIOD = "7776000s"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


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
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect)
    ring = gcp.kms.KeyRing(
        f"{name}-keyring",
        name=f"{cluster_name}-gke",
        project=project,
        location=region,
        opts=stateful,
    )
    key = gcp.kms.CryptoKey(
        f"{name}-key",
        name=f"{cluster_name}-gke",
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION_PERIOD,
        labels=gcp_labels(tags),
        opts=stateful,
    )
    grants = {
        role: gcp.kms.CryptoKeyIAMMember(
            f"{name}-key-{role}-agent",
            crypto_key_id=key.id,
            role=ENCRYPTER_DECRYPTER,
            member=f"serviceAccount:{agent}",
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, agent in service_agents(project_number).items()
    }
    return ClusterKey(key_id=key.id, secrets_key_id=grants["gke"].crypto_key_id,
                      disk_key_id=grants["compute"].crypto_key_id)
