"""Subnet planning: pure functions from the stack's AZ -> CIDR map to an ordered list of subnets.

Kept apart from the Network component (as awsx does) so that the rules (no overlap, inside the VPC,
AZs of the region, stable order) are tested as plain functions, with tables and properties.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Literal

from platform_lib.aws_limits import AVAILABILITY_ZONES, SUBNET_PREFIX, VPC_PREFIX

Tier = Literal["public", "app", "db", "firewall"]
TIERS: tuple[Tier, ...] = ("public", "app", "db", "firewall")
"""public: load balancers and NAT; app: ECS tasks and VPC Lambdas; db: RDS, no route out; firewall: the
Network Firewall endpoints between app and NAT (only where egress is filtered: an AZ may omit it)."""

AzLayout = Mapping[str, Mapping[Tier, IPv4Network]]


@dataclass(frozen=True)
class SubnetSpec:
    """One subnet to create. `key` names its resources, so it never depends on list positions."""

    az: str
    tier: Tier
    cidr: IPv4Network

    @property
    def key(self) -> str:
        return f"{self.tier}-{self.az}"


@dataclass(frozen=True)
class PlanProblem:
    """A layout problem at `parts` (e.g. `("azs", "ap-northeast-1a", "app")`)."""

    parts: tuple[str, ...]
    message: str


PathOf = Callable[[tuple[str, ...]], str]


def _dotted(parts: tuple[str, ...]) -> str:
    return ".".join(parts)


def az_in_region(az: str, region: str) -> bool:
    """`ap-northeast-1a` belongs to `ap-northeast-1`; `us-east-1a` does not."""
    return re.fullmatch(rf"{re.escape(region)}[a-z]", az) is not None


def check_layout(vpc_cidr: IPv4Network, azs: AzLayout, region: str, *, path_of: PathOf = _dotted) -> list[PlanProblem]:
    """Every problem of a layout: sizes AWS refuses, AZs the region does not offer, subnets outside the
    VPC, overlapping subnets."""
    problems: list[PlanProblem] = []
    seen: list[tuple[tuple[str, ...], IPv4Network]] = []
    low, high = VPC_PREFIX
    if not low <= vpc_cidr.prefixlen <= high:
        problems.append(PlanProblem(("vpcCidr",), f"{vpc_cidr}: a VPC is between /{low} and /{high}"))
    offered = AVAILABILITY_ZONES.get(region)
    for az in sorted(azs):
        if not az_in_region(az, region):
            problems.append(PlanProblem(("azs", az), f"is not an availability zone of region {region}"))
        elif offered is None:
            problems.append(PlanProblem(("azs", az), f"region {region} has no zone list in platform_lib/aws_limits.py"))
        elif az not in offered:
            problems.append(
                PlanProblem(("azs", az), f"is not offered to this account; {region} has {', '.join(offered)}")
            )
        for tier in (t for t in TIERS if t in azs[az]):
            cidr = azs[az][tier]
            parts = ("azs", az, tier)
            low, high = SUBNET_PREFIX
            if not low <= cidr.prefixlen <= high:
                problems.append(PlanProblem(parts, f"{cidr}: a subnet is between /{low} and /{high}"))
            if not cidr.subnet_of(vpc_cidr):
                problems.append(PlanProblem(parts, f"{cidr} is outside {path_of(('vpcCidr',))} {vpc_cidr}"))
            problems.extend(
                PlanProblem(parts, f"{cidr} overlaps {path_of(other_parts)} ({other})")
                for other_parts, other in seen
                if cidr.overlaps(other)
            )
            seen.append((parts, cidr))
    return problems


class SubnetPlanError(ValueError):
    def __init__(self, problems: list[PlanProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(p.parts)}: {p.message}" for p in problems))


def plan_subnets(vpc_cidr: IPv4Network, azs: AzLayout, region: str) -> tuple[SubnetSpec, ...]:
    """The subnets to create, ordered by tier then AZ whatever the order of the input map."""
    problems = check_layout(vpc_cidr, azs, region)
    if problems:
        raise SubnetPlanError(problems)
    return tuple(
        SubnetSpec(az=az, tier=tier, cidr=azs[az][tier]) for tier in TIERS for az in sorted(azs) if tier in azs[az]
    )


DEFAULT_PREFIXES: Mapping[Tier, int] = {"public": 24, "app": 20, "db": 24}


def suggest_layout(
    vpc_cidr: IPv4Network, azs: list[str], prefixes: Mapping[Tier, int] = DEFAULT_PREFIXES
) -> dict[str, dict[Tier, IPv4Network]]:
    """A valid layout for a new VPC: blocks packed largest first, so no alignment gap is wasted.

    Used to propose CIDRs for a new environment; existing stacks keep their explicit maps.
    """
    blocks = sorted(((prefixes[tier], tier, az) for tier in prefixes for az in sorted(azs)), key=lambda b: b[0])
    cursor = int(vpc_cidr.network_address)
    end = int(vpc_cidr.broadcast_address) + 1
    layout: dict[str, dict[Tier, IPv4Network]] = {az: {} for az in sorted(azs)}
    for prefix, tier, az in blocks:
        if prefix < vpc_cidr.prefixlen:
            raise ValueError(f"a /{prefix} {tier} subnet cannot fit in {vpc_cidr}")
        size = 2 ** (32 - prefix)
        start = -(-cursor // size) * size
        if start + size > end:
            raise ValueError(f"{vpc_cidr} is too small for {len(azs)} AZs with prefixes {dict(prefixes)}")
        layout[az][tier] = IPv4Network((start, prefix))
        cursor = start + size
    return layout
