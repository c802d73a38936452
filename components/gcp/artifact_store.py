"""Encrypted, versioned, access-logged GCS artifact store."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
from pydantic import BaseModel, ConfigDict, Field

from components import naming
from components.gcp.kms import DAY_SECONDS, key_grant, regional_key
from components.tags import StandardTags, gcp_labels

#: Google's group that writes GCS usage logs into the log bucket.
_USAGE_LOG_WRITER = "group:cloud-storage-analytics@google.com"


class ArtifactStoreArgs(BaseModel):
    """Arguments of a GCS artifact store."""

    model_config = ConfigDict(frozen=True)

    prefix: str = Field(description="Name prefix for the key ring and key, e.g. `hml-prod`.")
    store: str = Field(description="Logical store name, e.g. `artifacts`.")
    project: str = Field(description="GCP project id that owns the bucket and key.")
    project_number: str = Field(pattern=r"^\d+$", description="Project number (for the GCS service agent).")
    region: str = Field(description="GCP region of the bucket and key ring (single region).")
    tags: StandardTags = Field(description="Standard tags, applied as GCP labels.")
    noncurrent_version_days: int = Field(ge=1, description="Days before noncurrent versions are deleted.")
    soft_delete_days: int = Field(ge=7, le=90, description="Days deleted objects stay recoverable.")
    access_log_retention_days: int = Field(ge=1, description="Days usage logs are kept.")
    protect: bool = Field(description="Protect stateful resources (buckets, key ring, key).")


def gcs_service_agent(project_number: str) -> str:
    """The Cloud Storage service agent (as an IAM member), which encrypts with the bucket's CMEK."""
    return f"serviceAccount:service-{project_number}@gs-project-accounts.iam.gserviceaccount.com"


class ArtifactStore(pulumi.ComponentResource):
    """A GCS bucket for ML artifacts, its usage-log bucket and its CMEK.

    Guarantees: default encryption with a customer-managed Cloud KMS key in the
    same region (rotating every 90 days), uniform bucket-level access, public
    access prevention enforced, object versioning with deletion of old
    noncurrent versions, soft delete, usage logs, and `protect` when asked.
    """

    bucket_name: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:gcp:ArtifactStore", name, None, opts)
        labels = gcp_labels(args.tags)
        ring_name = f"{args.prefix}-{args.store}"

        key = regional_key(name, self, ring_name=ring_name, key_name=f"{ring_name}-cmek",
                           project=args.project, region=args.region, labels=labels,
                           protect=args.protect, destroy_after_days=30, hsm=True)
        # The GCS service agent encrypts on the bucket's behalf; it needs the key first.
        grant = key_grant(f"{name}-key-gcs-agent", key, gcs_service_agent(args.project_number),
                          self)
        # Known before the key exists, so the bucket's CMEK is visible at preview.
        key_id = (
            f"projects/{args.project}/locations/{args.region}/keyRings/{ring_name}"
            f"/cryptoKeys/{ring_name}-cmek"
        )

        log_name = naming.gcs_bucket_name(args.project, args.store, args.region, suffix="logs")
        log_bucket = self._bucket(
            f"{name}-logs", log_name, key_id, labels, args, grant,
            expire_current_days=args.access_log_retention_days, purpose="access-logs", log_to=None,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-logs-writer",
            bucket=log_bucket.name,
            role="roles/storage.objectCreator",
            member=_USAGE_LOG_WRITER,
            opts=pulumi.ResourceOptions(parent=self),
        )
        bucket = self._bucket(
            f"{name}-bucket", naming.gcs_bucket_name(args.project, args.store, args.region),
            key_id, labels, args, grant, expire_current_days=None, purpose="artifacts",
            log_to=log_bucket,
        )

        self.bucket_name = bucket.name
        self.key_id = key.id
        self.register_outputs({"bucket_name": self.bucket_name, "key_id": self.key_id})

    def _bucket(
        self,
        name: str,
        bucket_name: str,
        key_id: str,
        labels: dict[str, str],
        args: ArtifactStoreArgs,
        grant: gcp.kms.CryptoKeyIAMMember,
        expire_current_days: int | None,
        purpose: str,
        log_to: gcp.storage.Bucket | None,
    ) -> gcp.storage.Bucket:
        rules: list[dict] = [
            {
                "action": {"type": "Delete"},
                "condition": {"days_since_noncurrent_time": args.noncurrent_version_days},
            },
            {
                "action": {"type": "AbortIncompleteMultipartUpload"},
                "condition": {"age": 7},
            },
        ]
        if expire_current_days is not None:
            rules.append({"action": {"type": "Delete"}, "condition": {"age": expire_current_days}})
        return gcp.storage.Bucket(
            name,
            name=bucket_name,
            project=args.project,
            location=args.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            soft_delete_policy={"retention_duration_seconds": args.soft_delete_days * DAY_SECONDS},
            encryption={"default_kms_key_name": key_id},
            logging=(
                {"log_bucket": log_to.name, "log_object_prefix": bucket_name}
                if log_to is not None else None
            ),
            lifecycle_rules=rules,
            labels={**labels, "purpose": purpose},
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[grant]),
        )
