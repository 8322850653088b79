"""S3 buckets (v7 splits their settings into separate resources, joined here by stack rules)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from platform_policies.framework import Resource, Rule, Stack
from platform_policies.helpers import denies_insecure_transport, obj, objs, principals, related, statements

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
ACL = "aws:s3/bucketAcl:BucketAcl"
LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GROUPS = ("/global/AllUsers", "/global/AuthenticatedUsers")


def _attached(stack: Stack, type_: str, bucket: Resource) -> list[Resource]:
    return related(stack, type_, "bucket", bucket, bucket.get("bucket"), bucket.name + "-id")


def log_target_buckets(stack: Stack) -> set[str]:
    """Bucket names that receive logs (ALB access logs, S3 server access logs): they need no log of their own."""
    names = {str(obj(lb.get("accessLogs")).get("bucket")) for lb in stack.of_type(*LB)}
    names |= {str(log.get("targetBucket")) for log in stack.of_type(LOGGING)}
    return names


def _public_access_block(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            blocks = _attached(stack, PAB, bucket)
            if not blocks:
                yield bucket.urn, f"bucket {bucket.get('bucket')} has no public access block"
            elif not all(block.get(flag) is True for block in blocks for flag in flags):
                yield bucket.urn, f"bucket {bucket.get('bucket')}'s public access block does not set all four flags"


def _tls_only(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            if not any(denies_insecure_transport(p.get("policy")) for p in _attached(stack, POLICY, bucket)):
                yield bucket.urn, f"bucket {bucket.get('bucket')} has no policy denying requests without TLS"


def _encryption(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    log_targets = log_target_buckets(stack)
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            configs = _attached(stack, SSE, bucket)
            algorithms = {
                obj(rule.get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")
                for config in configs
                for rule in objs(config.get("rules"))
            }
            if not configs:
                yield bucket.urn, f"bucket {bucket.get('bucket')} has no default encryption configuration"
            elif "aws:kms" not in algorithms and str(bucket.get("bucket")) not in log_targets:
                # Log targets may use SSE-S3: ALB access logs support nothing else.
                yield bucket.urn, f"bucket {bucket.get('bucket')} holds data but is not encrypted with a KMS key"


def _versioning(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    log_targets = log_target_buckets(stack)
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            if str(bucket.get("bucket")) in log_targets:
                continue
            versioned = any(
                obj(v.get("versioningConfiguration")).get("status") == "Enabled"
                for v in _attached(stack, VERSIONING, bucket)
            )
            if not versioned:
                yield bucket.urn, f"bucket {bucket.get('bucket')} holds data but versioning is not enabled"


def _ownership(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            controls = _attached(stack, OWNERSHIP, bucket)
            if not any(obj(c.get("rule")).get("objectOwnership") == "BucketOwnerEnforced" for c in controls):
                yield bucket.urn, f"bucket {bucket.get('bucket')} does not disable ACLs (BucketOwnerEnforced)"


def _lifecycle(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            if not _attached(stack, LIFECYCLE, bucket):
                yield bucket.urn, f"bucket {bucket.get('bucket')} has no lifecycle configuration"


def _access_logging(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    log_targets = log_target_buckets(stack)
    for bucket in stack.of_type(BUCKET):
        with stack.deciding(bucket):
            if str(bucket.get("bucket")) in log_targets:
                continue
            if not _attached(stack, LOGGING, bucket):
                yield bucket.urn, f"bucket {bucket.get('bucket')} has no server access logging"


def _no_public_acl(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    """A canned ACL or a grant to everyone (or every AWS account), on a `BucketAcl` or a bucket's own
    legacy `acl`/`grants` inputs: the object-ownership rule disables ACLs, this catches them written."""
    what = f"bucket {r.get('bucket')}"
    if str(r.get("acl") or "") in PUBLIC_CANNED_ACLS:
        yield f"{what} has the public canned ACL {r.get('acl')}"
    if r.type == ACL:
        grantees = [obj(g.get("grantee")) for g in objs(obj(r.get("accessControlPolicy")).get("grants"))]
    else:
        grantees = objs(r.get("grants"))
    for grantee in grantees:
        if str(grantee.get("uri") or "").endswith(PUBLIC_GROUPS):
            yield f"{what} grants {grantee.get('uri')}"


def _policy_not_public(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for statement in statements(resource.get("policy")):
        if statement["Effect"] == "Allow" and "*" in principals(statement) and not statement.get("Condition"):
            yield f"bucket policy statement {statement.get('Sid', '?')} allows anyone without a condition"


RULES = [
    Rule(id="s3-public-access-block", description="Every S3 bucket blocks public access (all four flags).",
         why="A bucket policy or ACL mistake must not be able to publish card or customer data.",
         fix="Add an aws.s3.BucketPublicAccessBlock for the bucket with all four flags true.",
         anchors="cdk-nag AwsSolutions-S2; FSBP S3.8; checkov CKV_AWS_53-56", types=(BUCKET, PAB), stack_check=_public_access_block),
    Rule(id="s3-tls-only", description="Every S3 bucket policy denies requests made without TLS.",
         why="Objects read or written over plain HTTP can be observed or altered in transit.",
         fix="Add a Deny statement on s3:* with Bool aws:SecureTransport=false to the bucket policy.",
         anchors="cdk-nag AwsSolutions-S10; FSBP S3.5", types=(BUCKET, POLICY), stack_check=_tls_only),
    Rule(id="s3-encryption", description="Every S3 bucket has default encryption; buckets holding data use KMS.",
         why="A customer-managed key adds access control and audit on every read of stored data.",
         fix="Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and the area's key.",
         anchors="FSBP S3.4 (retired), Security Hub S3.17; checkov CKV_AWS_145", types=(BUCKET, SSE, LOGGING, *LB), stack_check=_encryption),
    Rule(id="s3-versioning", description="Buckets holding data (not log targets) keep versions.",
         why="Versioning turns an accidental overwrite or delete into a recoverable event.",
         fix="Add an aws.s3.BucketVersioning with status Enabled (and a noncurrent-version expiry).",
         anchors="Security Hub S3.14; checkov CKV_AWS_21", types=(BUCKET, VERSIONING, LOGGING, *LB), stack_check=_versioning),
    Rule(id="s3-acls-disabled", description="Every S3 bucket disables ACLs (object ownership BucketOwnerEnforced).",
         why="ACLs are a second, easily missed way to grant access; with them off only policies decide.",
         fix="Add an aws.s3.BucketOwnershipControls with object_ownership BucketOwnerEnforced.",
         anchors="FSBP S3.12", types=(BUCKET, OWNERSHIP), stack_check=_ownership),
    Rule(id="s3-lifecycle", description="Every S3 bucket has a lifecycle configuration.",
         why="Data kept forever is risk and cost; retention is a decision to write down.",
         fix="Add an aws.s3.BucketLifecycleConfiguration with expiry for the bucket's data.",
         anchors="FSBP S3.13; checkov CKV2_AWS_61", types=(BUCKET, LIFECYCLE), stack_check=_lifecycle),
    Rule(id="s3-access-logging", description="Buckets holding data log access (log targets themselves are exempt).",
         why="Server access logs show who read which object, which an investigation needs.",
         fix="Add an aws.s3.BucketLogging to a log bucket in the same region.",
         anchors="cdk-nag AwsSolutions-S1; FSBP S3.9; checkov CKV_AWS_18", types=(BUCKET, LOGGING, *LB), stack_check=_access_logging),
    Rule(id="s3-no-public-acl", description="No bucket ACL is public (canned or granted to all users).",
         why="A public ACL publishes the bucket's objects whatever its policy says.",
         fix="Use no ACL (object ownership BucketOwnerEnforced); grant access in the bucket policy to named principals.",
         anchors="FSBP S3.2, S3.3; checkov CKV_AWS_20, CKV_AWS_57", types=(ACL, BUCKET), check=_no_public_acl),
    Rule(id="s3-policy-not-public", description="Bucket policies grant nothing to everyone without a condition.",
         why="An unconditioned Principal * Allow publishes the bucket.",
         fix="Name the principals, or add the conditions (aws:SourceArn, aws:SourceAccount) that scope them.",
         anchors="FSBP S3.2, S3.3, S3.6; checkov CKV_AWS_70", types=(POLICY,), check=_policy_not_public),
]  # fmt: skip
