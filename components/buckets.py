"""A private S3 bucket with everything v7 splits into separate resources: public access blocked, ACLs
disabled, default encryption, versioning, lifecycle expiry, and a policy that refuses plain HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from platform_lib.iam import Statement, policy_document, statement


@dataclass(frozen=True, kw_only=True)
class PrivateBucketArgs:
    bucket: str
    """The physical name (global: include the account id)."""
    expire_prefix: str
    retention_days: int
    kms_key_arn: pulumi.Input[str] | None = None
    """None: SSE-S3, which log deliveries (ALB, S3 server access logs) require."""
    versioned: bool = False
    noncurrent_retention_days: int = 7
    """How long a versioned bucket keeps an overwritten or deleted object's old version."""
    protect: bool = False
    tags: dict[str, str]
    object_lock_days: int | None = None
    """Write-once retention of every object version (needs `versioned`): audit logs nobody can erase."""
    object_lock_mode: str = "GOVERNANCE"
    """COMPLIANCE: not even the root user may shorten it; GOVERNANCE: `s3:BypassGovernanceRetention` may."""


class PrivateBucket:
    """Not a component: its resources belong to the component that owns the data (`parent`)."""

    def __init__(
        self,
        name: str,
        args: PrivateBucketArgs,
        *,
        parent: pulumi.Resource,
        provider: pulumi.ProviderResource | None = None,
    ) -> None:
        """`provider`: where `parent` does not carry the right one (a component made without it)."""
        self._name = name
        self._parent = parent
        self._provider = provider
        child = pulumi.ResourceOptions(parent=parent, provider=provider)
        if args.object_lock_days is not None and not args.versioned:
            raise ValueError(f"{name}: S3 Object Lock needs versioning")
        self.bucket = aws.s3.Bucket(
            name,
            bucket=args.bucket,
            force_destroy=not args.protect,
            object_lock_enabled=True if args.object_lock_days is not None else None,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=parent, provider=provider, protect=args.protect),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms" if args.kms_key_arn is not None else "AES256", kms_master_key_id=args.kms_key_arn
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=args.kms_key_arn is not None
                )
            ],
            opts=child,
        )
        if args.versioned:
            aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=child,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=args.expire_prefix),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.retention_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_retention_days
                    )
                    if args.versioned
                    else None,
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=1
                    ),
                )
            ],
            opts=child,
        )
        if args.object_lock_days is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=self.bucket.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=args.object_lock_mode, days=args.object_lock_days
                    )
                ),
                opts=child,
            )
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket

    def objects(self, prefix: str = "") -> pulumi.Output[str]:
        return self.bucket.arn.apply(lambda arn: f"{arn}/{prefix}*")

    def log_access_to(self, target: PrivateBucket, *, account_id: str, prefix: str) -> Statement:
        """S3 server access logging of this bucket into `target` (SSE-S3: the only encryption log delivery
        supports); returns the statement `target`'s policy needs for the delivery."""
        aws.s3.BucketLogging(
            f"{self._name}-logging",
            bucket=self.bucket.id,
            target_bucket=target.bucket.id,
            target_prefix=prefix,
            opts=pulumi.ResourceOptions(parent=self._parent, provider=self._provider),
        )
        return statement(
            "S3ServerAccessLogs",
            ["s3:PutObject"],
            [target.objects()],
            principals={"Service": "logging.s3.amazonaws.com"},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}, "ArnLike": {"aws:SourceArn": self.arn}},
        )

    def policy(self, *statements: Statement, depends_on: list[pulumi.Resource] | None = None) -> aws.s3.BucketPolicy:
        """The bucket policy: the given grants plus the TLS-only deny every bucket gets."""
        return aws.s3.BucketPolicy(
            f"{self._name}-policy",
            bucket=self.bucket.id,
            policy=policy_document(*statements, tls_only_statement(self.bucket.arn)),
            opts=pulumi.ResourceOptions(parent=self._parent, provider=self._provider, depends_on=depends_on),
        )


def tls_only_statement(resource_arn: pulumi.Output[str], *, service: str = "s3") -> Statement:
    """Deny any request not made over TLS (Security Hub S3.5; cdk-nag S10, SQS4)."""
    resources: list[pulumi.Input[str]] = [resource_arn]
    if service == "s3":
        resources.append(resource_arn.apply(lambda arn: f"{arn}/*"))
    return statement(
        "DenyInsecureTransport",
        [f"{service}:*"],
        resources,
        effect="Deny",
        principals={"AWS": "*"},
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )
