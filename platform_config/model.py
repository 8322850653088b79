"""The validated config of one stack, as the components receive it."""

from __future__ import annotations

from dataclasses import dataclass

from platform_config.apps import AppsConfig
from platform_config.batches import BatchConfig
from platform_config.databases import DatabaseConfig
from platform_config.general import GeneralConfig
from platform_config.mail import MailConfig
from platform_config.monitoring import MonitoringConfig
from platform_config.network import NetworkConfig
from platform_config.oncall import OnCallConfig
from platform_config.profiles import PROFILES, EnvironmentProfile

NAMESPACE = "platform"


@dataclass(frozen=True)
class PlatformConfig:
    """One attribute per area of the `platform:` namespace."""

    region: str
    general: GeneralConfig
    network: NetworkConfig
    apps: AppsConfig
    databases: dict[str, DatabaseConfig]
    monitoring: MonitoringConfig
    batches: dict[str, BatchConfig]
    mail: MailConfig | None
    oncall: OnCallConfig | None

    @property
    def profile(self) -> EnvironmentProfile:
        return PROFILES[self.general.environment]

    @property
    def environment(self) -> str:
        return self.general.environment
