"""One Fargate task as apps, batches and the mail processor all run it.

The log group, the execution and task roles, a security group with nothing in and HTTPS out, and
the task definition with the three standard containers (app, Datadog agent, log router). Not a
component: its resources belong to the component that runs the task (`parent`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster import Cluster
from components.connections import Endpoint
from components.secrets import SecretRef
from components.task_roles import execution_role, task_role, task_security_group
from platform_config.context import StackContext
from platform_lib.containers import DatadogTags, container_definitions_json, task_containers


@dataclass(frozen=True)
class ImageRef:
    """An image to run and the repository it is pulled from (for the execution role)."""

    uri: pulumi.Input[str]
    repository_arn: pulumi.Input[str]


@dataclass(frozen=True)
class ContainerSecret:
    """A container secret: its `valueFrom` and the secret (with key) that IAM must allow."""

    value_from: pulumi.Input[str]
    ref: SecretRef


@dataclass(frozen=True, kw_only=True)
class FargateTaskSpec:
    context: StackContext
    family: str
    log_group_name: str
    cpu: int
    memory: int
    architecture: str = "X86_64"
    image: ImageRef
    telemetry: DatadogTags
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    security_group_description: str
    tags: dict[str, str]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)
    port: int | None = None
    command: Sequence[str] | None = None


class FargateTask:
    """Attributes: `log_group`, `execution_role`, `task_role`, `security_group`, `task_definition`."""

    def __init__(self, name: str, spec: FargateTaskSpec, *, parent: pulumi.Resource) -> None:
        self._name = name
        self._parent = parent
        ctx, cluster = spec.context, spec.cluster
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=spec.log_group_name,
            retention_in_days=ctx.profile.log_retention_days,
            tags=spec.tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.execution_role = execution_role(
            name,
            ctx=ctx,
            repository_arn=spec.image.repository_arn,
            sidecar_repositories_arn=cluster.sidecar_repositories_arn,
            log_group_arn=self.log_group.arn,
            secrets=[s.ref for s in spec.secrets.values()] + [cluster.datadog_secret],
            tags=spec.tags,
            parent=parent,
        )
        self.task_role = task_role(
            name,
            ctx=ctx,
            exec_key_arn=cluster.exec_key_arn,
            exec_log_group_arn=cluster.exec_log_group_arn,
            tags=spec.tags,
            parent=parent,
        )
        self.security_group = task_security_group(
            name,
            vpc_id=spec.vpc_id,
            description=spec.security_group_description,
            tags={**spec.tags, "Name": spec.family},
            parent=parent,
        )
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=spec.family,
            cpu=str(spec.cpu),
            memory=str(spec.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=spec.architecture
            ),
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=container_definitions_json(
                task_containers(
                    image=spec.image.uri,
                    tags=spec.telemetry,
                    datadog=cluster.datadog,
                    environment=spec.environment,
                    secrets={env: secret.value_from for env, secret in spec.secrets.items()},
                    log_group=self.log_group.name,
                    region=ctx.region,
                    sidecar_registry=cluster.sidecar_registry,
                    port=spec.port,
                    command=spec.command,
                )
            ),
            tags=spec.tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )

    @property
    def endpoint(self) -> Endpoint:
        """The task as a client of `components.connections.connect`: its rules belong to its component."""
        return Endpoint(
            name=self._name, rule_prefix=self._name, security_group_id=self.security_group.id, owner=self._parent
        )
