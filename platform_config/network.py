"""`platform:network`: the VPC CIDR, the subnets of each AZ, NAT and endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from platform_config.base import Cidr, ConfigModel
from platform_config.profiles import LOG_RETENTION_DAYS, EnvironmentProfile, NatGateways
from platform_lib.subnet_plan import Tier

MAX_ALLOWED_DOMAINS = 200
"""The rule group's capacity is fixed at creation (it counts one per domain and target type): 2 x 200 fit."""

InterfaceEndpoint = Literal[
    "ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages", "ssm", "ec2messages", "sts", "kms",
    "monitoring", "sqs", "sns", "states", "ecs", "ecs-agent", "ecs-telemetry",
]  # fmt: skip

DEFAULT_INTERFACE_ENDPOINTS: tuple[InterfaceEndpoint, ...] = (
    "ecr.api", "ecr.dkr", "kms", "logs", "secretsmanager", "ssmmessages", "sts",
)  # fmt: skip
"""What Fargate tasks need to start and run (image pull, logs, secrets, ECS Exec and its session key,
role sessions) without sending that traffic through NAT, where the egress allow-list would drop it."""


class AzSubnets(ConfigModel):
    """The subnets of one availability zone: three tiers, and the firewall's when egress is filtered."""

    public: Cidr
    app: Cidr
    db: Cidr
    firewall: Cidr | None = None
    """The Network Firewall endpoint's own subnet (a /28 is enough), required with `egress`."""

    def by_tier(self) -> dict[Tier, IPv4Network]:
        tiers: dict[Tier, IPv4Network] = {"public": self.public, "app": self.app, "db": self.db}
        if self.firewall is not None:
            tiers["firewall"] = self.firewall
        return tiers


EgressMode = Literal["enforce", "alert"]
DOMAIN = re.compile(r"^\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class EgressConfig(ConfigModel):
    """What the app tier may reach on the internet: every packet leaving it through NAT passes a Network
    Firewall that lets through HTTPS (TLS SNI) and HTTP (Host) to these names only, and drops the rest."""

    allowed_domains: tuple[str, ...] = Field(default=(), max_length=MAX_ALLOWED_DOMAINS - 10)
    """What the apps call on the internet: `api.example.com` (that host), or `.example.com` (the domain and
    every name under it). The program adds the platform's own (the Datadog site); AWS services are
    reached through the VPC endpoints and need no entry."""
    mode: EgressMode = "enforce"
    """`alert` logs what `enforce` would drop and drops nothing: for introducing a new dependency only."""

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [d for d in domains if not DOMAIN.fullmatch(d)]
        if wrong:
            raise ValueError(
                f"not a domain name Network Firewall takes: {', '.join(repr(d) for d in wrong)} (lower case; "
                "`api.example.com`, or `.example.com` for the domain and its subdomains; no `*`, scheme or port)"
            )
        duplicates = sorted({d for d in domains if domains.count(d) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return tuple(sorted(domains))


class NetworkConfig(ConfigModel):
    vpc_cidr: Cidr
    azs: dict[str, AzSubnets] = Field(min_length=2)
    """AZ name -> subnets. At least two: RDS subnet groups and load balancers need two AZs."""
    nat_gateways: NatGateways
    """Default from the environment: `single` in stg, `perAz` in prd."""
    flow_log_retention_days: int
    """Default from the environment's log retention."""
    interface_endpoints: tuple[InterfaceEndpoint, ...] = DEFAULT_INTERFACE_ENDPOINTS
    egress: EgressConfig | None = None
    """Filter the app tier's internet egress by destination name (Network Firewall); None: NAT only."""

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

    @model_validator(mode="after")
    def _firewall_subnets(self) -> NetworkConfig:
        if self.egress is not None:
            missing = sorted(az for az, subnets in self.azs.items() if subnets.firewall is None)
            if missing:
                raise ValueError(
                    "egress filtering puts a firewall endpoint in every AZ: add a `firewall` subnet (a /28 is "
                    f"enough) to azs.{', azs.'.join(missing)}"
                )
        elif any(subnets.firewall is not None for subnets in self.azs.values()):
            raise ValueError("`firewall` subnets are declared but `egress` is not: remove them or add `egress`")
        return self

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoints_are_unique(cls, endpoints: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({e for e in endpoints if endpoints.count(e) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return endpoints
