"""The stack config, typed and validated as a whole before any resource is registered.

`load_platform_config` takes the config map exactly as the engine hands it to the program
(`"namespace:key" -> str`, objects as JSON) and returns a `PlatformConfig`, or raises one
`ConfigError` that lists every problem with its full key path. Each area of the platform is one
object under the `platform:` namespace (`platform:network`, ...), modelled in its own module here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from platform_config.apps import AppsConfig
from platform_config.base import ConfigError, ConfigIssue, key_path
from platform_config.batches import BatchesConfig
from platform_config.checks import CHECKS
from platform_config.databases import DatabasesConfig
from platform_config.general import GeneralConfig
from platform_config.mail import MailConfig
from platform_config.model import NAMESPACE, PlatformConfig
from platform_config.monitoring import MonitoringConfig
from platform_config.network import NetworkConfig
from platform_config.oncall import OnCallConfig
from platform_config.profiles import PROFILES, EnvironmentProfile

__all__ = ["NAMESPACE", "ConfigError", "ConfigIssue", "PlatformConfig", "load_platform_config"]

AREA_MODELS: dict[str, Any] = {
    "general": GeneralConfig,
    "network": NetworkConfig,
    "databases": DatabasesConfig,
    "monitoring": MonitoringConfig,
    "apps": AppsConfig,
    "batches": BatchesConfig,
    "mail": MailConfig | None,
    "oncall": OnCallConfig | None,
}
"""Area -> its type (a model, or a map of models)."""
REQUIRED_AREAS: tuple[str, ...] = ("general", "network", "apps")
OPTIONAL_AREAS: tuple[str, ...] = ("mail", "oncall")
"""Areas a stack may leave out entirely (None); the others default to empty."""
_ADAPTERS: dict[str, TypeAdapter[Any]] = {area: TypeAdapter(model) for area, model in AREA_MODELS.items()}

SECRET_KEYS: frozenset[str] = frozenset({"datadogApiKey", "datadogAppKey", "datadogExternalId", "pagerdutyToken"})
"""`platform:` keys holding secure values. The program reads them with `require_secret`, never here."""


def load_platform_config(values: Mapping[str, str], *, stack: str | None = None) -> PlatformConfig:
    """Parse and validate the whole stack config; raise ConfigError naming every bad key."""
    issues: list[ConfigIssue] = []
    issues += _unknown_keys(values)
    region = values.get("aws:region")
    if not region:
        issues.append(ConfigIssue("aws:region", "required key is missing"))

    general = _parse_area(values, "general", None, issues)
    profile = _profile(values, general, stack)
    if isinstance(general, GeneralConfig):
        issues += _check_account_and_stack(values, general, stack)
    areas = {area: _parse_area(values, area, profile, issues) for area in AREA_MODELS if area != "general"}

    if issues or region is None or not isinstance(general, GeneralConfig):
        raise ConfigError(issues)
    config = PlatformConfig(region=region, general=general, **areas)
    issues = [issue for check in CHECKS for issue in check(config)]
    if issues:
        raise ConfigError(issues)
    return config


def _profile(values: Mapping[str, str], general: object, stack: str | None) -> EnvironmentProfile | None:
    """The environment's defaults; when `general` itself is broken, the stack's, so that other areas
    are still checked without reporting defaults as missing."""
    if isinstance(general, GeneralConfig):
        return PROFILES[general.environment]
    return PROFILES.get(stack) if stack in PROFILES else None


def _unknown_keys(values: Mapping[str, str]) -> list[ConfigIssue]:
    known = {f"{NAMESPACE}:{area}" for area in AREA_MODELS} | {f"{NAMESPACE}:{k}" for k in SECRET_KEYS}
    allowed = ", ".join(sorted(k.split(":", 1)[1] for k in known))
    return [
        ConfigIssue(key, f"unknown key; the {NAMESPACE} namespace has: {allowed}")
        for key in sorted(values)
        if key.startswith(f"{NAMESPACE}:") and key not in known
    ]


def _parse_area(
    values: Mapping[str, str], area: str, profile: EnvironmentProfile | None, issues: list[ConfigIssue]
) -> Any:
    key = f"{NAMESPACE}:{area}"
    raw = values.get(key)
    if raw is None:
        if area in REQUIRED_AREAS:
            issues.append(ConfigIssue(key, "required key is missing"))
            return None
        return None if area in OPTIONAL_AREAS else _ADAPTERS[area].validate_python({}, context={"profile": profile})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        data = raw
    if not isinstance(data, dict):
        issues.append(ConfigIssue(key, f"must be an object, got {type(data).__name__}"))
        return None
    try:
        return _ADAPTERS[area].validate_python(data, context={"profile": profile})
    except ValidationError as error:
        issues.extend(issues_from_pydantic(key, AREA_MODELS[area], error))
        return None


def _check_account_and_stack(values: Mapping[str, str], general: GeneralConfig, stack: str | None) -> list[ConfigIssue]:
    issues = []
    if stack is not None and stack != general.environment:
        issues.append(
            ConfigIssue(
                f"{NAMESPACE}:general.environment",
                f"is {general.environment!r} but the stack is {stack!r}; a stack deploys its own environment",
            )
        )
    expected = [general.account_id]
    raw = values.get("aws:allowedAccountIds")
    try:
        allowed = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        allowed = raw
    if allowed != expected:
        issues.append(
            ConfigIssue(
                "aws:allowedAccountIds",
                f"must be {json.dumps(expected)} (platform:general.accountId), got {raw}; "
                "it stops a deploy with the wrong credentials from touching another account",
            )
        )
    return issues


def issues_from_pydantic(prefix: str, model: Any, error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for detail in error.errors():
        loc = tuple(str(part) for part in detail["loc"] if part != "[key]")
        kind = detail["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            message = "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = detail["msg"].removeprefix("Value error, ")
            value = detail.get("input")
            if isinstance(value, str | int | float | bool) and kind != "value_error":
                message += f" (got {value!r})"
        issues.append(ConfigIssue(key_path(prefix, *loc), message))
    return issues


def _allowed_keys(model: Any, loc: tuple[str, ...]) -> list[str]:
    """The keys a model accepts at `loc`, by walking field annotations (models, dicts, optionals)."""
    current: Any = model
    for part in loc:
        current = _descend(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(field.alias or name for name, field in current.model_fields.items())
    return []


def _descend(annotation: Any, part: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return _unwrap_optional(field.annotation)
        return None
    if get_origin(annotation) is dict:
        return _unwrap_optional(get_args(annotation)[1])
    if get_origin(annotation) is tuple and part.isdigit():
        return _unwrap_optional(get_args(annotation)[0])
    return None


def _unwrap_optional(annotation: Any) -> Any:
    members = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is not dict and len(members) == 1:
        return members[0]
    return annotation
