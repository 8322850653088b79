"""Subnet planning as plain functions: tables of layouts, and properties over generated ones."""

from __future__ import annotations

import random
from ipaddress import IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_lib.aws_limits import AVAILABILITY_ZONES
from platform_lib.subnet_plan import (
    TIERS,
    SubnetPlanError,
    Tier,
    az_in_region,
    check_layout,
    plan_subnets,
    suggest_layout,
)

REGION = "ap-northeast-1"
VPC = IPv4Network("10.50.0.0/16")


def net(cidr: str) -> IPv4Network:
    return IPv4Network(cidr)


def layout(**azs: tuple[str, str, str]) -> dict[str, dict[Tier, IPv4Network]]:
    return {f"{REGION}{suffix}": {"public": net(p), "app": net(a), "db": net(d)} for suffix, (p, a, d) in azs.items()}


GOOD = layout(
    a=("10.50.0.0/24", "10.50.16.0/20", "10.50.64.0/24"), c=("10.50.1.0/24", "10.50.32.0/20", "10.50.65.0/24")
)


@pytest.mark.parametrize(
    ("az", "region", "expected"),
    [
        ("ap-northeast-1a", "ap-northeast-1", True),
        ("ap-northeast-1d", "ap-northeast-1", True),
        ("ap-northeast-1", "ap-northeast-1", False),
        ("ap-northeast-1aa", "ap-northeast-1", False),
        ("us-east-1a", "ap-northeast-1", False),
        ("ap-northeast-11a", "ap-northeast-1", False),
        ("apXnortheast-1a", "ap-northeast-1", False),
    ],
)
def test_az_in_region(az: str, region: str, expected: bool) -> None:
    assert az_in_region(az, region) is expected


def test_plan_is_ordered_by_tier_then_az() -> None:
    plan = plan_subnets(VPC, GOOD, REGION)
    assert [s.key for s in plan] == [
        "public-ap-northeast-1a", "public-ap-northeast-1c",
        "app-ap-northeast-1a", "app-ap-northeast-1c",
        "db-ap-northeast-1a", "db-ap-northeast-1c",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("azs", "problem"),
    [
        (
            layout(a=("10.50.0.0/24", "10.50.0.0/20", "10.50.64.0/24")),
            ("azs.ap-northeast-1a.app", "10.50.0.0/20 overlaps azs.ap-northeast-1a.public (10.50.0.0/24)"),
        ),
        (
            layout(
                a=("10.50.0.0/24", "10.50.16.0/20", "10.50.64.0/24"),
                c=("10.50.0.128/25", "10.50.32.0/20", "10.50.65.0/24"),
            ),
            (
                "azs.ap-northeast-1c.public",
                "10.50.0.128/25 overlaps azs.ap-northeast-1a.public (10.50.0.0/24)",
            ),
        ),
        (
            layout(a=("10.50.0.0/24", "10.50.16.0/20", "10.51.0.0/24")),
            ("azs.ap-northeast-1a.db", "10.51.0.0/24 is outside vpcCidr 10.50.0.0/16"),
        ),
        (
            {"eu-west-1a": GOOD["ap-northeast-1a"]},
            ("azs.eu-west-1a", "is not an availability zone of region ap-northeast-1"),
        ),
    ],
)
def test_bad_layouts_are_reported_at_their_key(
    azs: dict[str, dict[Tier, IPv4Network]], problem: tuple[str, str]
) -> None:
    found = {(".".join(p.parts), p.message) for p in check_layout(VPC, azs, REGION)}
    assert problem in found
    with pytest.raises(SubnetPlanError):
        plan_subnets(VPC, azs, REGION)


def test_suggested_layout_for_the_real_shape_matches_the_stack_files() -> None:
    suggested = suggest_layout(VPC, ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"])
    assert suggested["ap-northeast-1a"] == {
        "app": net("10.50.0.0/20"),
        "public": net("10.50.48.0/24"),
        "db": net("10.50.51.0/24"),
    }
    assert not check_layout(VPC, suggested, REGION)


def test_too_small_vpc_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        suggest_layout(net("10.0.0.0/19"), ["ap-northeast-1a", "ap-northeast-1c"])


az_lists = st.lists(st.sampled_from(AVAILABILITY_ZONES[REGION]), min_size=1, max_size=3, unique=True)
prefixes = st.fixed_dictionaries({tier: st.integers(min_value=20, max_value=28) for tier in TIERS})


@settings(max_examples=200, deadline=None)
@given(
    vpc_prefix=st.integers(min_value=16, max_value=20),
    second_octet=st.integers(0, 255),
    azs=az_lists,
    sizes=prefixes,
)
def test_suggested_layouts_are_always_valid(
    vpc_prefix: int, second_octet: int, azs: list[str], sizes: dict[Tier, int]
) -> None:
    vpc = IPv4Network(f"10.{second_octet}.0.0/{vpc_prefix}", strict=False)
    try:
        suggested = suggest_layout(vpc, azs, sizes)
    except ValueError:
        total = sum(2 ** (32 - sizes[t]) for t in TIERS) * len(azs)
        assert total > vpc.num_addresses or any(sizes[t] < vpc_prefix for t in TIERS)
        return
    plan = plan_subnets(vpc, suggested, REGION)
    assert len(plan) == len(sizes) * len(azs)
    assert all(spec.cidr.subnet_of(vpc) for spec in plan)
    cidrs = [spec.cidr for spec in plan]
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_plan_order_does_not_depend_on_input_order(seed: int) -> None:
    azs = suggest_layout(VPC, [f"{REGION}{s}" for s in "acd"])
    shuffled_keys = list(azs)
    random.Random(seed).shuffle(shuffled_keys)
    shuffled = {az: dict(reversed(list(azs[az].items()))) for az in shuffled_keys}
    assert plan_subnets(VPC, shuffled, REGION) == plan_subnets(VPC, azs, REGION)


@settings(max_examples=200, deadline=None)
@given(
    a=st.tuples(st.integers(0, 255), st.integers(18, 28)),
    b=st.tuples(st.integers(0, 255), st.integers(18, 28)),
)
def test_any_overlap_is_found(a: tuple[int, int], b: tuple[int, int]) -> None:
    first = IPv4Network(f"10.50.{a[0]}.0/{a[1]}", strict=False)
    second = IPv4Network(f"10.50.{b[0]}.0/{b[1]}", strict=False)
    azs = layout(a=(str(first), "10.50.0.0/28", "10.50.0.16/28"), c=(str(second), "10.50.0.32/28", "10.50.0.48/28"))
    problems = check_layout(VPC, azs, REGION)
    reported = any(
        p.parts == ("azs", "ap-northeast-1c", "public") and "overlaps azs.ap-northeast-1a.public " in p.message
        for p in problems
    )
    assert reported is first.overlaps(second)
