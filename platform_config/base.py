"""What every config model shares: camelCase keys in YAML, snake_case in Python, no unknown keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import get_close_matches
from ipaddress import IPv4Network
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel, to_snake
from pydantic_core import PydanticCustomError


class ConfigModel(BaseModel):
    """Base of every `platform:*` model: typos are errors, values are immutable once loaded."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    profile_defaults: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    """camelCase key -> default taken from the EnvironmentProfile passed as validation context."""

    @model_validator(mode="before")
    @classmethod
    def _strict_scalars(cls, data: Any) -> Any:
        """Numbers must be numbers and flags true or false: pydantic's lax mode would take `true` or
        "1" as 1 and "yes" or "on" as true, so `desiredCount: yes` would deploy one task."""
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            key = field.alias or name
            value = data.get(key, data.get(name))
            kind = _scalar_kind(field.annotation)
            if value is None or kind is None:
                continue
            problem = None
            if kind is bool and not isinstance(value, bool):
                problem = "must be true or false"
            elif kind in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
                problem = "must be a number"
            elif kind is int and isinstance(value, float) and not value.is_integer():
                problem = "must be a whole number"
            if problem is not None:
                # `field` puts the key itself into the error's path (a model validator's is the model's).
                raise PydanticCustomError(
                    "strict_scalar", f"{problem}, got {{got}}", {"field": key, "got": json.dumps(value)}
                )
        return data

    @model_validator(mode="before")
    @classmethod
    def _fill_profile_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        profile = (info.context or {}).get("profile")
        if profile is None or not isinstance(data, dict) or not cls.profile_defaults:
            return data
        filled = dict(data)
        for alias, default in cls.profile_defaults.items():
            if alias not in filled and to_snake(alias) not in filled:
                filled[alias] = default(profile)
        return filled


def _scalar_kind(annotation: Any) -> type | None:
    """`int`, `float` or `bool` for a field of that type (optional or annotated), else None."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    members = (
        [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType)
        else [annotation]
    )
    if len(members) == 1 and members[0] in (int, float, bool):
        kind: type = members[0]
        return kind
    return None


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the stack config, located by its full key path (`platform:network.vpcCidr`)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """The stack config is invalid. Raised before any resource is registered; lists every problem."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda issue: (issue.path, issue.message))
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        count = len(self.issues)
        super().__init__(f"invalid stack config ({count} problem{'s' if count != 1 else ''}):\n{lines}")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """` (did you mean `region`?)` for a near miss of a known name, else nothing."""
    matches = get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean `{matches[0]}`?)" if matches else ""


def key_path(prefix: str, *parts: object) -> str:
    """`key_path("platform:databases", "app", "users", 2)` -> `platform:databases.app.users[2]`."""
    path = prefix
    for part in parts:
        text = str(part)
        path += f"[{text}]" if text.isdigit() else f".{text}"
    return path


NAME_PATTERN = r"^[a-z](?:[a-z0-9]|-[a-z0-9])*$"
"""Lowercase letters, digits and single inner dashes: what every physical name built from it allows
(S3, RDS, ALB and ECR names refuse a trailing or doubled dash)."""


def _cidr_text(value: Any) -> Any:
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16, got {json.dumps(value)}")
    try:
        return IPv4Network(value)
    except ValueError:
        pass
    try:
        network = IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16, got {json.dumps(value)}") from None
    raise ValueError(f"{value} has host bits set; the block is {network}")


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text)]
"""An IPv4 network written as `a.b.c.d/n`, with no host bits set (pydantic alone would take 42 as 0.0.0.42/32)."""
