"""The bootstrap project's settings (`platform-bootstrap:settings`), checked before any resource exists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from platform_config import ConfigError, ConfigIssue, issues_from_pydantic
from platform_config.base import ConfigModel
from platform_lib.github import REPOSITORY_PATTERN

Provision = Literal["account", "organization"]
"""`account`: created by this bootstrap; `organization`: the organization provides it for this account
(an organization trail, a delegated GuardDuty, Security Hub or Config administrator), so it is not."""

ALARM_ENDPOINT_KEY = "platform-bootstrap:securityAlarmEndpoint"
SECRET_KEYS: dict[str, dict[str, str]] = {"prd": {ALARM_ENDPOINT_KEY: "https://offline.invalid/integration"}, "stg": {}}
"""Secure config keys the bootstrap declares, per stack, each with the shape of value an offline run puts
in its place (a real run fails on a missing key)."""
"""Secret: the on-call HTTPS endpoint (a PagerDuty CloudWatch integration URL) security alarms go to."""


class DetectiveControls(ConfigModel):
    """The account's detective baseline (components/account_baseline.py)."""

    cloud_trail: Provision = "account"
    guard_duty: Provision = "account"
    config_recorder: Provision = "account"
    security_hub: Provision = "account"
    access_analyzer: Provision = "account"
    other_regions: tuple[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")], ...] = ()
    """Regions besides `region` where the platform runs (the mail region): the regional services run
    there too. The trail is multi-region whatever this says."""
    audit_log_retention_days: int = Field(default=400, ge=365, le=3653)
    """PCI DSS 10.5.1: at least a year of audit logs, the last three months at hand."""
    alarm_emails: tuple[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")], ...] = ()
    """Also told of security alarms (besides the on-call endpoint), e.g. the security team's list."""


class BootstrapConfig(ConfigModel):
    environment: Literal["stg", "prd"]
    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = "ap-northeast-1"
    owner: str = Field(default="platform", pattern=r"^[a-z][a-z0-9-]*$")
    """The `Owner` tag of every resource (as `platform:general.owner` in the platform stacks)."""
    repository: str = Field(pattern=REPOSITORY_PATTERN)
    """`OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` where GitHub issues immutable subjects."""
    identity_account_id: str = Field(pattern=r"^\d{12}$")
    sre_principals: tuple[str, ...] = Field(min_length=1)
    developer_principals: tuple[str, ...] = ()
    detective: DetectiveControls = Field(default_factory=DetectiveControls)
    key_administrators: tuple[Annotated[str, Field(pattern=r"^arn:aws:iam::\d{12}:role/[\w+=,.@/*-]+$")], ...] = ()
    """Roles of this account (ARN patterns) that manage the state and secrets keys besides `sre`: the
    administrator permission set an SRE applies the bootstrap with (KMS refuses a key policy that would
    lock out whoever sets it)."""


def load_bootstrap_config(values: Mapping[str, str], *, stack: str) -> BootstrapConfig:
    """The settings, checked; also refuses a missing or non-HTTPS alarm endpoint in prd (the value itself,
    a secret, is read by the component and never kept here)."""
    settings = _settings(values, stack=stack)
    endpoint = values.get(ALARM_ENDPOINT_KEY)
    if endpoint is None and settings.environment == "prd":
        raise ConfigError(
            [
                ConfigIssue(
                    ALARM_ENDPOINT_KEY,
                    "required in prd: security alarms must reach on-call "
                    "(pulumi config set --secret securityAlarmEndpoint https://events.pagerduty.com/...)",
                )
            ]
        )
    if endpoint is not None and not endpoint.startswith("https://"):
        raise ConfigError([ConfigIssue(ALARM_ENDPOINT_KEY, "must be an https:// URL")])
    for index, arn in enumerate(settings.key_administrators):
        if arn.split(":")[4] != settings.account_id:
            raise ConfigError(
                [ConfigIssue(f"platform-bootstrap:settings.keyAdministrators[{index}]", "is not a role of accountId")]
            )
    for index, region in enumerate(settings.detective.other_regions):
        if region == settings.region:
            raise ConfigError(
                [ConfigIssue(f"platform-bootstrap:settings.detective.otherRegions[{index}]", f"{region} is `region`")]
            )
    return settings


def _settings(values: Mapping[str, str], *, stack: str) -> BootstrapConfig:
    key = "platform-bootstrap:settings"
    raw = values.get(key)
    if raw is None:
        raise ConfigError([ConfigIssue(key, "required key is missing")])
    try:
        settings = TypeAdapter(BootstrapConfig).validate_python(json.loads(raw))
    except ValidationError as error:
        raise ConfigError(issues_from_pydantic(key, BootstrapConfig, error)) from None
    if settings.environment != stack:
        raise ConfigError(
            [ConfigIssue(f"{key}.environment", f"is {settings.environment!r} but the stack is {stack!r}")]
        )
    return settings
