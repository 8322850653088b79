"""`platform:monitoring`: where telemetry goes. (Monitors and routing arrive with the monitoring area.)"""

from __future__ import annotations

from typing import Literal

from components.config.base import ConfigModel

DatadogSite = Literal[
    "datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
    "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com",
]  # fmt: skip


class MonitoringConfig(ConfigModel):
    datadog_site: DatadogSite = "ap1.datadoghq.com"
    """The Datadog site of the organisation (ap1 is Japan); agents and log routers send there."""
