"""Inbound mail: SES receives for the domain, stores the raw message in S3 and notifies SNS; SNS fans
out to SQS; a dispatcher Lambda starts one ECS processing task per message (de-duplicated in
DynamoDB); a status Lambda records SES's verdicts.

Everything but the processing task lives in the mail region (SES receives mail only in some regions,
and its bucket, topic, function and key must be in the same one). The processing task runs in the
primary region on the platform's cluster. Each receipt rule depends on the resource policy that
lets SES use its target: SES tests the target when the rule is created.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.buckets import PrivateBucket, PrivateBucketArgs, tls_only_statement
from components.cluster import Cluster
from components.connections import Endpoint
from components.fargate_task import ContainerSecret, ImageRef
from components.lambda_function import PythonFunction, PythonFunctionArgs
from components.mail_processor import MailProcessor, MailProcessorArgs
from platform_config.context import StackContext
from platform_config.mail import LEASE_MARGIN_SECONDS, MailConfig
from platform_config.tags import component_tags
from platform_lib.containers import APP_CONTAINER
from platform_lib.iam import policy_document, service_only_key_policy, statement

RAW_PREFIX = "raw/"
RULE_SET, GATE_RULE, STORE_RULE, STATUS_RULE = "inbound", "gate", "store", "status"
MAX_RECEIVE_COUNT = 5
"""Lambda's SQS pollers may receive a message a few times when throttled; 5 keeps those out of the DLQ."""


@dataclass(frozen=True, kw_only=True)
class MailPipelineArgs:
    context: StackContext
    settings: MailConfig
    primary_provider: aws.Provider
    """The processing task runs in the primary region; everything else in `settings.region`."""
    cluster: Cluster
    image: ImageRef
    version: str
    vpc_id: pulumi.Input[str]
    app_subnet_ids: pulumi.Input[Sequence[str]]
    team: str
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)


class MailPipeline(Component, token="platform:mail:MailPipeline"):
    """Inbound mail: SES receipt into S3, SNS to SQS, a dispatcher Lambda starting one processing task per message.

    `processing_task_role` is the handle grants attach to; connectable (`endpoint`)."""

    bucket_name: Out[pulumi.Output[str]]
    topic_arn: Out[pulumi.Output[str]]
    queue_url: Out[pulumi.Output[str]]
    dead_letter_queue_url: Out[pulumi.Output[str]]
    table_name: Out[pulumi.Output[str]]
    processing_security_group_id: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: MailPipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        self._settings = settings = args.settings
        self.region = settings.region
        self.tags = component_tags(service="mail", component="mail")
        self._protect: bool = ctx.profile.protect_stateful
        self.rule_set_name = ctx.physical_name("mail", RULE_SET)

        self.key = self._key()
        self.bucket, bucket_policy = self._bucket()
        self.topic, topic_policy = self._topic()
        self.queue, self.dead_letter_queue = self._queues()
        self.table = self._table()
        self._processing_task(args)
        self.dispatcher = self._dispatcher(args)
        self.status = self._status()
        self.gate = self._gate()
        self._status_failures()
        self._receiving(bucket_policy, topic_policy)

        self.bucket_name = self.bucket.bucket
        self.topic_arn = self.topic.arn
        self.queue_url = self.queue.url
        self.dead_letter_queue_url = self.dead_letter_queue.url
        self.table_name = self.table.name
        self.finish()

    def _rule_arn(self, rule: str) -> str:
        """Built from names: the rules depend on the policies that name them, so no `.arn` here."""
        return self._context.arn(
            "ses", f"receipt-rule-set/{self.rule_set_name}:receipt-rule/{rule}", region=self.region
        )

    def _from_ses(self, rule: str) -> dict[str, dict[str, str]]:
        return {
            "StringEquals": {"aws:SourceAccount": self._context.account_id},
            "ArnEquals": {"aws:SourceArn": self._rule_arn(rule)},
        }

    def _key(self) -> aws.kms.Key:
        ctx = self._context
        same_account = {"StringEquals": {"aws:SourceAccount": ctx.account_id}}
        return aws.kms.Key(
            f"{self._name}-key",
            description=f"Inbound mail in {self.region}: raw messages, topic, queues, table",
            enable_key_rotation=True,
            deletion_window_in_days=ctx.profile.kms_deletion_window_days,
            # Roles use it only through the stores it encrypts; SES and SNS as service principals below.
            policy=service_only_key_policy(
                ctx.account_id,
                self.region,
                ["dynamodb", "s3", "sns", "sqs"],
                # SES writes encrypted objects (bucket default SSE-KMS) and publishes to the encrypted topic.
                statement(
                    "SesEncrypts",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    ["*"],
                    principals={"Service": "ses.amazonaws.com"},
                    conditions=same_account,
                ),
                # SNS delivers to the encrypted queue.
                statement(
                    "SnsEncryptsForQueue",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    ["*"],
                    principals={"Service": "sns.amazonaws.com"},
                    conditions=same_account,
                ),
            ),
            tags=self.tags,
            opts=self.child(protect=self._protect),
        )

    def _bucket(self) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        ctx, name = self._context, self._name
        access_logs = PrivateBucket(
            f"{name}-access-logs",
            PrivateBucketArgs(
                bucket=ctx.physical_name("mail-access-logs", ctx.account_id),
                expire_prefix="",
                retention_days=max(self._settings.raw_mail_retention_days, 365),
                kms_key_arn=None,  # S3 server access log delivery supports SSE-S3 only
                protect=self._protect,
                tags={**self.tags, "DataClass": "access-logs"},
            ),
            parent=self,
        )
        raw_mail = PrivateBucket(
            f"{name}-bucket",
            PrivateBucketArgs(
                bucket=ctx.physical_name("inbound-mail", ctx.account_id),
                expire_prefix=RAW_PREFIX,
                retention_days=self._settings.raw_mail_retention_days,
                kms_key_arn=self.key.arn,
                versioned=True,
                protect=self._protect,
                tags={**self.tags, "DataClass": "customer-mail"},
            ),
            parent=self,
        )
        access_logs.policy(raw_mail.log_access_to(access_logs, account_id=ctx.account_id, prefix="inbound-mail/"))
        policy = raw_mail.policy(
            statement(
                "SesStoresRawMail",
                ["s3:PutObject"],
                [raw_mail.objects(RAW_PREFIX)],
                principals={"Service": "ses.amazonaws.com"},
                conditions=self._from_ses(STORE_RULE),
            )
        )
        return raw_mail.bucket, policy

    def _topic(self) -> tuple[aws.sns.Topic, aws.sns.TopicPolicy]:
        topic = aws.sns.Topic(
            f"{self._name}-topic",
            name=self._context.physical_name("inbound-mail"),
            kms_master_key_id=self.key.arn,
            tags=self.tags,
            opts=self.child(),
        )
        policy = aws.sns.TopicPolicy(
            f"{self._name}-topic-policy",
            arn=topic.arn,
            policy=policy_document(
                statement(
                    "SesPublishesReceipts",
                    ["sns:Publish"],
                    [topic.arn],
                    principals={"Service": "ses.amazonaws.com"},
                    conditions=self._from_ses(STORE_RULE),
                )
            ),
            opts=self.child(),
        )
        return topic, policy

    def _queues(self) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
        ctx, name, settings = self._context, self._name, self._settings
        dead_letter = aws.sqs.Queue(
            f"{name}-dlq",
            name=ctx.physical_name("inbound-mail-dlq"),
            kms_master_key_id=self.key.arn,
            message_retention_seconds=14 * 24 * 3600,
            tags=self.tags,
            opts=self.child(),
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=ctx.physical_name("inbound-mail"),
            kms_master_key_id=self.key.arn,
            visibility_timeout_seconds=settings.visibility_timeout(),
            message_retention_seconds=4 * 24 * 3600,
            redrive_policy=dead_letter.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVE_COUNT}, sort_keys=True
                )
            ),
            tags=self.tags,
            opts=self.child(),
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-sources",
            queue_url=dead_letter.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, sort_keys=True)
            ),
            opts=self.child(),
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=policy_document(
                statement(
                    "TopicDelivers",
                    ["sqs:SendMessage"],
                    [queue.arn],
                    principals={"Service": "sns.amazonaws.com"},
                    conditions={"ArnEquals": {"aws:SourceArn": self.topic.arn}},
                ),
                tls_only_statement(queue.arn, service="sqs"),
            ),
            opts=self.child(),
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=dead_letter.url,
            policy=policy_document(tls_only_statement(dead_letter.arn, service="sqs")),
            opts=self.child(),
        )
        aws.sns.TopicSubscription(
            f"{name}-subscription",
            topic=self.topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=True,  # the SQS body is the SES notification itself
            opts=self.child(depends_on=[queue_policy]),
        )
        return queue, dead_letter

    def _table(self) -> aws.dynamodb.Table:
        ctx = self._context
        return aws.dynamodb.Table(
            f"{self._name}-table",
            name=ctx.physical_name("mail-messages"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="messageId",
            attributes=[aws.dynamodb.TableAttributeArgs(name="messageId", type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=self.key.arn),
            deletion_protection_enabled=self._protect,
            tags=self.tags,
            opts=self.child(protect=self._protect),
        )

    def _processing_task(self, args: MailPipelineArgs) -> None:
        self.processor = MailProcessor(
            f"{self._name}-processor",
            MailProcessorArgs(
                context=self._context,
                settings=self._settings.processing_task,
                mail_region=self.region,
                cluster=args.cluster,
                image=args.image,
                version=args.version,
                vpc_id=args.vpc_id,
                team=args.team,
                secrets=args.secrets,
            ),
            # The task runs where the cluster and VPC are, not in the mail region.
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": args.primary_provider}),
        )
        self.grant_read_raw_mail("processor", self.processor.task_role)
        self.processing_family = self.processor.family
        self.processing_task_role = self.processor.task_role
        self.processing_execution_role = self.processor.execution_role
        self.processing_security_group_id = self.processor.security_group_id

    def grant_read_raw_mail(self, grantee: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let `role` read the stored raw messages (and decrypt them with the mail key)."""
        return aws.iam.RolePolicy(
            f"{self._name}-raw-mail-read-{grantee}",
            role=role.id,
            policy=policy_document(
                statement("ReadRawMail", ["s3:GetObject"], [self.bucket.arn.apply(lambda arn: f"{arn}/{RAW_PREFIX}*")]),
                statement("DecryptRawMail", ["kms:Decrypt"], [self.key.arn]),
            ),
            opts=self.child(),
        )

    def _dispatcher(self, args: MailPipelineArgs) -> PythonFunction:
        ctx, settings = self._context, self._settings.dispatcher
        function = PythonFunction(
            f"{self._name}-dispatcher",
            PythonFunctionArgs(
                context=ctx,
                source="mail_dispatcher",
                function_name=ctx.physical_name("mail-dispatcher"),
                description="Starts one ECS processing task per inbound message, once",
                timeout_seconds=settings.timeout_seconds,
                memory_mb=settings.memory_mb,
                environment={
                    "TABLE_NAME": self.table.name,
                    "CLUSTER_ARN": args.cluster.cluster_arn,
                    "TASK_DEFINITION": self.processing_family,
                    "SUBNETS": pulumi.Output.from_input(args.app_subnet_ids).apply(",".join),
                    "SECURITY_GROUPS": self.processor.security_group_id,
                    "ECS_REGION": ctx.region,
                    "CONTAINER_NAME": APP_CONTAINER,
                    "CLAIM_TTL_SECONDS": str(self._settings.dedup_ttl_hours * 3600),
                    "LEASE_MARGIN_SECONDS": str(LEASE_MARGIN_SECONDS),
                    "VISIBILITY_TIMEOUT_SECONDS": str(self._settings.visibility_timeout()),
                    "BATCHING_WINDOW_SECONDS": str(settings.batching_window_seconds),
                    "DEADLINE_RESERVE_MS": str(min(10_000, settings.timeout_seconds * 1000 // 3)),
                    "MAIL_BUCKET": self.bucket.bucket,
                },
                region=self.region,
                tags=self.tags,
            ),
            opts=self.child(),
        )
        family_arn = ctx.arn("ecs", f"task-definition/{self.processing_family}")
        consume = function.allow(
            "consume",
            statement(
                "ConsumeQueue",
                ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                [self.queue.arn],
            ),
            statement("DecryptMail", ["kms:Decrypt"], [self.key.arn]),
            statement("ClaimMessages", ["dynamodb:UpdateItem"], [self.table.arn]),
            statement("ReadRawMail", ["s3:GetObject"], [self.bucket.arn.apply(lambda arn: f"{arn}/{RAW_PREFIX}*")]),
            statement(
                "RunProcessingTask",
                ["ecs:RunTask"],
                [family_arn, f"{family_arn}:*"],
                conditions={"ArnEquals": {"ecs:cluster": args.cluster.cluster_arn}},
            ),
            statement(
                "PassProcessingRoles",
                ["iam:PassRole"],
                [self.processing_task_role.arn, self.processing_execution_role.arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        )
        aws.lambda_.EventSourceMapping(
            f"{self._name}-dispatcher-source",
            event_source_arn=self.queue.arn,
            function_name=function.function.arn,
            batch_size=settings.batch_size,
            maximum_batching_window_in_seconds=settings.batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=settings.maximum_concurrency
            ),
            opts=self.child(depends_on=[consume]),
        )
        return function

    def _status(self) -> PythonFunction:
        ctx = self._context
        function = PythonFunction(
            f"{self._name}-status",
            PythonFunctionArgs(
                context=ctx,
                source="mail_status",
                function_name=ctx.physical_name("mail-status"),
                description="Records SES verdicts for each inbound message",
                timeout_seconds=10,
                memory_mb=128,
                environment={
                    "TABLE_NAME": self.table.name,
                    "CLAIM_TTL_SECONDS": str(self._settings.dedup_ttl_hours * 3600),
                },
                region=self.region,
                tags=self.tags,
            ),
            opts=self.child(),
        )
        function.allow(
            "record",
            statement("RecordStatus", ["dynamodb:UpdateItem"], [self.table.arn]),
            statement("EncryptTable", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn]),
        )
        return function

    def _gate(self) -> PythonFunction:
        """The first rule's synchronous check: infected or DMARC-rejected mail stops there (functions/mail_gate)."""
        return PythonFunction(
            f"{self._name}-gate",
            PythonFunctionArgs(
                context=self._context,
                source="mail_gate",
                function_name=self._context.physical_name("mail-gate"),
                description="Stops the receipt rule set for mail that fails the virus scan or a DMARC reject",
                timeout_seconds=5,  # SES waits up to 30 s for a RequestResponse answer
                memory_mb=128,
                region=self.region,
                tags=self.tags,
            ),
            opts=self.child(),
        )

    def _status_failures(self) -> None:
        """The status function is invoked asynchronously: an event it failed on, after Lambda's retries,
        goes to a queue (and an alert) instead of vanishing."""
        ctx, name = self._context, self._name
        failed = aws.sqs.Queue(
            f"{name}-status-failed",
            name=ctx.physical_name("mail-status-failed"),
            kms_master_key_id=self.key.arn,
            message_retention_seconds=14 * 24 * 3600,
            tags=self.tags,
            opts=self.child(),
        )
        aws.sqs.QueuePolicy(
            f"{name}-status-failed-policy",
            queue_url=failed.url,
            policy=policy_document(tls_only_statement(failed.arn, service="sqs")),
            opts=self.child(),
        )
        send = self.status.allow(
            "failures",
            statement("SendFailedEvents", ["sqs:SendMessage"], [failed.arn]),
            statement("EncryptFailedEvents", ["kms:Decrypt", "kms:GenerateDataKey"], [self.key.arn]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-status-invoke-config",
            function_name=self.status.function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=6 * 3600,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=failed.arn)
            ),
            # Lambda checks the role may send to the destination when the config is written.
            opts=self.child(depends_on=[send]),
        )

    def _receiving(self, bucket_policy: aws.s3.BucketPolicy, topic_policy: aws.sns.TopicPolicy) -> None:
        name, settings = self._name, self._settings
        identity = aws.ses.DomainIdentity(f"{name}-domain", domain=settings.domain, opts=self.child())
        dkim = aws.ses.DomainDkim(f"{name}-dkim", domain=identity.domain, opts=self.child())
        if settings.hosted_zone_id:
            self._dns(identity, dkim)
        rule_set = aws.ses.ReceiptRuleSet(f"{name}-rule-set", rule_set_name=self.rule_set_name, opts=self.child())
        gate = self._lambda_rule(rule_set, GATE_RULE, self.gate, invocation="RequestResponse", after=None)
        store = aws.ses.ReceiptRule(
            f"{name}-rule-store",
            rule_set_name=rule_set.rule_set_name,
            name=STORE_RULE,
            after=gate.name,
            enabled=True,
            recipients=list(settings.recipients),
            scan_enabled=True,
            tls_policy="Require",
            s3_actions=[
                aws.ses.ReceiptRuleS3ActionArgs(
                    position=1, bucket_name=self.bucket.bucket, object_key_prefix=RAW_PREFIX, topic_arn=self.topic.arn
                )
            ],
            # SES writes a test object and checks the topic when the rule is created.
            opts=self.child(depends_on=[bucket_policy, topic_policy]),
        )
        self._lambda_rule(rule_set, STATUS_RULE, self.status, invocation="Event", after=store.name)
        # One rule set is active per account and region: this stack owns inbound mail in its account.
        aws.ses.ActiveReceiptRuleSet(
            f"{name}-active-rule-set", rule_set_name=rule_set.rule_set_name, opts=self.child(depends_on=[store])
        )

    def _lambda_rule(
        self,
        rule_set: aws.ses.ReceiptRuleSet,
        rule: str,
        function: PythonFunction,
        *,
        invocation: str,
        after: pulumi.Input[str] | None,
    ) -> aws.ses.ReceiptRule:
        """A receipt rule whose one action invokes `function`, after the permission SES tests on creation."""
        name, settings = self._name, self._settings
        permission = aws.lambda_.Permission(
            f"{name}-{rule}-invoke",
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="ses.amazonaws.com",
            source_account=self._context.account_id,
            source_arn=self._rule_arn(rule),
            opts=self.child(),
        )
        return aws.ses.ReceiptRule(
            f"{name}-rule-{rule}",
            rule_set_name=rule_set.rule_set_name,
            name=rule,
            after=after,
            enabled=True,
            recipients=list(settings.recipients),
            scan_enabled=True,
            tls_policy="Require",
            lambda_actions=[
                aws.ses.ReceiptRuleLambdaActionArgs(
                    position=1, function_arn=function.function.arn, invocation_type=invocation
                )
            ],
            opts=self.child(depends_on=[permission]),
        )

    def _dns(self, identity: aws.ses.DomainIdentity, dkim: aws.ses.DomainDkim) -> None:
        settings, name = self._settings, self._name
        zone = settings.hosted_zone_id
        aws.route53.Record(
            f"{name}-verification",
            zone_id=zone,
            name=f"_amazonses.{settings.domain}",
            type="TXT",
            ttl=600,
            records=[identity.verification_token],
            opts=self.child(),
        )
        aws.route53.Record(
            f"{name}-mx",
            zone_id=zone,
            name=settings.domain,
            type="MX",
            ttl=600,
            records=[f"10 inbound-smtp.{self.region}.amazonaws.com"],
            opts=self.child(),
        )
        for index in range(3):  # SES always issues three DKIM tokens
            token = dkim.dkim_tokens.apply(_nth(index))
            aws.route53.Record(
                f"{name}-dkim-{index}",
                zone_id=zone,
                name=token.apply(lambda t: f"{t}._domainkey.{settings.domain}"),
                type="CNAME",
                ttl=600,
                records=[token.apply(lambda t: f"{t}.dkim.amazonses.com")],
                opts=self.child(),
            )
        aws.ses.DomainIdentityVerification(f"{name}-verified", domain=identity.domain, opts=self.child())

    @property
    def endpoint(self) -> Endpoint:
        """Connections to the pipeline are the processing task's (it is what reads the databases)."""
        return self.processor.endpoint

    @property
    def security_group_id(self) -> pulumi.Output[str]:
        return self.processor.security_group_id


def _nth(index: int) -> Callable[[Sequence[str]], str]:
    def pick(values: Sequence[str]) -> str:
        return values[index]

    return pick
