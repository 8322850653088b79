"""The mail processing task: the existing processing code, run once per inbound message.

A child of the mail pipeline that lives in the primary region (cluster, VPC, databases) while its
parent lives in the mail region; the dispatcher starts it with RunTask and passes the message's
bucket, key and id as environment overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster import Cluster
from components.config.mail import ProcessingTaskConfig
from components.containers import DatadogTags, container_definitions_json, task_containers
from components.context import StackContext
from components.ecs_app import ContainerSecret, ImageRef
from components.tags import component_tags
from components.task_roles import allow_egress, execution_role, task_role, task_security_group


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


class MailProcessor(pulumi.ComponentResource):
    """Outputs: `family`, `task_role`, `execution_role`, `security_group_id`, `task_definition_arn`."""

    def __init__(self, name: str, args: MailProcessorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:mail:MailProcessor", name, None, opts)
        ctx, settings = args.context, args.settings
        self._name = name
        self.tags = component_tags(service="mail", component="mail-processor")
        self.family = ctx.physical_name("mail-processor")
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/platform/{ctx.environment}/mail/processor",
            retention_in_days=ctx.profile.log_retention_days,
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.execution_role = execution_role(
            name,
            ctx=ctx,
            repository_arn=args.image.repository_arn,
            log_group_arn=log_group.arn,
            secrets=[s.ref for s in args.secrets.values()] + [args.cluster.datadog_secret],
            tags=self.tags,
            parent=self,
        )
        self.task_role = task_role(
            name,
            ctx=ctx,
            exec_key_arn=args.cluster.exec_key_arn,
            exec_log_group_arn=args.cluster.exec_log_group_arn,
            tags=self.tags,
            parent=self,
        )
        self.security_group = task_security_group(
            name,
            vpc_id=args.vpc_id,
            description=f"{self.family} tasks: no inbound",
            tags={**self.tags, "Name": self.family},
            parent=self,
        )
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=self.family,
            cpu=str(settings.cpu),
            memory=str(settings.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=container_definitions_json(
                task_containers(
                    image=args.image.uri,
                    tags=DatadogTags(
                        env=ctx.environment, service="mail-processor", version=args.version, team=args.team
                    ),
                    datadog=args.cluster.datadog,
                    environment={**settings.environment, "MAIL_REGION": args.mail_region},
                    secrets={env: secret.value_from for env, secret in args.secrets.items()},
                    log_group=log_group.name,
                    region=ctx.region,
                    command=settings.command,
                )
            ),
            tags=self.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group_id = self.security_group.id
        self.task_definition_arn = self.task_definition.arn
        self.register_outputs({"family": self.family, "task_definition_arn": self.task_definition_arn})

    def allow_to(self, target: str, security_group_id: pulumi.Input[str], port: int) -> None:
        allow_egress(
            self._name, target, security_group_id=self.security_group.id, to_group_id=security_group_id, port=port,
            parent=self,
        )  # fmt: skip
