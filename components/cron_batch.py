"""A cron batch: an ECS task definition run by a Step Functions state machine on a schedule.

The state machine runs the task with `runTask.sync`, retries ECS API errors and (as configured)
failed tasks with backoff, and fails the execution when the task finally fails, so the failure rules
of `Batches` see it. EventBridge Scheduler starts it in the stack's time zone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.cluster import Cluster
from components.connections import Endpoint
from components.fargate_task import ContainerSecret, FargateTask, FargateTaskSpec, ImageRef
from platform_config.batches import BatchConfig
from platform_config.context import StackContext
from platform_config.tags import component_tags
from platform_lib.containers import DatadogTags
from platform_lib.iam import policy_document, service_trust_policy, statement
from platform_lib.state_machines import run_task_definition

MANAGED_RULE = "rule/StepFunctionsGetEventsForECSTaskRule"
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
]  # fmt: skip
"""The EventBridge rule Step Functions manages to learn when a `.sync` task stops."""


@dataclass(frozen=True, kw_only=True)
class BatchSpec:
    """What the composition resolves for a batch: its settings, image and container secrets."""

    settings: BatchConfig
    image: ImageRef
    version: str
    """The image tag, tagged on telemetry as `version`."""
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CronBatchArgs:
    context: StackContext
    spec: BatchSpec
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    app_subnet_ids: pulumi.Input[Sequence[str]]
    team: str
    schedule_group: aws.scheduler.ScheduleGroup
    schedule_dead_letter_arn: pulumi.Input[str]


class CronBatch(Component, token="platform:batches:CronBatch"):
    """One scheduled batch: a Step Functions state machine running its Fargate task, and its schedule.

    `task_role` and `execution_role` are the handles grants attach to; connectable (`endpoint`)."""

    state_machine_arn: Out[pulumi.Output[str]]
    task_definition_family: Out[str]
    security_group_id: Out[pulumi.Output[str]]
    schedule_name: Out[str]

    def __init__(self, name: str, args: CronBatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        self._settings = settings = args.spec.settings
        image, secrets = args.spec.image, args.spec.secrets
        self.physical_name = ctx.physical_name(name)
        self.tags = component_tags(service="batch", component=f"batch-{name}")
        self.task_definition_family = self.physical_name
        self.task = FargateTask(
            name,
            FargateTaskSpec(
                context=ctx,
                family=self.task_definition_family,
                log_group_name=f"/platform/{ctx.environment}/batch/{name}",
                cpu=settings.cpu,
                memory=settings.memory,
                architecture=settings.architecture,
                image=image,
                telemetry=DatadogTags(env=ctx.environment, service=name, version=args.spec.version, team=args.team),
                cluster=args.cluster,
                vpc_id=args.vpc_id,
                security_group_description=f"{self.physical_name} batch tasks: no inbound",
                tags=self.tags,
                environment=settings.environment,
                secrets=secrets,
                command=settings.command,
            ),
            parent=self,
        )
        self.log_group = self.task.log_group
        self.execution_role = self.task.execution_role
        self.task_role = self.task.task_role
        self.security_group = self.task.security_group
        self.task_definition = self.task.task_definition
        self.state_machine = self._state_machine(args)
        self.schedule = self._schedule(args)

        self.state_machine_arn = self.state_machine.arn
        self.security_group_id = self.security_group.id
        self.schedule_name = self.physical_name
        self.finish()

    def _state_machine(self, args: CronBatchArgs) -> aws.sfn.StateMachine:
        ctx, name, settings = self._context, self._name, self._settings
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-state-machine-logs",
            # The vendedlogs prefix keeps Step Functions' log delivery off the account's resource-policy limit.
            name=f"/aws/vendedlogs/states/{self.physical_name}",
            retention_in_days=ctx.profile.log_retention_days,
            tags=self.tags,
            opts=self.child(),
        )
        role = aws.iam.Role(
            f"{name}-state-machine-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            assume_role_policy=service_trust_policy(
                "states.amazonaws.com",
                source_account=ctx.account_id,
                source_arn=ctx.arn("states", f"stateMachine:{self.physical_name}"),
            ),
            max_session_duration=3600,
            tags=self.tags,
            opts=self.child(),
        )
        family_arn = ctx.arn("ecs", f"task-definition/{self.task_definition_family}")
        aws.iam.RolePolicy(
            f"{name}-state-machine-policy",
            role=role.id,
            policy=policy_document(
                statement(
                    "RunBatchTask",
                    ["ecs:RunTask"],
                    [family_arn, f"{family_arn}:*"],
                    conditions={"ArnEquals": {"ecs:cluster": args.cluster.cluster_arn}},
                ),
                statement(
                    "TagBatchTask",
                    ["ecs:TagResource"],
                    [ctx.arn("ecs", f"task/{args.cluster.cluster_name}/*")],
                    conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
                ),
                statement(
                    "WatchBatchTask",
                    ["ecs:DescribeTasks", "ecs:StopTask"],
                    [ctx.arn("ecs", f"task/{args.cluster.cluster_name}/*")],
                ),
                statement(
                    "SyncTaskEvents",
                    ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                    [ctx.arn("events", MANAGED_RULE)],
                ),
                statement(
                    "PassTaskRoles",
                    ["iam:PassRole"],
                    [self.task_role.arn, self.execution_role.arn],
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
                # Log delivery and X-Ray APIs take no resource ARNs.
                statement("DeliverExecutionLogs", LOG_DELIVERY_ACTIONS, ["*"]),
                statement(
                    "TraceExecutions",
                    [
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:PutTelemetryRecords",
                        "xray:PutTraceSegments",
                    ],
                    ["*"],
                ),
            ),
            opts=self.child(),
        )
        definition = run_task_definition(
            comment=f"{self.physical_name}: {' '.join(settings.command)}",
            cluster_arn=args.cluster.cluster_arn,
            task_definition_arn=self.task_definition.arn,
            subnets=args.app_subnet_ids,
            security_groups=[self.security_group.id],
            command=settings.command,
            input_keys=list(settings.input),
            retry=settings.retry,
            task_timeout_seconds=settings.timeout_minutes * 60,
        )
        return aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=self.physical_name,
            type="STANDARD",  # only standard workflows emit the status-change events the alerts use
            role_arn=role.arn,
            definition=pulumi.Output.json_dumps(definition, sort_keys=True),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                log_destination=log_group.arn.apply(lambda arn: f"{arn}:*"),
                level="ALL",  # every start, task and outcome: the batch's audit trail (cdk-nag SF1)
                include_execution_data=False,  # inputs and outputs may carry card data
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            tags=self.tags,
            opts=self.child(),
        )

    def _schedule(self, args: CronBatchArgs) -> aws.scheduler.Schedule:
        ctx, name, settings = self._context, self._name, self._settings
        role = aws.iam.Role(
            f"{name}-scheduler-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            # AWS recommends scoping the trust to the schedule group, not to one schedule.
            assume_role_policy=args.schedule_group.arn.apply(
                lambda group_arn: service_trust_policy(
                    "scheduler.amazonaws.com", source_account=ctx.account_id, source_arn=group_arn
                )
            ),
            max_session_duration=3600,
            tags=self.tags,
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=role.id,
            policy=policy_document(
                statement("StartThisBatch", ["states:StartExecution"], [self.state_machine.arn]),
                statement("DeadLetterUndeliveredStarts", ["sqs:SendMessage"], [args.schedule_dead_letter_arn]),
            ),
            opts=self.child(),
        )
        return aws.scheduler.Schedule(
            f"{name}-schedule",
            name=self.physical_name,
            group_name=args.schedule_group.name,
            description=f"Starts {self.physical_name}: {' '.join(settings.command)}",
            schedule_expression=settings.schedule,
            schedule_expression_timezone=settings.time_zone,
            state="ENABLED" if settings.enabled else "DISABLED",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=self.state_machine.arn,
                role_arn=role.arn,
                input=json.dumps(dict(settings.input), sort_keys=True),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=args.schedule_dead_letter_arn),
            ),
            opts=self.child(),
        )

    @property
    def endpoint(self) -> Endpoint:
        return self.task.endpoint
