"""`platform:monitoring`: where telemetry goes, how alerts route, and threshold overrides."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from platform_config.base import ConfigModel

DatadogSite = Literal[
    "datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
    "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com",
]  # fmt: skip

DATADOG_AWS_ACCOUNT = "464622532012"
"""The AWS account Datadog's integration assumes roles from (commercial sites)."""


class AwsIntegrationConfig(ConfigModel):
    enabled: bool = True
    datadog_account_id: str = Field(default=DATADOG_AWS_ACCOUNT, pattern=r"^\d{12}$")
    regions: tuple[str, ...] = ("ap-northeast-1", "us-east-1")
    """Regions whose CloudWatch metrics Datadog collects: the primary region and the mail region."""


class ThresholdOverride(ConfigModel):
    critical: float | None = None
    warning: float | None = None


class RoutingConfig(ConfigModel):
    """prd: `pagerduty` maps each alerting service to a PagerDuty service of platform:oncall.
    stg: `chat` only; staging never pages."""

    pagerduty: dict[str, str] = Field(default_factory=dict)
    """Alerting service (`api`, `database`, `batch`, `mail`, an app) -> PagerDuty service name."""
    chat: str = Field(pattern=r"^@[A-Za-z0-9_.-]+$")
    """Datadog handle for the team's channel (`@slack-platform-stg`); prd monitors copy it as well."""


class MonitoringConfig(ConfigModel):
    datadog_site: DatadogSite = "ap1.datadoghq.com"
    """The Datadog site of the organisation (ap1 is Japan); agents and log routers send there."""
    aws_integration: AwsIntegrationConfig = Field(default_factory=AwsIntegrationConfig)
    runbook_base_url: str = Field(default="https://runbooks.example.invalid/platform", pattern=r"^https://")
    routing: RoutingConfig | None = None
    overrides: dict[str, ThresholdOverride] = Field(default_factory=dict)
    """Alert key (`database.card.cpu`) -> thresholds replacing the component's defaults."""
