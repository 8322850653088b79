"""Which IAM service prefix authorizes each pulumi-aws resource type.

The CI roles are scoped by service, and the services are those of the resource types the stacks
declare: a test maps every type of both stacks (and of the bootstrap) through `iam_prefix` and fails
on a type whose service no role may manage or read, naming the constant to extend.
"""

from __future__ import annotations

MODULE_PREFIX = {
    "accessanalyzer": "access-analyzer", "acm": "acm", "appautoscaling": "application-autoscaling",
    "cfg": "config", "cloudtrail": "cloudtrail", "dynamodb": "dynamodb", "ec2": "ec2", "ecr": "ecr",
    "ecs": "ecs", "guardduty": "guardduty", "iam": "iam", "kms": "kms", "lambda": "lambda",
    "lb": "elasticloadbalancing", "alb": "elasticloadbalancing", "rds": "rds", "route53": "route53",
    "s3": "s3", "scheduler": "scheduler", "secretsmanager": "secretsmanager", "securityhub": "securityhub",
    "ses": "ses", "sesv2": "ses", "sfn": "states", "sns": "sns", "sqs": "sqs", "ssm": "ssm", "vpc": "ec2",
    "wafv2": "wafv2", "networkfirewall": "network-firewall",
}  # fmt: skip
"""pulumi-aws module -> IAM prefix, where the module maps to one service."""
CLOUDWATCH_PREFIX = {"event": "events", "log": "logs", "metric": "cloudwatch", "dashboard": "cloudwatch",
                     "compositeAlarm": "cloudwatch"}  # fmt: skip
"""The `cloudwatch` module spans three services; its resource names say which (`eventRule`, `logGroup`...)."""

PLATFORM_SERVICES = (
    "application-autoscaling", "dynamodb", "ec2", "ecr", "ecs", "elasticloadbalancing", "events", "iam", "kms",
    "lambda", "logs", "cloudwatch", "network-firewall", "rds", "route53", "s3", "scheduler", "secretsmanager", "ses",
    "sns", "sqs", "states", "wafv2",
)  # fmt: skip
"""What the platform program manages, so what the deploy roles may manage."""
BOOTSTRAP_SERVICES = ("access-analyzer", "cloudtrail", "config", "guardduty", "securityhub")
"""What only the bootstrap (an SRE) manages: the detective controls."""


class UnknownService(ValueError):
    """A resource type whose IAM service is not in the tables above."""


def iam_prefix(type_token: str) -> str | None:
    """`aws:ecs/service:Service` -> `ecs`; None for another provider's type (Datadog, PagerDuty, ...)."""
    package, _, rest = type_token.partition(":")
    if package != "aws":
        return None
    module, _, resource = rest.partition("/")
    if module == "cloudwatch":
        for start, prefix in CLOUDWATCH_PREFIX.items():
            if resource.startswith(start):
                return prefix
    elif module in MODULE_PREFIX:
        return MODULE_PREFIX[module]
    raise UnknownService(f"{type_token}: add its IAM service to platform_lib/aws_services.py")
