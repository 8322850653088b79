"""The batches area: every cron batch, and what they share (schedule group, DLQ, failure alerts).

Failures are signalled twice on purpose, by different sources: Step Functions executions that fail,
time out or are aborted, and ECS tasks of the batches that stop with a non-zero exit code or never
start (a run started by hand outside the state machine is caught too). Both go to one encrypted SNS
topic; the monitoring area routes it, paging once per failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.buckets import tls_only_statement
from components.cluster import Cluster
from components.cron_batch import BatchSpec, CronBatch, CronBatchArgs
from platform_config.context import StackContext
from platform_config.tags import component_tags
from platform_lib.iam import policy_document, service_only_key_policy, statement

EVENTS = "events.amazonaws.com"


@dataclass(frozen=True, kw_only=True)
class BatchesArgs:
    context: StackContext
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    app_subnet_ids: pulumi.Input[Sequence[str]]
    team: str
    specs: Mapping[str, BatchSpec]


class Batches(Component, token="platform:batches:Batches"):
    """The batches of a stack: one schedule group, one failure topic and DLQ, and a CronBatch each.

    `batches` (key -> CronBatch) are the handles."""

    failure_topic_arn: Out[pulumi.Output[str]]
    schedule_group_name: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: BatchesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        self.tags = component_tags(service="batch", component="batches")
        self.schedule_group = aws.scheduler.ScheduleGroup(
            f"{name}-schedules", name=ctx.physical_name("batches"), tags=self.tags, opts=self.child()
        )
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-schedule-dlq",
            name=ctx.physical_name("batch-schedules-dlq"),
            sqs_managed_sse_enabled=True,
            message_retention_seconds=14 * 24 * 3600,
            tags=self.tags,
            opts=self.child(),
        )
        aws.sqs.QueuePolicy(
            f"{name}-schedule-dlq-policy",
            queue_url=self.dead_letter_queue.url,
            policy=policy_document(tls_only_statement(self.dead_letter_queue.arn, service="sqs")),
            opts=self.child(),
        )
        self.batches = {
            batch: CronBatch(
                batch,
                CronBatchArgs(
                    context=ctx,
                    spec=spec,
                    cluster=args.cluster,
                    vpc_id=args.vpc_id,
                    app_subnet_ids=args.app_subnet_ids,
                    team=args.team,
                    schedule_group=self.schedule_group,
                    schedule_dead_letter_arn=self.dead_letter_queue.arn,
                ),
                opts=self.child(),
            )
            for batch, spec in sorted(args.specs.items())
        }
        self._failure_alerts(args.cluster)
        self.failure_topic_arn = self.failure_topic.arn
        self.schedule_group_name = self.schedule_group.name
        self.finish()

    def _failure_alerts(self, cluster: Cluster) -> None:
        ctx, name = self._context, self._name
        rule_names = {kind: ctx.physical_name("batch", kind) for kind in ("execution-failed", "task-failed")}
        rule_arns = [ctx.arn("events", f"rule/{rule}") for rule in rule_names.values()]
        key = aws.kms.Key(
            f"{name}-alerts-key",
            description="Batch failure alerts topic",
            enable_key_rotation=True,
            deletion_window_in_days=ctx.profile.kms_deletion_window_days,
            # EventBridge publishes the alerts; people and tools read them only through SNS.
            policy=service_only_key_policy(
                ctx.account_id,
                ctx.region,
                ["sns"],
                statement(
                    "EventBridgePublishesEncrypted",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    ["*"],
                    principals={"Service": EVENTS},
                    conditions={"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                ),
            ),
            tags=self.tags,
            opts=self.child(protect=ctx.profile.protect_stateful),
        )
        self.failure_topic = aws.sns.Topic(
            f"{name}-failures",
            name=ctx.physical_name("batch-failures"),
            kms_master_key_id=key.arn,
            tags=self.tags,
            opts=self.child(),
        )
        topic_policy = aws.sns.TopicPolicy(
            f"{name}-failures-policy",
            arn=self.failure_topic.arn,
            policy=policy_document(
                statement(
                    "FailureRulesPublish",
                    ["sns:Publish"],
                    [self.failure_topic.arn],
                    principals={"Service": EVENTS},
                    conditions={"ArnEquals": {"aws:SourceArn": rule_arns}},
                )
            ),
            opts=self.child(),
        )
        batches = list(self.batches.values())
        patterns = {
            "execution-failed": execution_failure_pattern([b.state_machine_arn for b in batches]),
            "task-failed": task_failure_pattern(
                cluster.cluster_arn, [ctx.arn("ecs", f"task-definition/{b.task_definition_family}:") for b in batches]
            ),
        }
        for kind, pattern in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{kind}",
                name=rule_names[kind],
                description=f"Batch {kind.replace('-', ' ')}: to the batch failures topic",
                event_pattern=pattern,
                tags=self.tags,
                opts=self.child(),
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{kind}-to-topic",
                rule=rule.name,
                arn=self.failure_topic.arn,
                opts=self.child(depends_on=[topic_policy]),
            )


def execution_failure_pattern(state_machine_arns: list[pulumi.Output[str]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps(
        {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": state_machine_arns},
        },
        sort_keys=True,
    )


def task_failure_pattern(cluster_arn: pulumi.Input[str], family_prefixes: list[str]) -> pulumi.Output[str]:
    """STOPPED batch tasks with a non-zero exit code, or that never started (those have no exit code).

    EventBridge matches arrays of objects field by field, so a sidecar's non-zero exit at shutdown also
    matches; the execution-failed rule is the one that decides a run failed.
    """
    return pulumi.Output.json_dumps(
        {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Task State Change"],
            "detail": {
                "clusterArn": [cluster_arn],
                "lastStatus": ["STOPPED"],
                "taskDefinitionArn": [{"prefix": prefix} for prefix in sorted(family_prefixes)],
                "$or": [
                    {"containers": {"exitCode": [{"anything-but": 0}]}},
                    {"stopCode": ["TaskFailedToStart"]},
                ],
            },
        },
        sort_keys=True,
    )
