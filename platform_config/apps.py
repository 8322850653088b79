"""`platform:apps`: the shared load balancer, and the Fargate services behind it (or workers without it)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from platform_config.base import NAME_PATTERN, ConfigModel
from platform_config.profiles import EnvironmentProfile
from platform_lib.aws_limits import HEALTH_CHECK_PATH_MAX

FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
"""Fargate's allowed task cpu (units) -> memory (MiB) pairs."""

AppName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=19)]
"""19: the app's target group is `platform-<env>-<app>`, and ELBv2 target group names are at most 32."""
EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class ImageConfig(ConfigModel):
    repository: AppName | None = None
    """ECR repository of this account, by app name; defaults to the app's own repository."""
    tag: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    """An immutable tag (a release or a commit). `latest` is refused: previews must say what runs."""

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, tag: str) -> str:
        if tag == "latest":
            raise ValueError("'latest' is not a release; pin an immutable tag (a version or a commit SHA)")
        return tag


class SecretSource(ConfigModel):
    """Where a container secret comes from: a database user's secret, or a named Secrets Manager secret."""

    database: str | None = None
    user: str | None = None
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9/_+=.@-]+$")
    """A secret created outside this program, e.g. `platform/prd/api/stripe`."""
    key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    """A JSON key inside the secret (`password`); without it the whole secret value."""
    kms_key_arn: str | None = Field(default=None, pattern=r"^arn:aws:kms:")
    """For named secrets encrypted with a customer-managed key."""

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        from_database = self.database is not None or self.user is not None
        if from_database and (self.database is None or self.user is None):
            raise ValueError("a database secret needs both `database` and `user`")
        if from_database == (self.name is not None):
            raise ValueError("give either `database` and `user`, or `name`")
        return self


class Autoscaling(ConfigModel):
    min: int = Field(ge=1, le=100)
    max: int = Field(ge=1, le=100)
    cpu_target: int = Field(default=60, ge=10, le=90)
    """Average CPU % the target-tracking policy holds."""

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max < self.min:
            raise ValueError(f"max {self.max} is below min {self.min}")
        return self


class Routing(ConfigModel):
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    priority: int = Field(ge=1, le=50000)
    """Listener rule priority: unique across apps; lower wins."""

    @model_validator(mode="after")
    def _some_condition(self) -> Routing:
        if not self.hosts and not self.paths:
            raise ValueError("routing needs `hosts`, `paths` or both")
        return self


class AppConfig(ConfigModel):
    image: ImageConfig
    cpu: int
    memory: int
    port: int | None = Field(default=None, ge=1024, le=65535)
    """The container port; required with `routing`, absent for workers."""
    health_check_path: str = Field(default="/healthz", pattern=r"^/[\x21-\x7e]*$", max_length=HEALTH_CHECK_PATH_MAX)
    health_check_grace_seconds: int = Field(default=60, ge=0, le=3600)
    desired_count: int = Field(ge=0, le=100)
    autoscaling: Autoscaling | None = None
    routing: Routing | None = None
    environment: dict[EnvName, str] = Field(default_factory=dict)
    secrets: dict[EnvName, SecretSource] = Field(default_factory=dict)
    command: tuple[str, ...] | None = None
    datadog_service: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_.:/-]*$", max_length=100)
    """`DD_SERVICE`; defaults to the app name. `DD_VERSION` is the image tag."""
    spot_percent: int = Field(default=0, ge=0, le=100)
    """Share of tasks on FARGATE_SPOT (interruptible, cheaper); one task always stays on FARGATE."""
    architecture: Literal["X86_64", "ARM64"] = "X86_64"
    customer_facing: bool = False
    """Customers reach it directly: its 5xx rate pages at priority 1 and its latency at 2 (else 2 and 3)."""
    internal: bool = False
    """Served only by the internal load balancer (`loadBalancer.internal`), never from the internet: back
    offices and operator tools, which PCI DSS keeps off the public side of the card API (1.3, 1.4)."""


WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
"""AWS managed rule groups in front of every internet-facing load balancer, evaluated in this order."""


class WafConfig(ConfigModel):
    rate_limit_per_5_minutes: int = Field(default=2000, ge=10, le=2_000_000_000)
    """Requests one client IP may send in any 5 minutes before it is blocked (WAFv2 accepts 10 and up)."""
    count_only: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9]+:[A-Za-z0-9_]+$")], ...] = ()
    """Managed rules that only count, as `<RuleGroup>:<Rule>` (an app's known false positive, with a ticket)."""

    @field_validator("count_only")
    @classmethod
    def _known_groups(cls, rules: tuple[str, ...]) -> tuple[str, ...]:
        for rule in rules:
            group = rule.split(":")[0]
            if group not in WAF_MANAGED_RULE_GROUPS:
                raise ValueError(f"{rule!r}: {group} is not one of the groups: {', '.join(WAF_MANAGED_RULE_GROUPS)}")
        return rules


PRIVATE_NETWORKS = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
"""RFC 1918: the only sources an internal load balancer can be reached from."""


def _private_network(cidr: str) -> str:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as error:
        raise ValueError(f"{cidr!r} is not an IPv4 network with its prefix length ({error})") from None
    if not any(network.subnet_of(private) for private in PRIVATE_NETWORKS):
        raise ValueError(f"{cidr!r} is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    return cidr


OperatorNetwork = Annotated[str, AfterValidator(_private_network)]
INTERNAL_CIDRS_MAX = 60
"""The internal load balancer admits each allowed network on 443 with one security group rule, and a
security group holds 60 inbound rules by default."""


class InternalLoadBalancerConfig(ConfigModel):
    """The load balancer of internal apps: in the app subnets, reachable only from the operator networks."""

    allowed_cidrs: tuple[OperatorNetwork, ...] = Field(min_length=1, max_length=INTERNAL_CIDRS_MAX)
    """Private networks that reach it on 443 (the office VPN, over its own connection to the VPC); no
    public range: an internal load balancer has no internet route, so a public one is a config mistake."""
    owner: AppName
    """The internal app whose on-call service owns the 5xx the internal load balancer answers itself."""
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$"
    )
    """Defaults to the public listener's certificate."""


class LoadBalancerConfig(ConfigModel):
    certificate_arn: str = Field(pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS 1.3 and 1.2 only."""
    idle_timeout_seconds: int = Field(default=60, ge=1, le=4000)
    access_log_retention_days: int = Field(ge=1)
    """Days the access logs are kept; default 90 in stg and 365 in prd, which may not go below 365."""
    waf: WafConfig = Field(default_factory=WafConfig)
    """The web application firewall in front of the load balancer (PCI DSS v4 6.4.2)."""
    internal: InternalLoadBalancerConfig | None = None
    """The internal load balancer; required once an app is `internal`."""
    owner: AppName
    """The web app whose on-call service owns the 5xx the load balancer answers itself (no healthy target)."""

    profile_defaults: ClassVar[dict[str, Callable[[EnvironmentProfile], Any]]] = {
        "accessLogRetentionDays": lambda p: max(p.min_audit_log_retention_days, 90),
    }


class AppsConfig(ConfigModel):
    load_balancer: LoadBalancerConfig
    services: dict[AppName, AppConfig] = Field(default_factory=dict)
