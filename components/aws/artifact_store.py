"""Encrypted, versioned, access-logged S3 artifact store."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field

from components import naming
from components.aws.kms import account_administers, customer_managed_key, policy_document
from components.tags import StandardTags, aws_tags


class ArtifactStoreArgs(BaseModel):
    """Arguments of an S3 artifact store."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    prefix: str = Field(description="Name prefix, e.g. `hml-prod`.")
    store: str = Field(description="Logical store name, e.g. `artifacts`.")
    account_id: str = Field(pattern=r"^\d{12}$", description="AWS account that owns the bucket.")
    region: str = Field(description="AWS region of the bucket (must match the provider).")
    tags: StandardTags = Field(description="Standard tags put on every taggable resource.")
    noncurrent_version_days: int = Field(ge=1, description="Days before noncurrent versions expire.")
    access_log_retention_days: int = Field(ge=1, description="Days server access logs are kept.")
    protect: bool = Field(description="Protect stateful resources (bucket, key) from deletion.")


def _tls_only_statements(arn: str) -> list[dict]:
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]


def _key_policy(account_id: str) -> str:
    # S3 server access logging writes with the log bucket's default SSE-KMS key,
    # so the logging service must be allowed to use it (scoped to this account).
    return policy_document(
        account_administers(account_id),
        {
            "Sid": "S3ServerAccessLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


class ArtifactStore(pulumi.ComponentResource):
    """An S3 bucket for ML artifacts and its access-log bucket.

    Guarantees: SSE-KMS with a customer-managed key that rotates yearly, bucket
    keys on, versioning with expiry of noncurrent versions, server access logs,
    public access fully blocked, ACLs disabled, TLS 1.2+ only, and `protect` on
    the bucket, log bucket and key when `args.protect`.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("hybridml:aws:ArtifactStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = aws_tags(args.tags)

        key = customer_managed_key(
            f"{name}-key",
            description=f"Encrypts the {args.prefix}-{args.store} artifact store",
            policy=_key_policy(args.account_id),
            alias=naming.kms_alias(args.prefix, args.store),
            tags=tags,
            parent=self,
            protect=args.protect,
        )

        bucket_name = naming.s3_bucket_name(args.prefix, args.store, args.account_id, args.region)
        log_name = naming.s3_bucket_name(
            args.prefix, args.store, args.account_id, args.region, suffix="logs"
        )
        log_bucket = self._secure_bucket(
            f"{name}-logs", log_name, key, tags, args, args.access_log_retention_days,
            extra_statements=[{
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{log_name}/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket_name}"},
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                },
            }],
            purpose="access-logs",
        )
        bucket = self._secure_bucket(
            f"{name}-bucket", bucket_name, key, tags, args, None, extra_statements=[],
            purpose="artifacts",
        )
        aws.s3.BucketLogging(
            f"{name}-bucket-logging",
            bucket=bucket.bucket,
            target_bucket=log_bucket.bucket,
            target_prefix=f"{bucket_name}/",
            opts=child,
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs({
            "bucket_name": self.bucket_name,
            "bucket_arn": self.bucket_arn,
            "key_arn": self.key_arn,
        })

    def _secure_bucket(
        self,
        name: str,
        bucket_name: str,
        key: aws.kms.Key,
        tags: dict[str, str],
        args: ArtifactStoreArgs,
        expire_current_days: int | None,
        extra_statements: list[dict],
        purpose: str,
    ) -> aws.s3.Bucket:
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            name,
            bucket=bucket_name,
            force_destroy=False,
            tags={**tags, "purpose": purpose},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        ref = bucket.bucket
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=ref,
            rule={"object_ownership": "BucketOwnerEnforced"}, opts=child,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=ref,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=ref,
            versioning_configuration={"status": "Enabled"}, opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=ref,
            rules=[{
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key.arn,
                },
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        rule: dict = {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
        if expire_current_days is not None:
            rule["expiration"] = {"days": expire_current_days}
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=ref, rules=[rule], opts=child)
        arn = f"arn:aws:s3:::{bucket_name}"
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=ref,
            policy=policy_document(*_tls_only_statements(arn), *extra_statements),
            # A policy written before the block exists could be refused as public.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        return bucket
