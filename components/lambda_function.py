"""A Python Lambda function from `functions/<name>/`: its role, its log group, its code.

The code is packaged by the program itself (an AssetArchive of the handler's directory), so what is
reviewed in `functions/` is what deploys. The log group is created with the function's name and a
retention, instead of the unbounded one Lambda would create on first invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from platform_config.context import StackContext
from platform_lib.iam import Statement, policy_document, service_trust_policy, statement

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"


@dataclass(frozen=True, kw_only=True)
class PythonFunctionArgs:
    context: StackContext
    source: str
    """A directory under `functions/` holding `handler.py` with `handler(event, context)`."""
    function_name: str
    description: str
    timeout_seconds: int
    memory_mb: int = 256
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    region: str
    tags: dict[str, str]


class PythonFunction(Component, token="platform:functions:PythonFunction"):
    """A Python Lambda function with its own role and log group. Grant with `allow(...)`.

    `function`, `role` and `log_group` are the handles."""

    function_arn: Out[pulumi.Output[str]]
    role_arn: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ctx = args.context
        self._name = name
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=ctx.profile.log_retention_days,
            tags=args.tags,
            opts=self.child(),
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            assume_role_policy=service_trust_policy(
                "lambda.amazonaws.com",
                source_account=ctx.account_id,
                source_arn=ctx.arn("lambda", f"function:{args.function_name}", region=args.region),
            ),
            max_session_duration=3600,
            tags=args.tags,
            opts=self.child(),
        )
        self._log_policy = aws.iam.RolePolicy(
            f"{name}-logs-policy",
            role=self.role.id,
            policy=policy_document(
                statement(
                    "WriteOwnLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [self.log_group.arn.apply(lambda arn: f"{arn}:*")],
                )
            ),
            opts=self.child(),
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler="handler.handler",
            code=source_archive(args.source),
            role=self.role.arn,
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment))
            if args.environment
            else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="PassThrough"),
            tags=args.tags,
            opts=self.child(depends_on=[self.log_group, self._log_policy]),
        )
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.finish()

    def allow(self, purpose: str, *statements: Statement) -> aws.iam.RolePolicy:
        """Attach one inline policy to the function's role, named for what it is for."""
        return aws.iam.RolePolicy(
            f"{self._name}-{purpose}",
            role=self.role.id,
            policy=policy_document(*statements),
            opts=self.child(),
        )


def source_archive(source: str) -> pulumi.AssetArchive:
    """The handler directory's Python files (sorted, so the archive is the same on every machine)."""
    directory = FUNCTIONS_DIR / source
    if not (directory / "handler.py").is_file():
        raise FileNotFoundError(f"{directory}/handler.py does not exist")
    return pulumi.AssetArchive(
        {
            path.name: pulumi.FileAsset(str(path))
            for path in sorted(directory.glob("*.py"))
            if path.name != "__init__.py"
        }
    )
