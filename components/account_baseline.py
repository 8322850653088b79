"""The account's detective baseline: what an assessor asks for evidence of, applied by the bootstrap.

- **CloudTrail**: one multi-region trail (global service events, log-file validation) encrypted with
  the audit key, into an audit bucket that is versioned, object-locked for the retention, access
  logged, TLS-only, and writable by CloudTrail and Config only for this account; a copy in CloudWatch
  Logs (the same retention) feeds the alarms.
- **Alarms** (CIS AWS Foundations 4.x / Security Hub CloudWatch.1-14): root use, console sign-in
  without MFA, IAM policy changes, trail changes, security-group and NACL changes, KMS key disabling
  or deletion, Config changes; to an encrypted SNS topic subscribed by on-call (prd requires the
  endpoint) and any configured addresses.
- **GuardDuty** (S3 data events, RDS login events, ECS Fargate runtime monitoring with managed
  agent), **AWS Config** (all resources, global types in the primary region, delivered to the audit
  bucket), **Security Hub** (AWS Foundational Security Best Practices and PCI DSS v4.0.1) and **IAM
  Access Analyzer**, in every region the platform runs in.

Each is switched to `organization` in config where the organization provides it for this account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.buckets import PrivateBucket, PrivateBucketArgs
from platform_config.bootstrap import DetectiveControls
from platform_lib.iam import (
    Statement,
    logs_may_encrypt,
    policy_document,
    service_only_key_policy,
    service_trust_policy,
    statement,
)

CONFIG_ROLE_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
SECURITY_HUB_STANDARDS = {
    "fsbp": "standards/aws-foundational-security-best-practices/v/1.0.0",
    "pci-dss": "standards/pci-dss/v/4.0.1",
}
GUARD_DUTY_FEATURES = {
    "S3_DATA_EVENTS": (),
    "RDS_LOGIN_EVENTS": (),
    "RUNTIME_MONITORING": ("ECS_FARGATE_AGENT_MANAGEMENT",),
}
"""Detector features for what the platform runs: S3 buckets, RDS PostgreSQL, ECS on Fargate."""

ALARMS: dict[str, tuple[str, str]] = {
    "root-use": (
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
        "The root user was used (CIS 4.3).",
    ),
    "console-without-mfa": (
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") '
        '&& ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
        "A console sign-in without MFA (CIS 4.2).",
    ),
    "iam-policy-changes": (
        "{ ($.eventSource = iam.amazonaws.com) && (($.eventName = DeleteGroupPolicy) || "
        "($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || "
        "($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || "
        "($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || "
        "($.eventName = SetDefaultPolicyVersion) || ($.eventName = AttachRolePolicy) || "
        "($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || "
        "($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) || "
        "($.eventName = PutRolePermissionsBoundary) || ($.eventName = DeleteRolePermissionsBoundary) || "
        "($.eventName = UpdateAssumeRolePolicy)) }",
        "An IAM policy, boundary or trust changed (CIS 4.4).",
    ),
    "trail-changes": (
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || "
        "($.eventName = StartLogging) || ($.eventName = StopLogging) || ($.eventName = PutEventSelectors) }",
        "CloudTrail's configuration changed (CIS 4.5).",
    ),
    "kms-key-disabled-or-deleted": (
        "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || "
        "($.eventName = ScheduleKeyDeletion) || ($.eventName = PutKeyPolicy)) }",
        "A KMS key was disabled, scheduled for deletion, or its policy changed (CIS 4.7).",
    ),
    "config-changes": (
        "{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || "
        "($.eventName = DeleteDeliveryChannel) || ($.eventName = PutDeliveryChannel) || "
        "($.eventName = PutConfigurationRecorder)) }",
        "AWS Config's recording or delivery changed (CIS 4.9).",
    ),
    "security-group-changes": (
        "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || "
        "($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || "
        "($.eventName = ModifySecurityGroupRules) || "
        "($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }",
        "A security group changed (CIS 4.10): expected during a deploy, suspicious otherwise.",
    ),
    "nacl-changes": (
        "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || "
        "($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || "
        "($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }",
        "A network ACL changed (CIS 4.11).",
    ),
}
"""CloudWatch Logs filter patterns over the trail, after the CIS AWS Foundations Benchmark."""
METRIC_NAMESPACE = "Platform/Security"


@dataclass(frozen=True, kw_only=True)
class AccountBaselineArgs:
    environment: str
    account_id: str
    region: str
    controls: DetectiveControls
    alarm_endpoint: pulumi.Input[str] | None
    """The on-call HTTPS endpoint (a secret); None in stg, where nothing pages."""
    tags: dict[str, str]


class AccountBaseline(Component, token="platform:bootstrap:AccountBaseline"):
    """Trail, alarms, GuardDuty, Config, Security Hub and Access Analyzer for one account."""

    audit_bucket_name: Out[pulumi.Output[str]]
    alarm_topic_arn: Out[pulumi.Output[str]]
    trail_arn: Out[pulumi.Output[str] | None]

    def __init__(self, name: str, args: AccountBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._args = args
        env, account, controls = args.environment, args.account_id, args.controls
        self._trail_name = f"platform-{env}-audit"
        trail_arn = f"arn:aws:cloudtrail:{args.region}:{account}:trail/{self._trail_name}"
        kept = self.child(protect=True)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Audit logs of the {env} account: trail, Config, alarms",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=self._key_policy(trail_arn),
            tags=args.tags,
            opts=kept,
        )
        self.access_logs = PrivateBucket(
            f"{name}-access-logs",
            PrivateBucketArgs(
                bucket=f"platform-{env}-audit-access-logs-{account}",
                expire_prefix="",
                retention_days=controls.audit_log_retention_days,
                protect=True,
                tags=args.tags,
            ),
            parent=self,
        )
        self.audit = PrivateBucket(
            f"{name}-logs",
            PrivateBucketArgs(
                bucket=f"platform-{env}-audit-logs-{account}",
                expire_prefix="",
                retention_days=controls.audit_log_retention_days,
                kms_key_arn=self.key.arn,
                versioned=True,
                protect=True,
                tags=args.tags,
                object_lock_days=controls.audit_log_retention_days,
                object_lock_mode="COMPLIANCE" if env == "prd" else "GOVERNANCE",
            ),
            parent=self,
        )
        audit_logging = self.audit.log_access_to(self.access_logs, account_id=account, prefix="audit-logs/")
        # Every bucket of this account's bootstrap (the audit and the state bucket) logs here.
        audit_logging["Condition"]["ArnLike"]["aws:SourceArn"] = f"arn:aws:s3:::platform-{env}-*-{account}"
        self.access_logs.policy(audit_logging)
        policy = self.audit.policy(*self._delivery_statements(trail_arn))
        self.topic = self._alarm_topic()
        self.trail_arn = self._trail(trail_arn, policy) if controls.cloud_trail == "account" else None
        regions = [args.region, *controls.other_regions]
        config_role = self._config_role() if controls.config_recorder == "account" else None
        for region in regions:
            self._regional(region, config_role, primary=region == args.region)
        self.audit_bucket_name = self.audit.name
        self.alarm_topic_arn = self.topic.arn
        self.finish()

    # ---------------------------------------------------------------------------------------- key and bucket

    def _key_policy(self, trail_arn: str) -> pulumi.Output[str]:
        account, region = self._args.account_id, self._args.region
        source = {"StringEquals": {"aws:SourceAccount": account}}
        # The services write; people read the trail and Config history through S3 and the alarms through SNS
        # (the CloudWatch Logs copy is decrypted by Logs itself), never with the key directly.
        return service_only_key_policy(
            account,
            region,
            ["s3", "sns"],
            statement(
                "CloudTrailEncryptsItsLogs",
                ["kms:GenerateDataKey*"],
                ["*"],
                principals={"Service": "cloudtrail.amazonaws.com"},
                conditions={
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"
                    },
                },
            ),
            statement(
                "CloudTrailDescribesTheKey",
                ["kms:DescribeKey"],
                ["*"],
                principals={"Service": "cloudtrail.amazonaws.com"},
            ),
            statement(
                "ConfigDeliversEncrypted",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                ["*"],
                principals={"Service": "config.amazonaws.com"},
                conditions=source,
            ),
            logs_may_encrypt("LogsEncryptTheTrailCopy", region, f"arn:aws:logs:{region}:{account}:log-group:*"),
            statement(
                "CloudWatchPublishesAlarms",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                ["*"],
                principals={"Service": "cloudwatch.amazonaws.com"},
                conditions=source,
            ),
        )

    def _delivery_statements(self, trail_arn: str) -> list[Statement]:
        """CloudTrail and Config may check the bucket and write under AWSLogs/<account>/ only."""
        account = self._args.account_id
        arn = self.audit.arn
        objects = self.audit.objects(f"AWSLogs/{account}/")
        owner_full_control = {"s3:x-amz-acl": "bucket-owner-full-control"}
        return [
            statement(
                "CloudTrailChecksTheBucket",
                ["s3:GetBucketAcl"],
                [arn],
                principals={"Service": "cloudtrail.amazonaws.com"},
                conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
            ),
            statement(
                "CloudTrailWrites",
                ["s3:PutObject"],
                [objects],
                principals={"Service": "cloudtrail.amazonaws.com"},
                conditions={"StringEquals": {"aws:SourceArn": trail_arn, **owner_full_control}},
            ),
            statement(
                "ConfigChecksTheBucket",
                ["s3:GetBucketAcl", "s3:ListBucket"],
                [arn],
                principals={"Service": "config.amazonaws.com"},
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
            statement(
                "ConfigWrites",
                ["s3:PutObject"],
                [self.audit.objects(f"config/AWSLogs/{account}/Config/")],
                principals={"Service": "config.amazonaws.com"},
                conditions={"StringEquals": {"aws:SourceAccount": account, **owner_full_control}},
            ),
        ]

    # ------------------------------------------------------------------------------------------ trail, alarms

    def _alarm_topic(self) -> aws.sns.Topic:
        args = self._args
        topic = aws.sns.Topic(
            f"{self._name}-alarms",
            name=f"platform-{args.environment}-security-alarms",
            kms_master_key_id=self.key.arn,
            tags=args.tags,
            opts=self.child(),
        )
        aws.sns.TopicPolicy(
            f"{self._name}-alarms-policy",
            arn=topic.arn,
            policy=policy_document(
                statement(
                    "CloudWatchPublishesAlarms",
                    ["sns:Publish"],
                    [topic.arn],
                    principals={"Service": "cloudwatch.amazonaws.com"},
                    conditions={"StringEquals": {"aws:SourceAccount": args.account_id}},
                )
            ),
            opts=self.child(),
        )
        if args.alarm_endpoint is not None:
            aws.sns.TopicSubscription(
                f"{self._name}-alarms-oncall",
                topic=topic.arn,
                protocol="https",
                endpoint=args.alarm_endpoint,
                endpoint_auto_confirms=True,
                opts=self.child(),
            )
        for index, address in enumerate(args.controls.alarm_emails):
            aws.sns.TopicSubscription(
                f"{self._name}-alarms-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                opts=self.child(),
            )
        return topic

    def _trail(self, trail_arn: str, bucket_policy: aws.s3.BucketPolicy) -> pulumi.Output[str]:
        args = self._args
        logs = aws.cloudwatch.LogGroup(
            f"{self._name}-trail-logs",
            name=f"/platform/{args.environment}/cloudtrail",
            retention_in_days=_log_retention(args.controls.audit_log_retention_days),
            kms_key_id=self.key.arn,
            tags=args.tags,
            opts=self.child(),
        )
        role = aws.iam.Role(
            f"{self._name}-trail-role",
            name=f"platform-{args.environment}-cloudtrail-logs",
            assume_role_policy=service_trust_policy(
                "cloudtrail.amazonaws.com", source_account=args.account_id, source_arn=trail_arn
            ),
            max_session_duration=3600,
            tags=args.tags,
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-trail-role-policy",
            role=role.id,
            policy=policy_document(
                statement(
                    "DeliverTheTrailToItsLogGroup",
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [logs.arn.apply(lambda arn: f"{arn}:log-stream:*")],
                )
            ),
            opts=self.child(),
        )
        trail = aws.cloudtrail.Trail(
            f"{self._name}-trail",
            name=self._trail_name,
            s3_bucket_name=self.audit.name,
            kms_key_id=self.key.arn,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            cloud_watch_logs_group_arn=logs.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=args.tags,
            opts=self.child(protect=True, depends_on=[bucket_policy]),
        )
        for key, (pattern, description) in sorted(ALARMS.items()):
            metric = "".join(part.title() for part in key.split("-"))
            aws.cloudwatch.LogMetricFilter(
                f"{self._name}-filter-{key}",
                name=f"platform-{args.environment}-{key}",
                log_group_name=logs.name,
                pattern=pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric, namespace=METRIC_NAMESPACE, value="1"
                ),
                opts=self.child(),
            )
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-alarm-{key}",
                name=f"platform-{args.environment}-security-{key}",
                alarm_description=description,
                namespace=METRIC_NAMESPACE,
                metric_name=metric,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                tags=args.tags,
                opts=self.child(),
            )
        return trail.arn

    # ---------------------------------------------------------------------------------------------- regional

    def _regional(self, region: str, config_role: aws.iam.Role | None, *, primary: bool) -> None:
        controls, env = self._args.controls, self._args.environment
        child = self.child()
        if controls.guard_duty == "account":
            detector = aws.guardduty.Detector(
                f"{self._name}-guardduty-{region}",
                enable=True,
                finding_publishing_frequency="FIFTEEN_MINUTES",
                region=region,
                tags=self._args.tags,
                opts=child,
            )
            for feature, extras in GUARD_DUTY_FEATURES.items():
                aws.guardduty.DetectorFeature(
                    f"{self._name}-guardduty-{region}-{feature.lower().replace('_', '-')}",
                    detector_id=detector.id,
                    name=feature,
                    status="ENABLED",
                    additional_configurations=[
                        aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(name=extra, status="ENABLED")
                        for extra in extras
                    ],
                    region=region,
                    opts=child,
                )
        if config_role is not None:
            self._config_recorder(region, config_role, primary=primary)
        if controls.security_hub == "account":
            hub = aws.securityhub.Account(
                f"{self._name}-securityhub-{region}",
                enable_default_standards=False,
                control_finding_generator="SECURITY_CONTROL",
                auto_enable_controls=True,
                region=region,
                opts=child,
            )
            for key, standard in SECURITY_HUB_STANDARDS.items():
                aws.securityhub.StandardsSubscription(
                    f"{self._name}-securityhub-{region}-{key}",
                    standards_arn=f"arn:aws:securityhub:{region}::{standard}",
                    region=region,
                    opts=self.child(depends_on=[hub]),
                )
        if controls.access_analyzer == "account":
            aws.accessanalyzer.Analyzer(
                f"{self._name}-access-analyzer-{region}",
                analyzer_name=f"platform-{env}-{region}",
                type="ACCOUNT",
                region=region,
                tags=self._args.tags,
                opts=child,
            )

    def _config_role(self) -> aws.iam.Role:
        """The role every region's recorder records and delivers as (not the service-linked one)."""
        env, account = self._args.environment, self._args.account_id
        role = aws.iam.Role(
            f"{self._name}-config-role",
            name=f"platform-{env}-config-recorder",
            assume_role_policy=service_trust_policy("config.amazonaws.com", source_account=account),
            max_session_duration=3600,
            tags=self._args.tags,
            opts=self.child(),
        )
        aws.iam.RolePolicyAttachment(
            f"{self._name}-config-role-managed",
            role=role.name,
            policy_arn=CONFIG_ROLE_POLICY,
            opts=self.child(),
        )
        # With its own role (not the service-linked one) Config delivers as that role.
        aws.iam.RolePolicy(
            f"{self._name}-config-role-delivery",
            role=role.id,
            policy=policy_document(
                statement("CheckTheAuditBucket", ["s3:GetBucketAcl"], [self.audit.arn]),
                statement(
                    "DeliverToTheAuditBucket",
                    ["s3:PutObject"],
                    [self.audit.objects(f"config/AWSLogs/{account}/Config/")],
                    conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                ),
                statement("EncryptDeliveries", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn]),
            ),
            opts=self.child(),
        )
        return role

    def _config_recorder(self, region: str, role: aws.iam.Role, *, primary: bool) -> None:
        env = self._args.environment
        recorder = aws.cfg.Recorder(
            f"{self._name}-config-{region}",
            name=f"platform-{env}",
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(
                all_supported=True, include_global_resource_types=primary
            ),
            region=region,
            opts=self.child(),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{self._name}-config-{region}-delivery",
            name=f"platform-{env}",
            s3_bucket_name=self.audit.name,
            s3_key_prefix="config",
            s3_kms_key_arn=self.key.arn,
            snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                delivery_frequency="TwentyFour_Hours"
            ),
            region=region,
            opts=self.child(depends_on=[recorder]),
        )
        aws.cfg.RecorderStatus(
            f"{self._name}-config-{region}-status",
            name=recorder.name,
            is_enabled=True,
            region=region,
            opts=self.child(depends_on=[channel]),
        )


def _log_retention(days: int) -> int:
    """The shortest retention CloudWatch Logs offers that keeps `days`."""
    allowed: Sequence[int] = (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
    return next(value for value in allowed if value >= days)
