"""The bootstrap project's settings (`platform-bootstrap:settings`), checked before any resource exists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, TypeAdapter, ValidationError

from platform_config import ConfigError, ConfigIssue, issues_from_pydantic
from platform_config.base import ConfigModel
from platform_lib.github import REPOSITORY_PATTERN


class BootstrapConfig(ConfigModel):
    environment: Literal["stg", "prd"]
    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = "ap-northeast-1"
    repository: str = Field(pattern=REPOSITORY_PATTERN)
    """`OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` where GitHub issues immutable subjects."""
    identity_account_id: str = Field(pattern=r"^\d{12}$")
    sre_principals: tuple[str, ...] = Field(min_length=1)
    developer_principals: tuple[str, ...] = ()


def load_bootstrap_config(values: Mapping[str, str], *, stack: str) -> BootstrapConfig:
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
