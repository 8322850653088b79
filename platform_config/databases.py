"""`platform:databases`: the RDS PostgreSQL instances and the Postgres users inside them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from platform_config.base import NAME_PATTERN, ConfigModel
from platform_config.profiles import EnvironmentProfile
from platform_lib.aws_limits import (
    RDS_POSTGRES_16_VERSIONS,
    RDS_POSTGRES_INSTANCE_FAMILIES,
    RDS_WINDOW_MINUTES_MIN,
)

RoleKind = Literal["owner", "readwrite", "readonly"]
"""owner: the migrator, owns the database and its schemas; readwrite: DML on tables and sequences;
readonly: SELECT on tables."""

MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
PERFORMANCE_INSIGHTS_RETENTION = "7, 731, or a multiple of 31"
_IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
Identifier = Annotated[str, Field(pattern=_IDENTIFIER)]
"""A PostgreSQL identifier as this platform writes them: lowercase, digits, underscores, at most 63."""
_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_WINDOW = re.compile(rf"^{_TIME}-{_TIME}$")
_MAINTENANCE = re.compile(rf"^{_DAY}:{_TIME}-{_DAY}:{_TIME}$")


class DatabaseUser(ConfigModel):
    name: str = Field(pattern=_IDENTIFIER)
    """The Postgres role name (lowercase, digits, underscores)."""
    role: RoleKind
    schemas: tuple[Identifier, ...] = Field(min_length=1)
    """Schemas the role's privileges apply to; each must be in the database's `schemas` (or `public`)."""
    connection_limit: int = Field(default=-1, ge=-1)
    """-1: no per-role limit."""


class DatabaseConfig(ConfigModel):
    engine_version: str = "16"
    """PostgreSQL 16: `16` (latest minor, upgraded automatically in the maintenance window) or `16.N`."""
    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gb: int = Field(ge=20, le=65536)
    """gp3 storage at creation (gp3 needs at least 20 GiB)."""
    max_allocated_storage_gb: int = Field(le=65536)
    """Storage autoscaling ceiling; must be at least the allocation."""
    port: int = Field(default=5432, ge=1150, le=65535)
    database_name: str = Field(pattern=_IDENTIFIER)
    schemas: tuple[Identifier, ...] = ("app",)
    """Schemas created and owned by the owner user; `public` always exists and is locked down."""
    users: tuple[DatabaseUser, ...] = Field(min_length=1)
    clients: tuple[str, ...] = ()
    """Apps and batches whose security groups may connect (port ingress)."""
    card_data: bool = False
    """Holds cardholder data (PCI DSS scope): its resources are tagged `DataScope=card`, and the diagram
    marks it and every app or batch holding one of its credentials."""
    backup_retention_days: int = Field(ge=0, le=35)
    """Default from the environment (7 in stg, 14 in prd); prd may not go below 14."""
    backup_window: str = "16:00-16:30"
    """UTC (01:00 JST), outside the maintenance window."""
    maintenance_window: str = "sun:17:00-sun:17:30"
    """UTC (Monday 02:00 JST)."""
    multi_az: bool
    deletion_protection: bool
    monitoring_interval_seconds: int = 60
    performance_insights_retention_days: int = 7
    log_min_duration_statement_ms: int = Field(default=1000, ge=-1)
    admin_host: str | None = Field(default=None, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
    """Where `pulumi up` reaches the instance to manage users, when not at its endpoint: `localhost` for an
    SSM port-forwarding session through the bastion task (see README). Secrets always carry the endpoint."""
    admin_port: int | None = Field(default=None, ge=1, le=65535)

    profile_defaults: ClassVar[dict[str, Callable[[EnvironmentProfile], Any]]] = {
        "backupRetentionDays": lambda p: max(p.min_backup_retention_days, 7),
        "multiAz": lambda p: p.multi_az_databases,
        "deletionProtection": lambda p: p.protect_stateful,
    }

    @field_validator("engine_version")
    @classmethod
    def _postgres_16(cls, version: str) -> str:
        if not re.fullmatch(r"16(\.\d+)?", version):
            raise ValueError(
                f"{version!r} is outside PostgreSQL 16.x; use '16' or '16.N' (parameter family postgres16)"
            )
        if version not in RDS_POSTGRES_16_VERSIONS:
            raise ValueError(
                f"{version!r} cannot be created on RDS; use one of {', '.join(RDS_POSTGRES_16_VERSIONS)} "
                "(platform_lib/aws_limits.py lists them, with the date)"
            )
        return version

    @field_validator("instance_class")
    @classmethod
    def _known_instance_class(cls, instance_class: str) -> str:
        _, family, size = instance_class.split(".")
        if size not in RDS_POSTGRES_INSTANCE_FAMILIES.get(family, ()):
            sizes = RDS_POSTGRES_INSTANCE_FAMILIES.get(family)
            known = (
                f"db.{family} has {', '.join(sizes)}"
                if sizes
                else f"families: {', '.join(RDS_POSTGRES_INSTANCE_FAMILIES)}"
            )
            raise ValueError(f"{instance_class!r} is not an RDS for PostgreSQL instance class ({known})")
        return instance_class

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, window: str) -> str:
        if not _WINDOW.match(window):
            raise ValueError(f"{window!r} is not a backup window; use hh24:mi-hh24:mi in UTC, e.g. 16:00-16:30")
        _at_least_30_minutes(window, weekly=False)
        return window

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, window: str) -> str:
        if not _MAINTENANCE.match(window):
            raise ValueError(f"{window!r} is not a maintenance window; use ddd:hh24:mi-ddd:hh24:mi in UTC")
        _at_least_30_minutes(window, weekly=True)
        return window

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _monitoring_interval(cls, seconds: int) -> int:
        if seconds not in MONITORING_INTERVALS:
            raise ValueError(
                f"{seconds} is not an enhanced monitoring interval; use one of {list(MONITORING_INTERVALS)}"
            )
        return seconds

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _pi_retention(cls, days: int) -> int:
        if not (days in (7, 731) or (days > 0 and days % 31 == 0 and days <= 713)):
            raise ValueError(f"{days} is not a Performance Insights retention; use {PERFORMANCE_INSIGHTS_RETENTION}")
        return days

    def owner(self) -> DatabaseUser:
        """The one user of kind `owner` (the loader guarantees there is exactly one)."""
        return next(user for user in self.users if user.role == "owner")

    def user(self, name: str) -> DatabaseUser:
        for user in self.users:
            if user.name == name:
                return user
        raise KeyError(name)


DatabaseName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=21)]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = 7 * 24 * 60


def window_minutes(window: str, *, weekly: bool) -> set[int]:
    """The minutes of the week a window covers (a daily window: its span on every day), across midnight."""

    def minute(text: str) -> int:
        if weekly:
            day, hours, minutes = text.split(":")
            return _DAYS.index(day) * 24 * 60 + int(hours) * 60 + int(minutes)
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)

    start_text, end_text = window.split("-")
    start, period = minute(start_text), _WEEK if weekly else 24 * 60
    span = {(start + offset) % period for offset in range((minute(end_text) - start) % period)}
    return span if weekly else {day * 24 * 60 + m for day in range(7) for m in span}


def _at_least_30_minutes(window: str, *, weekly: bool) -> None:
    length = len(window_minutes(window, weekly=weekly)) // (1 if weekly else 7)
    if length < RDS_WINDOW_MINUTES_MIN:
        raise ValueError(f"{window!r} is {length} minutes; RDS requires at least {RDS_WINDOW_MINUTES_MIN}")


DatabasesConfig = dict[DatabaseName, DatabaseConfig]
"""Instance key (`app`, `card`) -> settings; the key names the instance `platform-<env>-<key>`."""
