"""`platform:databases`: the RDS PostgreSQL instances and the Postgres users inside them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from platform_config.base import ConfigModel
from platform_config.profiles import EnvironmentProfile

RoleKind = Literal["owner", "readwrite", "readonly"]
"""owner: the migrator, owns the database and its schemas; readwrite: DML on tables and sequences;
readonly: SELECT on tables."""

MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
PERFORMANCE_INSIGHTS_RETENTION = "7, 731, or a multiple of 31"
_IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_WINDOW = re.compile(rf"^{_TIME}-{_TIME}$")
_MAINTENANCE = re.compile(rf"^{_DAY}:{_TIME}-{_DAY}:{_TIME}$")


class DatabaseUser(ConfigModel):
    name: str = Field(pattern=_IDENTIFIER)
    """The Postgres role name (lowercase, digits, underscores)."""
    role: RoleKind
    schemas: tuple[str, ...] = Field(min_length=1)
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
    schemas: tuple[str, ...] = ("app",)
    """Schemas created and owned by the owner user; `public` always exists and is locked down."""
    users: tuple[DatabaseUser, ...] = Field(min_length=1)
    clients: tuple[str, ...] = ()
    """Apps and batches whose security groups may connect (port ingress)."""
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
    admin_host: str | None = None
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
        return version

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, window: str) -> str:
        if not _WINDOW.match(window):
            raise ValueError(f"{window!r} is not a backup window; use hh24:mi-hh24:mi in UTC, e.g. 16:00-16:30")
        return window

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, window: str) -> str:
        if not _MAINTENANCE.match(window):
            raise ValueError(f"{window!r} is not a maintenance window; use ddd:hh24:mi-ddd:hh24:mi in UTC")
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


DatabaseName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,20}$")]
DatabasesConfig = dict[DatabaseName, DatabaseConfig]
"""Instance key (`app`, `card`) -> settings; the key names the instance `platform-<env>-<key>`."""
