"""Datadog: the AWS integration, and one monitor per alert spec of every component, routed by
environment. The only module that imports pulumi_datadog (it takes seconds to import).

prd monitors page the PagerDuty service their spec's service routes to (`@pagerduty-...`) and copy
the team channel; warnings and recoveries go to the channel only. stg monitors only ever notify the
channel. The specs come from the alert catalog, the same list the config checks read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components.base import Component, Out
from components.oncall import PagerDutyRoute
from platform_config.context import StackContext
from platform_config.monitoring import MonitoringConfig
from platform_config.tags import component_tags
from platform_lib.alerts import AlertSpec
from platform_lib.iam import policy_document, statement

CLOUDWATCH_DELAY_SECONDS = 900
"""CloudWatch metrics reach Datadog minutes late; evaluating before they arrive raises false alarms."""
DATADOG_READ_ACTIONS = [
    "apigateway:GET", "autoscaling:Describe*", "cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*",
    "dynamodb:Describe*", "dynamodb:List*", "ec2:Describe*", "ecs:Describe*", "ecs:List*",
    "elasticloadbalancing:Describe*", "lambda:GetPolicy", "lambda:List*", "logs:DescribeLogGroups",
    "rds:Describe*", "rds:List*", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:ListAllMyBuckets",
    "ses:Get*", "sns:List*", "sqs:GetQueueAttributes", "sqs:ListQueueTags", "sqs:ListQueues",
    "states:DescribeStateMachine", "states:ListStateMachines", "tag:GetResources", "xray:BatchGetTraces",
    "xray:GetTraceSummaries",
]  # fmt: skip
"""The read-only calls Datadog's AWS integration documents for the services this platform uses."""


def datadog_provider(
    name: str,
    *,
    site: str,
    api_key: pulumi.Input[str],
    app_key: pulumi.Input[str],
    parent: pulumi.Resource,
) -> datadog.Provider:
    """The explicit Datadog provider (the stacks disable default providers), for `site`'s API."""
    return datadog.Provider(
        name,
        api_key=api_key,
        app_key=app_key,
        api_url=f"https://api.{site}/",
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    context: StackContext
    settings: MonitoringConfig
    team: str
    alerts: Sequence[AlertSpec]
    """The stack's alert catalog (`platform_config.alert_catalog`): one monitor per spec."""
    pagerduty: Mapping[str, PagerDutyRoute] = field(default_factory=dict)
    """PagerDuty service key -> route; empty where nothing pages (stg)."""
    datadog_external_id: pulumi.Input[str] | None = None


class Monitoring(Component, token="platform:monitoring:Monitoring"):
    """One Datadog monitor per alert of the catalog, routed to chat and PagerDuty, and the AWS integration.

    `monitors` (alert key -> Monitor) are the handles."""

    monitor_ids: Out[dict[str, pulumi.Output[str]]]
    integration_role_arn: Out[pulumi.Output[str] | None]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = args.context
        self._args = args
        keys = Counter(spec.key for spec in args.alerts)
        duplicates = sorted(key for key, count in keys.items() if count > 1)
        if duplicates:
            raise ValueError(f"alert keys declared twice: {', '.join(duplicates)}")
        self.tags = component_tags(service="platform", component="monitoring")

        self.integration_role_arn: pulumi.Output[str] | None = None
        if args.settings.aws_integration.enabled and args.datadog_external_id is not None:
            self._aws_integration(args.datadog_external_id)
        service_objects = [
            datadog.pagerduty.ServiceObject(
                f"{name}-pagerduty-{key}",
                service_name=route.service_name,
                service_key=route.integration_key,
                opts=self.child(),
            )
            for key, route in sorted(args.pagerduty.items())
        ]
        self.monitors = {
            spec.key: self._monitor(spec, depends_on=service_objects)
            for spec in sorted(args.alerts, key=lambda s: s.key)
        }
        self.monitor_ids = {key: monitor.id for key, monitor in self.monitors.items()}
        self.finish()

    def _aws_integration(self, external_id: pulumi.Input[str]) -> None:
        ctx, settings = self._context, self._args.settings.aws_integration
        role_name = ctx.physical_name("datadog-integration")
        role = aws.iam.Role(
            f"{self._name}-datadog-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            name=role_name,
            assume_role_policy=policy_document(
                statement(
                    "DatadogAssumesWithExternalId",
                    ["sts:AssumeRole"],
                    principals={"AWS": f"arn:aws:iam::{settings.datadog_account_id}:root"},
                    conditions={"StringEquals": {"sts:ExternalId": external_id}},
                )
            ),
            max_session_duration=3600,
            tags=self.tags,
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-datadog-read",
            role=role.id,
            # Read-only describe/list calls take no resource ARNs.
            policy=policy_document(statement("DatadogReadsMetadata", DATADOG_READ_ACTIONS, ["*"])),
            opts=self.child(),
        )
        datadog.aws.IntegrationAccount(
            f"{self._name}-aws-integration",
            aws_account_id=ctx.account_id,
            aws_partition="aws",
            account_tags=[f"env:{ctx.environment}", f"team:{self._args.team}"],
            aws_regions=datadog.aws.IntegrationAccountAwsRegionsArgs(include_onlies=list(settings.regions)),
            auth_config=datadog.aws.IntegrationAccountAuthConfigArgs(
                aws_auth_config_role=datadog.aws.IntegrationAccountAuthConfigAwsAuthConfigRoleArgs(
                    role_name=role_name, external_id=external_id
                )
            ),
            metrics_config=datadog.aws.IntegrationAccountMetricsConfigArgs(
                enabled=True, collect_custom_metrics=True, automute_enabled=True
            ),
            resources_config=datadog.aws.IntegrationAccountResourcesConfigArgs(
                cloud_security_posture_management_collection=False, extended_collection=True
            ),
            logs_config=datadog.aws.IntegrationAccountLogsConfigArgs(
                lambda_forwarder=datadog.aws.IntegrationAccountLogsConfigLambdaForwarderArgs()
            ),
            traces_config=datadog.aws.IntegrationAccountTracesConfigArgs(
                xray_services=datadog.aws.IntegrationAccountTracesConfigXrayServicesArgs()
            ),
            opts=self.child(depends_on=[role]),
        )
        self.integration_role_arn = role.arn

    def _monitor(self, spec: AlertSpec, *, depends_on: Sequence[pulumi.Resource]) -> datadog.Monitor:
        ctx, settings = self._context, self._args.settings
        override = settings.overrides.get(spec.key)
        critical = override.critical if override and override.critical is not None else spec.critical
        warning = override.warning if override and override.warning is not None else spec.warning
        return datadog.Monitor(
            f"{self._name}-{spec.key}",
            name=f"[{ctx.environment}] {spec.service}: {spec.title}",
            type="query alert",
            query=spec.query(critical),
            message=monitor_message(spec, ctx.environment, settings, self._page_handle(spec)),
            monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(
                critical=_number(critical), warning=_number(warning) if warning is not None else None
            ),
            priority=str(spec.priority),
            notify_no_data=spec.notify_no_data,
            no_data_timeframe=30 if spec.notify_no_data else None,
            renotify_interval=60 if spec.priority <= 2 else 0,
            evaluation_delay=CLOUDWATCH_DELAY_SECONDS if spec.cloudwatch else None,
            require_full_window=False,
            include_tags=True,
            tags=monitor_tags(spec, ctx.environment, self._args.team),
            opts=self.child(depends_on=depends_on),
        )

    def _page_handle(self, spec: AlertSpec) -> str | None:
        routing = self._args.settings.routing
        if routing is None or not routing.pagerduty:
            return None
        route = self._args.pagerduty[routing.pagerduty[spec.service]]
        return f"@pagerduty-{route.service_name}"


def monitor_tags(spec: AlertSpec, environment: str, team: str) -> list[str]:
    return sorted(
        [f"env:{environment}", f"service:{spec.service}", f"team:{team}", f"alert:{spec.key}", "managed-by:pulumi"]
    )


def monitor_message(spec: AlertSpec, environment: str, settings: MonitoringConfig, page: str | None) -> str:
    """What the person who is notified reads first: what, where, the first step, the runbook."""
    chat = settings.routing.chat if settings.routing else ""
    alert_to = f"{page} {chat}".strip() if page else chat
    return "\n".join(
        [
            f"{spec.title} ({environment})",
            "",
            spec.runbook,
            f"Runbook: {settings.runbook_base_url.rstrip('/')}/{spec.key}",
            "",
            f"{{{{#is_alert}}}}{alert_to}{{{{/is_alert}}}}",
            f"{{{{#is_warning}}}}{chat}{{{{/is_warning}}}}",
            f"{{{{#is_recovery}}}}{alert_to}{{{{/is_recovery}}}}",
        ]
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
