"""The validated config of one stack, as the components receive it."""

from __future__ import annotations

from dataclasses import dataclass

from components.config.apps import AppsConfig
from components.config.batches import BatchConfig
from components.config.databases import DatabaseConfig
from components.config.general import GeneralConfig
from components.config.mail import MailConfig
from components.config.monitoring import MonitoringConfig
from components.config.network import NetworkConfig
from components.config.oncall import OnCallConfig
from components.config.profiles import PROFILES, EnvironmentProfile

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
