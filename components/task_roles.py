"""The IAM roles every ECS task needs, shared by apps, batches and the mail task.

Execution role: what ECS needs to start the task (pull the image, write the sidecars' logs, read
exactly the referenced secrets). Task role: what the running code may do; here only ECS Exec, since
every other permission is granted by the resource that owns it (`bucket.grant_read(task_role)`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.secrets import SecretRef, secret_read_statements
from platform_config.context import StackContext
from platform_lib.iam import policy_document, service_trust_policy, statement

ECS_EXEC_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


TASK_ROLE_SUFFIX = "-task-role"
"""Every task role is auto-named `<task>-task-role-<random>` (Pulumi's autonaming appends a dash and a
random suffix to the logical name): the cluster key lets roles named so decrypt ECS Exec sessions."""


def ecs_tasks_trust(ctx: StackContext) -> str:
    return service_trust_policy(
        "ecs-tasks.amazonaws.com", source_account=ctx.account_id, source_arn=ctx.arn("ecs", "*")
    )


def execution_role(
    name: str,
    *,
    ctx: StackContext,
    repository_arn: pulumi.Input[str],
    sidecar_repositories_arn: str,
    log_group_arn: pulumi.Output[str],
    secrets: Sequence[SecretRef],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    role = aws.iam.Role(
        f"{name}-execution-role",
        permissions_boundary=ctx.permissions_boundary_arn,
        assume_role_policy=ecs_tasks_trust(ctx),
        max_session_duration=3600,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(
        f"{name}-execution-policy",
        role=role.id,
        policy=policy_document(
            # GetAuthorizationToken has no resource to scope to.
            statement("EcrAuthorization", ["ecr:GetAuthorizationToken"], ["*"]),
            statement(
                "PullImage",
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                [repository_arn, sidecar_repositories_arn],
            ),
            # The first pull of a sidecar image through the cache creates its repository and imports it
            # (ECR guide, "IAM permissions required to sync an upstream registry").
            statement(
                "CacheSidecarImages",
                ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                [sidecar_repositories_arn],
            ),
            statement(
                "WriteSidecarLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group_arn.apply(lambda arn: f"{arn}:*")],
            ),
            *secret_read_statements(secrets, region=ctx.region),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role


def task_role(
    name: str,
    *,
    ctx: StackContext,
    exec_key_arn: pulumi.Input[str],
    exec_log_group_arn: pulumi.Output[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    role = aws.iam.Role(
        f"{name}{TASK_ROLE_SUFFIX}",
        permissions_boundary=ctx.permissions_boundary_arn,
        assume_role_policy=ecs_tasks_trust(ctx),
        max_session_duration=3600,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(
        f"{name}-task-exec-policy",
        role=role.id,
        policy=policy_document(
            # The SSM channels of ECS Exec cannot be scoped to a resource.
            statement("EcsExecChannels", ECS_EXEC_ACTIONS, ["*"]),
            statement("EcsExecSessionKey", ["kms:Decrypt"], [exec_key_arn]),
            statement(
                "EcsExecSessionLogs",
                ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                [exec_log_group_arn.apply(lambda arn: f"{arn}:*")],
            ),
            statement("EcsExecFindLogGroup", ["logs:DescribeLogGroups"], [ctx.arn("logs", "log-group:*")]),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role


def task_security_group(
    name: str, *, vpc_id: pulumi.Input[str], description: str, tags: dict[str, str], parent: pulumi.Resource
) -> aws.ec2.SecurityGroup:
    """A task's security group: nothing in, HTTPS out (AWS endpoints, Datadog through NAT).
    `connect(task, database)` (components/connections.py) adds the database's port."""
    group = aws.ec2.SecurityGroup(
        f"{name}-sg", vpc_id=vpc_id, description=description, tags=tags, opts=pulumi.ResourceOptions(parent=parent)
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-to-https",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4="0.0.0.0/0",
        description="HTTPS to AWS endpoints and Datadog",
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return group


def allow_egress(
    name: str, target: str, *, security_group_id: pulumi.Input[str], to_group_id: pulumi.Input[str], port: int,
    parent: pulumi.Resource,
) -> aws.vpc.SecurityGroupEgressRule:  # fmt: skip
    return aws.vpc.SecurityGroupEgressRule(
        f"{name}-to-{target}",
        security_group_id=security_group_id,
        referenced_security_group_id=to_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=f"To {target}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
