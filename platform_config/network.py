"""`platform:network`: the VPC CIDR, the subnets of each AZ, NAT and endpoints."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from platform_config.base import Cidr, ConfigModel
from platform_config.profiles import LOG_RETENTION_DAYS, EnvironmentProfile, NatGateways
from platform_lib.subnet_plan import Tier

InterfaceEndpoint = Literal[
    "ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages", "ssm", "ec2messages", "sts", "kms",
    "monitoring", "sqs", "sns", "states", "ecs", "ecs-agent", "ecs-telemetry",
]  # fmt: skip

DEFAULT_INTERFACE_ENDPOINTS: tuple[InterfaceEndpoint, ...] = (
    "ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages", "sts",
)  # fmt: skip
"""What Fargate tasks need to start and run (image pull, logs, secrets, ECS Exec, role sessions)
without sending that traffic through NAT."""


class AzSubnets(ConfigModel):
    """The three subnets of one availability zone."""

    public: Cidr
    app: Cidr
    db: Cidr

    def by_tier(self) -> dict[Tier, IPv4Network]:
        return {"public": self.public, "app": self.app, "db": self.db}


class NetworkConfig(ConfigModel):
    vpc_cidr: Cidr
    azs: dict[str, AzSubnets] = Field(min_length=2)
    """AZ name -> subnets. At least two: RDS subnet groups and load balancers need two AZs."""
    nat_gateways: NatGateways
    """Default from the environment: `single` in stg, `perAz` in prd."""
    flow_log_retention_days: int
    """Default from the environment's log retention."""
    interface_endpoints: tuple[InterfaceEndpoint, ...] = DEFAULT_INTERFACE_ENDPOINTS

    profile_defaults: ClassVar[dict[str, Callable[[EnvironmentProfile], Any]]] = {
        "natGateways": lambda p: p.nat_gateways,
        "flowLogRetentionDays": lambda p: p.log_retention_days,
    }

    def layout(self) -> dict[str, dict[Tier, IPv4Network]]:
        """AZ -> tier -> CIDR, the shape the subnet planner takes."""
        return {az: subnets.by_tier() for az, subnets in self.azs.items()}

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention_is_allowed(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"{days} is not a CloudWatch Logs retention; use one of {list(LOG_RETENTION_DAYS)}")
        return days

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints_are_unique(cls, endpoints: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({e for e in endpoints if endpoints.count(e) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return endpoints
