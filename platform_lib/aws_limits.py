"""What AWS and the vendors refuse, as data: the config checks refuse it at load, with the key path,
instead of `pulumi up` failing half-way. Each limit names its source; lists that change over time
carry the date they were taken, and an entry missing from them is refused with a pointer here.
"""

from __future__ import annotations

import re

TAG_VALUE_MAX = 256
"""Tag values: at most 256 Unicode characters (AWS General Reference, "Tagging your AWS resources",
tag naming limits); keys at most 128."""
TAG_KEY_MAX = 128

TASK_DEFINITION_MAX_BYTES = 64 * 1024
"""A task definition's container definitions: 64 KiB at most (Amazon ECS service quotas, "Task
definition size", not adjustable)."""
SIDECAR_RESERVE_BYTES = 8 * 1024
"""Kept free of the 64 KiB for what the stack file does not supply: the Datadog agent and log-router
definitions and the app container's fixed fields (measured 2026-12-06 on prd's api task: 2.6 KiB),
and the ARNs behind each secret name (about 100 bytes each)."""

HEALTH_CHECK_PATH_MAX = 1024
"""ELBv2 CreateTargetGroup `HealthCheckPath`: 1-1024 characters, starting with `/`."""
HOST_HEADER = re.compile(r"^[A-Za-z0-9*?.-]{1,128}$")
"""ELBv2 host-header condition values: up to 128 characters of A-Z, a-z, 0-9, `-`, `.`, `*`, `?`
(HostHeaderConditionConfig); a non-ASCII name must be given in its punycode (xn--) form."""
PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-.$/~\"'@:+&*?]{1,128}$")
"""ELBv2 path-pattern condition values: up to 128 characters (PathPatternConditionConfig)."""
LISTENER_CONDITION_VALUES_MAX = 5
"""ELBv2: at most five values across the conditions of one rule (Quotas for Application Load Balancers)."""

VPC_PREFIX = (16, 28)
"""A VPC's IPv4 CIDR block: between /16 and /28 (Amazon VPC User Guide, "VPC CIDR blocks")."""
SUBNET_PREFIX = (16, 28)
"""A subnet's IPv4 CIDR block: between /16 and /28 (Amazon VPC User Guide, "Subnet CIDR blocks")."""

AVAILABILITY_ZONES: dict[str, tuple[str, ...]] = {
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    "ap-northeast-3": ("ap-northeast-3a", "ap-northeast-3b", "ap-northeast-3c"),
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
}
"""AZ names an account created after 2012 can use (taken 2026-12-06 from EC2 DescribeAvailabilityZones
documentation and region pages; `ap-northeast-1b` exists only for accounts older than that). AZ
names map to different physical zones per account; these are the names, which is what the config
carries. A region missing here is refused: add it with its zones."""

CERTIFICATE_ARN = re.compile(r"^arn:aws:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[A-Za-z0-9-]+$")
"""An ALB listener's ACM certificate must be in the load balancer's region and, for this platform,
its own account (ACM certificates are regional; ELBv2 refuses one from another region)."""

RDS_WINDOW_MINUTES_MIN = 30
"""RDS PreferredBackupWindow and PreferredMaintenanceWindow: at least 30 minutes each, and they must
not overlap (RDS API Reference, CreateDBInstance)."""

RDS_POSTGRES_16_VERSIONS: tuple[str, ...] = ("16", "16.9", "16.10", "16.11")
"""Creatable RDS for PostgreSQL 16 versions (taken 2026-12-06: AWS's notice of 2026 made 16.5-16.8
uncreatable from 2026-05-01 and named 16.11 as the upgrade target). `16` takes the latest minor."""
RDS_POSTGRES_INSTANCE_FAMILIES: dict[str, tuple[str, ...]] = {
    "t3": ("micro", "small", "medium", "large", "xlarge", "2xlarge"),
    "t4g": ("micro", "small", "medium", "large", "xlarge", "2xlarge"),
    "m5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "m6g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "m6i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"),
    "m7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "r5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "r6g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
    "r6i": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"),
    "r7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
}
"""RDS for PostgreSQL 16 instance classes, `db.<family>.<size>` (taken 2026-12-06 from "Supported DB
engines for DB instance classes" in the RDS User Guide; regional availability varies)."""

SQS_BATCH_SIZE_MAX = 10_000
SQS_BATCH_SIZE_WITHOUT_WINDOW = 10
"""Lambda event source mapping for a standard SQS queue: batch size 1-10,000, and above 10 only with
`MaximumBatchingWindowInSeconds` of at least 1 (Lambda API Reference, CreateEventSourceMapping)."""

SES_RECIPIENTS_PER_RULE_MAX = 100
"""An SES receipt rule matches at most 100 recipients (Amazon SES API Reference, ReceiptRule)."""

IAM_ROLE_INLINE_POLICIES_MAX_CHARS = 10_240
"""A role's inline policies together: 10,240 characters, whitespace not counted (IAM and AWS STS
quotas, "Role policy size", not adjustable)."""
IAM_MANAGED_POLICY_MAX_CHARS = 6_144
"""A customer managed policy: 6,144 characters, whitespace not counted (IAM quotas, "Managed policy size")."""
