"""`platform:mail`: inbound mail for a domain, received by SES and handed to an ECS task."""

from __future__ import annotations

from pydantic import Field

from platform_config.apps import EnvName, SecretSource
from platform_config.base import ConfigModel
from platform_lib.ses_regions import SES_RECEIVING_REGIONS

__all__ = ["SES_RECEIVING_REGIONS", "DispatcherConfig", "MailConfig", "ProcessingTaskConfig"]

DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"


class ProcessingTaskConfig(ConfigModel):
    """The ECS task that processes one message (the existing processing code, as the MTA's pipe did)."""

    app: str
    """Run this app's image at its tag."""
    command: tuple[str, ...] = Field(min_length=1)
    cpu: int = 512
    memory: int = 1024
    environment: dict[EnvName, str] = Field(default_factory=dict)
    secrets: dict[EnvName, SecretSource] = Field(default_factory=dict)


class DispatcherConfig(ConfigModel):
    batch_size: int = Field(default=10, ge=1, le=10000)
    batching_window_seconds: int = Field(default=5, ge=0, le=300)
    maximum_concurrency: int = Field(default=5, ge=2, le=1000)
    """Caps concurrent dispatcher invocations (and so RunTask calls); SQS event sources need at least 2."""
    timeout_seconds: int = Field(default=60, ge=1, le=900)
    memory_mb: int = Field(default=256, ge=128, le=10240)


class MailConfig(ConfigModel):
    domain: str = Field(pattern=DOMAIN_PATTERN, max_length=253)
    region: str = "us-east-1"
    """Where SES receives the mail; the bucket, topic, queues, functions, table and key live there too."""
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,32}$")
    """A Route 53 zone for the domain: then the MX, verification and DKIM records are managed here."""
    recipients: tuple[str, ...] = Field(min_length=1)
    raw_mail_retention_days: int = Field(default=90, ge=1, le=3650)
    processing_task: ProcessingTaskConfig
    dispatcher: DispatcherConfig = Field(default_factory=DispatcherConfig)
    queue_visibility_timeout_seconds: int | None = Field(default=None, ge=0, le=43200)
    """Default: the larger of 6 x the dispatcher timeout + its batching window (AWS's advice for Lambda
    retries) and what the dispatcher's claim lease needs (see `minimum_visibility_timeout`)."""
    dedup_ttl_hours: int = Field(default=72, ge=1, le=8760)
    """How long a message id is remembered; SNS->SQS redeliveries arrive within minutes to hours."""

    def visibility_timeout(self) -> int:
        return self.queue_visibility_timeout_seconds or minimum_visibility_timeout(self.dispatcher)


LEASE_MARGIN_SECONDS = 10
"""Clock margin on a dispatcher's claim lease: the lease is the invocation's remaining time plus this."""


def lease_visibility_timeout(dispatcher: DispatcherConfig) -> int:
    """The shortest visibility in which a dead invocation's claim has lapsed before its record returns.

    A record waits up to the batching window, its invocation runs up to the timeout and claims the
    message with a lease of at most timeout + margin: the redelivery must come after all of that.
    """
    return dispatcher.batching_window_seconds + 2 * dispatcher.timeout_seconds + LEASE_MARGIN_SECONDS + 1


def minimum_visibility_timeout(dispatcher: DispatcherConfig) -> int:
    advised = 6 * dispatcher.timeout_seconds + dispatcher.batching_window_seconds
    return max(advised, lease_visibility_timeout(dispatcher))
