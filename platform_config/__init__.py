"""The stack config, typed and validated as a whole before any resource is registered.

`load_platform_config` takes the config map exactly as the engine hands it to the program
(`"namespace:key" -> str`, objects as JSON) and returns a `PlatformConfig`, or raises one
`ConfigError` that lists every problem with its full key path. Each area of the platform is one
object under the `platform:` namespace (`platform:network`, ...), modelled in its own module here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from platform_config.apps import AppsConfig
from platform_config.base import NAME_PATTERN, ConfigError, ConfigIssue, did_you_mean, key_path
from platform_config.batches import BatchesConfig
from platform_config.checks import CHECKS
from platform_config.databases import DatabasesConfig
from platform_config.general import GeneralConfig
from platform_config.mail import DOMAIN_PATTERN, MailConfig
from platform_config.model import NAMESPACE, PlatformConfig
from platform_config.monitoring import MonitoringConfig
from platform_config.network import NetworkConfig
from platform_config.oncall import OnCallConfig
from platform_config.profiles import PROFILES, EnvironmentProfile
from platform_lib.provider_keys import AWS_PROVIDER_KEYS, NAMESPACES

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")

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


def load_platform_config(
    values: Mapping[str, str], *, stack: str | None = None, secret_keys: Collection[str] | None = None
) -> PlatformConfig:
    """Parse and validate the whole stack config; raise ConfigError naming every bad key.

    `secret_keys` are the keys the engine marks secret (`pulumi config set --secret`); when given, a
    secure key written in plain text is refused, since it would sit unencrypted in the stack file.
    """
    issues: list[ConfigIssue] = []
    issues += _unknown_keys(values)
    if secret_keys is not None:
        issues += _plaintext_secrets(values, secret_keys, stack)
    region = values.get("aws:region")
    if not region:
        issues.append(ConfigIssue("aws:region", "required key is missing"))
    elif not REGION.match(region):
        issues.append(ConfigIssue("aws:region", f"{json.dumps(region)} is not an AWS region such as ap-northeast-1"))
        region = None

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
    """Every key is the program's, the AWS provider's or the engine's; a near miss gets a suggestion."""
    platform_keys = sorted({*AREA_MODELS, *SECRET_KEYS})
    issues = []
    for key in sorted(values):
        namespace, _, name = key.partition(":")
        if namespace not in NAMESPACES:
            issues.append(ConfigIssue(key, f"unknown namespace {namespace!r}{did_you_mean(namespace, NAMESPACES)}"))
        elif namespace == NAMESPACE and name not in platform_keys:
            issues.append(
                ConfigIssue(
                    key,
                    f"unknown key{did_you_mean(name, platform_keys)}; the {NAMESPACE} namespace has: "
                    + ", ".join(platform_keys),
                )
            )
        elif namespace == "aws" and name not in AWS_PROVIDER_KEYS:
            issues.append(ConfigIssue(key, f"not a setting of the AWS provider{did_you_mean(name, AWS_PROVIDER_KEYS)}"))
    return issues


def _plaintext_secrets(values: Mapping[str, str], secret_keys: Collection[str], stack: str | None) -> list[ConfigIssue]:
    return [
        ConfigIssue(
            f"{NAMESPACE}:{name}",
            "must be a secret, not plain text in the stack file: "
            f"`pulumi config set --secret {NAMESPACE}:{name} <value>{f' -s {stack}' if stack else ''}`",
        )
        for name in sorted(SECRET_KEYS)
        if f"{NAMESPACE}:{name}" in values and f"{NAMESPACE}:{name}" not in secret_keys
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
        if kind == "strict_scalar":
            loc += (str(detail.get("ctx", {}).get("field", "")),)
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            message = "unknown key" + did_you_mean(loc[-1] if loc else "", allowed)
            message += f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("value_error", "strict_scalar"):
            message = detail["msg"].removeprefix("Value error, ")
        else:
            message = _plain_wording(kind, detail.get("ctx") or {}, detail["msg"])
            value = detail.get("input")
            if isinstance(value, str | int | float | bool):
                message += f" (got {json.dumps(value)})"
        issues.append(ConfigIssue(key_path(prefix, *loc), message))
    return issues


_WORDING: dict[str, str] = {
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "set_type": "must be a list",
    "dict_type": "must be an object (key: value pairs)",
    "model_type": "must be an object (key: value pairs)",
    "model_attributes_type": "must be an object (key: value pairs)",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "string_pattern_mismatch": "must match the pattern {pattern}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "ip_v4_network": "must be an IPv4 CIDR block such as 10.0.0.0/16",
    "ip_v4_address": "must be an IPv4 address such as 10.0.0.1",
    "url_parsing": "must be a URL",
    "url_scheme": "must be a URL with scheme {expected_schemes}",
}
"""pydantic's error types in the platform's wording: what is allowed, never the library's phrasing."""


PATTERN_MEANINGS: dict[str, str] = {
    r"^\d{12}$": "must be a 12-digit AWS account id, quoted in YAML",
    DOMAIN_PATTERN: "must be a lowercase DNS name such as inbound.example.com",
    NAME_PATTERN: "must be lowercase letters, digits and single dashes, from a letter, not ending in a dash",
    r"^[a-z][a-z0-9_]{0,62}$": "must be a PostgreSQL name: lowercase letters, digits, underscores, from a letter",
    r"^[A-Z_][A-Z0-9_]*$": "must be an environment variable name: A-Z, 0-9 and underscores",
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$": "must be an email address",
    r"^/[\x21-\x7e]*$": "must be a path starting with / (printable ASCII, no spaces)",
}
"""What a pattern allows, in words; a pattern not listed here is shown as it is."""


def _plain_wording(kind: str, ctx: Mapping[str, Any], fallback: str) -> str:
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in PATTERN_MEANINGS:
        return PATTERN_MEANINGS[ctx["pattern"]]
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        entries = "entry" if limit == 1 else "entries"
        return f"needs at least {limit} {entries}" if kind == "too_short" else f"may have at most {limit} {entries}"
    template = _WORDING.get(kind)
    if template is None:
        return fallback
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return fallback


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
