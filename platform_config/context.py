"""The small set of shared inputs every component takes: which environment, region and account."""

from __future__ import annotations

from dataclasses import dataclass

from platform_config.model import PlatformConfig
from platform_config.profiles import Environment, EnvironmentProfile
from platform_lib.naming import permissions_boundary_name, physical_name


@dataclass(frozen=True, kw_only=True)
class StackContext:
    environment: Environment
    region: str
    """The primary region (ap-northeast-1); cross-region pieces (SES) pass their own."""
    account_id: str
    profile: EnvironmentProfile

    @classmethod
    def from_config(cls, config: PlatformConfig) -> StackContext:
        return cls(
            environment=config.general.environment,
            region=config.region,
            account_id=config.general.account_id,
            profile=config.profile,
        )

    def physical_name(self, *parts: str, max_length: int = 63) -> str:
        return physical_name(self.environment, *parts, max_length=max_length)

    @property
    def permissions_boundary_arn(self) -> str:
        """Set on every role the program creates; the deploy role may create none without it."""
        return self.arn("iam", f"policy/{permissions_boundary_name(self.environment)}", global_=True)

    def arn(self, service: str, resource: str, *, region: str | None = None, global_: bool = False) -> str:
        """An ARN in this account, for resources whose ARN must be known before they exist."""
        where = "" if global_ else (region or self.region)
        return f"arn:aws:{service}:{where}:{self.account_id}:{resource}"
