"""`platform:batches`: cron batches, each a Step Functions state machine running one ECS task."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from platform_config.apps import EnvName, ImageConfig, SecretSource
from platform_config.base import NAME_PATTERN, ConfigModel

BatchName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=24)]
"""24: `platform-<env>-<batch>-scheduler-...` role and rule names stay within IAM's 64."""


class RetryConfig(ConfigModel):
    """How a failed task is retried by the state machine (interval * backoffRate^n between attempts)."""

    max_attempts: int = Field(default=2, ge=0, le=10)
    interval_seconds: int = Field(default=3, ge=1, le=3600)
    backoff_rate: float = Field(default=1.5, ge=1.0, le=10.0)


class BatchConfig(ConfigModel):
    app: str | None = None
    """Run this app's image at the app's current tag (keeps batches in step with releases)."""
    image: ImageConfig | None = None
    """Or an image of its own; exactly one of `app` and `image`."""
    command: tuple[str, ...] = Field(min_length=1)
    environment: dict[EnvName, str] = Field(default_factory=dict)
    input: dict[EnvName, str] = Field(default_factory=dict)
    """Execution input defaults; each key becomes an environment variable read with `Value.$` ($.KEY), so a
    manual run can override it (`{"INPUT_FILE": "s3://..."}`)."""
    schedule: str
    """`cron(...)` (six fields) or `rate(...)`, evaluated in `timeZone`."""
    time_zone: str = "Asia/Tokyo"
    enabled: bool = True
    cpu: int
    memory: int
    timeout_minutes: int = Field(default=60, ge=1, le=1440)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    secrets: dict[EnvName, SecretSource] = Field(default_factory=dict)
    architecture: Literal["X86_64", "ARM64"] = "X86_64"


BatchesConfig = dict[BatchName, BatchConfig]
