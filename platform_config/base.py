"""What every config model shares: camelCase keys in YAML, snake_case in Python, no unknown keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel, to_snake


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
    def _fill_profile_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        profile = (info.context or {}).get("profile")
        if profile is None or not isinstance(data, dict) or not cls.profile_defaults:
            return data
        filled = dict(data)
        for alias, default in cls.profile_defaults.items():
            if alias not in filled and to_snake(alias) not in filled:
                filled[alias] = default(profile)
        return filled


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


def key_path(prefix: str, *parts: object) -> str:
    """`key_path("platform:databases", "app", "users", 2)` -> `platform:databases.app.users[2]`."""
    path = prefix
    for part in parts:
        text = str(part)
        path += f"[{text}]" if text.isdigit() else f".{text}"
    return path


def _cidr_text(value: Any) -> Any:
    if isinstance(value, IPv4Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"must be an IPv4 CIDR block such as 10.0.0.0/16, got {value!r}")
    return value


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text)]
"""An IPv4 network written as `a.b.c.d/n`, with no host bits set (pydantic alone would take 42 as 0.0.0.42/32)."""
