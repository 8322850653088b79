"""The mail processing task: the existing processing code, run once per inbound message.

A child of the mail pipeline that lives in the primary region (cluster, VPC, databases) while its
parent lives in the mail region; the dispatcher starts it with RunTask and passes the message's
bucket, key and id as environment overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.base import Component, Out
from components.cluster import Cluster
from components.connections import Endpoint
from components.fargate_task import ContainerSecret, FargateTask, FargateTaskSpec, ImageRef
from platform_config.context import StackContext
from platform_config.mail import ProcessingTaskConfig
from platform_config.tags import component_tags
from platform_lib.containers import DatadogTags


@dataclass(frozen=True, kw_only=True)
class MailProcessorArgs:
    context: StackContext
    settings: ProcessingTaskConfig
    mail_region: str
    cluster: Cluster
    image: ImageRef
    version: str
    vpc_id: pulumi.Input[str]
    team: str
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)


class MailProcessor(Component, token="platform:mail:MailProcessor"):
    """The task definition that processes one received message, run by the dispatcher.

    `task_role` and `execution_role` are the handles; connectable (`endpoint`)."""

    family: Out[str]
    security_group_id: Out[pulumi.Output[str]]
    task_definition_arn: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: MailProcessorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ctx, settings = args.context, args.settings
        self._name = name
        self.tags = component_tags(service="mail", component="mail-processor")
        self.family = ctx.physical_name("mail-processor")
        self.task = FargateTask(
            name,
            FargateTaskSpec(
                context=ctx,
                family=self.family,
                log_group_name=f"/platform/{ctx.environment}/mail/processor",
                cpu=settings.cpu,
                memory=settings.memory,
                image=args.image,
                telemetry=DatadogTags(
                    env=ctx.environment, service="mail-processor", version=args.version, team=args.team
                ),
                cluster=args.cluster,
                vpc_id=args.vpc_id,
                security_group_description=f"{self.family} tasks: no inbound",
                tags=self.tags,
                environment={**settings.environment, "MAIL_REGION": args.mail_region},
                secrets=args.secrets,
                command=settings.command,
            ),
            parent=self,
        )
        self.execution_role = self.task.execution_role
        self.task_role = self.task.task_role
        self.security_group = self.task.security_group
        self.task_definition = self.task.task_definition
        self.security_group_id = self.security_group.id
        self.task_definition_arn = self.task_definition.arn
        self.finish()

    @property
    def endpoint(self) -> Endpoint:
        return self.task.endpoint
