"""`platform:oncall`: PagerDuty teams, people, rotations, escalation and services (prd)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from platform_config.base import ConfigModel


class OnCallUser(ConfigModel):
    name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    role: Literal["user", "limited_user", "observer", "admin"] = "user"
    team: str


class ScheduleLayer(ConfigModel):
    name: str
    users: tuple[str, ...] = ()
    """Users (by key of `users`) in rotation order; at least one."""
    rotation_days: int = Field(default=7, ge=1, le=28)
    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
    """When the rotation began, with its offset (the handoff time): `2026-01-05T10:00:00+09:00`."""


class Schedule(ConfigModel):
    time_zone: str = "Asia/Tokyo"
    team: str
    layers: tuple[ScheduleLayer, ...] = Field(min_length=1)


class EscalationRule(ConfigModel):
    delay_minutes: int = Field(ge=1, le=1440)
    schedules: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


class EscalationPolicy(ConfigModel):
    team: str
    repeat: int = Field(default=2, ge=0, le=9)
    """How many times the whole policy repeats when nobody acknowledges."""
    levels: tuple[EscalationRule, ...] = ()


class OnCallService(ConfigModel):
    description: str
    escalation_policy: str
    urgency: Literal["high", "support-hours"]
    """high: page at all hours (customer-facing); support-hours: high on weekdays within `supportHours`
    (in the on-call `timeZone`), low otherwise."""
    acknowledgement_timeout_seconds: int = Field(default=1800, ge=60, le=86400)
    auto_resolve_timeout_seconds: int = Field(default=14400, ge=60, le=86400)


class OnCallConfig(ConfigModel):
    enabled: bool = True
    teams: dict[str, str] = Field(default_factory=dict)
    """Team key -> description."""
    users: dict[str, OnCallUser] = Field(default_factory=dict)
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    services: dict[str, OnCallService] = Field(default_factory=dict)
    support_hours: tuple[str, str] = ("09:00:00", "18:00:00")
    time_zone: str = "Asia/Tokyo"
    """The IANA time zone of `supportHours` and of every user's PagerDuty profile."""
