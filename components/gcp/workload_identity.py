"""One Kubernetes service account's read/write access to one GCS artifact store, by GKE Workload
Identity Federation (the Kubernetes identity itself is the IAM principal; no Google service
account, no keys)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field

from components.inputs import StrInput
from components.tags import StandardTags

#: Read, write, list and delete objects; no bucket administration, no IAM changes.
OBJECT_USER = "roles/storage.objectUser"

_K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


def workload_principal(project: str, project_number: str, namespace: str,
                       service_account: str) -> str:
    """The IAM principal of one Kubernetes service account of the project's GKE workload pool
    (cloud.google.com/kubernetes-engine/docs/concepts/workload-identity#principal-id-examples)."""
    return (f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
            f"workloadIdentityPools/{project}.svc.id.goog/subject/ns/{namespace}/sa/"
            f"{service_account}")


class StoreAccessArgs(BaseModel):
    """Arguments of one service account's access to one GCS artifact store."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    namespace: str = Field(pattern=_K8S_NAME, description="Namespace of the service account.")
    service_account: str = Field(pattern=_K8S_NAME, description="Kubernetes service account name.")
    tags: StandardTags = Field(description="Standard tags (IAM bindings take no labels).")
    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    project: str = Field(description="Project of the GKE cluster, whose workload pool "
                                     "`<project>.svc.id.goog` the service account is in.")
    project_number: str = Field(pattern=r"^\d+$", description="Number of that project.")
    bucket_name: StrInput = Field(description="The store's bucket (`ArtifactStore.bucket_name`).")


class StoreAccess(pulumi.ComponentResource):
    """Grants one Kubernetes service account `roles/storage.objectUser` on one bucket.

    Guarantees: the binding names exactly one service account of the project's workload pool,
    on that bucket only; no Google service account and no keys exist for it. The bucket's CMEK
    is used by the Cloud Storage service agent, so the workload needs no key permission.
    Nothing goes on the ServiceAccount or pod (`service_account_annotations` and `pod_labels`
    are empty); the cluster must run with Workload Identity Federation (the GKE component does).
    Callers pass the GCP provider in `opts.providers`.
    """

    service_account_annotations: dict[str, pulumi.Input[str]]
    pod_labels: dict[str, str]
    member: str

    def __init__(self, name: str, args: StoreAccessArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:StoreAccess", name, None, opts)
        self.member = workload_principal(args.project, args.project_number, args.namespace,
                                         args.service_account)
        gcp.storage.BucketIAMMember(
            f"{name}-object-user", bucket=args.bucket_name, role=OBJECT_USER, member=self.member,
            opts=pulumi.ResourceOptions(parent=self))

        self.service_account_annotations = {}
        self.pod_labels = {}
        self.register_outputs({
            "service_account_annotations": self.service_account_annotations,
            "pod_labels": self.pod_labels,
            "member": self.member,
        })
