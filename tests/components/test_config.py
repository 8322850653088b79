"""The stack config: both real files load; every malformed input is rejected naming its key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from platform_config import ConfigError, load_platform_config
from tests.conftest import assert_rejected, with_area
from tools.mock_runtime import RecordedResource, run_program
from tools.mocks import PlatformMocks

Values = Callable[[str], dict[str, str]]


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_real_stack_files_load(stack_values: Values, stack: str) -> None:
    config = load_platform_config(stack_values(stack), stack=stack)
    assert config.environment == stack
    assert config.region == "ap-northeast-1"
    assert len(config.network.azs) == 3


def test_environment_defaults_come_from_the_profile(stack_values: Values) -> None:
    stg = load_platform_config(stack_values("stg"), stack="stg")
    prd = load_platform_config(stack_values("prd"), stack="prd")
    assert (stg.network.nat_gateways, prd.network.nat_gateways) == ("single", "perAz")
    assert (stg.network.flow_log_retention_days, prd.network.flow_log_retention_days) == (30, 365)


def test_an_explicit_setting_beats_the_profile(stack_values: Values) -> None:
    values = with_area(stack_values("stg"), "platform:network", lambda n: n.update(natGateways="perAz"))
    assert load_platform_config(values, stack="stg").network.nat_gateways == "perAz"


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(area: dict[str, Any]) -> None:
        target = area
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _delete(path: list[str]) -> Callable[[dict[str, Any]], None]:
    def change(area: dict[str, Any]) -> None:
        target = area
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


AZ_A = "ap-northeast-1a"
MALFORMED = [
    pytest.param(
        "platform:network",
        _set(["azs", AZ_A, "app"], "10.50.0.0/24"),
        "platform:network.azs.ap-northeast-1a.app: 10.50.0.0/24 overlaps platform:network.azs.ap-northeast-1a.public",
        id="overlapping-cidrs",
    ),
    pytest.param(
        "platform:network",
        _set(["azs", AZ_A, "db"], "10.99.0.0/24"),
        "platform:network.azs.ap-northeast-1a.db: 10.99.0.0/24 is outside platform:network.vpcCidr 10.50.0.0/16",
        id="subnet-outside-vpc",
    ),
    pytest.param(
        "platform:network",
        _set(
            ["azs", "us-east-1a"],
            {"public": "10.50.4.0/24", "app": "10.50.80.0/20", "db": "10.50.67.0/24", "firewall": "10.50.3.64/28"},
        ),
        "platform:network.azs.us-east-1a: is not an availability zone of region ap-northeast-1",
        id="az-outside-region",
    ),
    pytest.param(
        "platform:network",
        _delete(["azs", AZ_A, "firewall"]),
        "platform:network: egress filtering puts a firewall endpoint in every AZ: add a `firewall` subnet (a /28 is "
        "enough) to azs.ap-northeast-1a",
        id="egress-without-a-firewall-subnet",
    ),
    pytest.param(
        "platform:network",
        _delete(["egress"]),
        "platform:network: `firewall` subnets are declared but `egress` is not",
        id="firewall-subnets-without-egress",
    ),
    pytest.param(
        "platform:network",
        _set(["azs", AZ_A, "firewall"], "10.50.0.16/28"),
        "platform:network.azs.ap-northeast-1a.firewall: 10.50.0.16/28 overlaps "
        "platform:network.azs.ap-northeast-1a.public",
        id="firewall-subnet-overlaps",
    ),
    pytest.param(
        "platform:network",
        _set(["egress", "allowedDomains"], ["api.acquirer.example", "*.evil.example", "https://x.example"]),
        "platform:network.egress.allowedDomains: not a domain name Network Firewall takes: '*.evil.example', "
        "'https://x.example'",
        id="egress-domain-with-a-wildcard",
    ),
    pytest.param(
        "platform:network",
        _set(["egress", "mode"], "log"),
        "platform:network.egress.mode:",
        id="egress-mode-unknown",
    ),
    pytest.param(
        "platform:network",
        _set(["natGateway"], "single"),
        "platform:network.natGateway: unknown key (did you mean `natGateways`?); allowed keys: azs,",
        id="unknown-key",
    ),
    pytest.param(
        "platform:network",
        _set(["vpcCidr"], 42),
        "platform:network.vpcCidr: must be an IPv4 CIDR block such as 10.0.0.0/16, got 42",
        id="wrong-type",
    ),
    pytest.param(
        "platform:network",
        _set(["azs", AZ_A, "public"], "10.50.0.1/24"),
        "platform:network.azs.ap-northeast-1a.public: 10.50.0.1/24 has host bits set; the block is 10.50.0.0/24",
        id="cidr-with-host-bits",
    ),
    pytest.param(
        "platform:network",
        _delete(["vpcCidr"]),
        "platform:network.vpcCidr: required key is missing",
        id="missing-required",
    ),
    pytest.param(
        "platform:network",
        _set(["natGateways"], "two"),
        "platform:network.natGateways: must be 'single' or 'perAz' (got \"two\")",
        id="bad-enum",
    ),
    pytest.param(
        "platform:network",
        _set(["flowLogRetentionDays"], 10),
        "platform:network.flowLogRetentionDays: 10 is not a CloudWatch Logs retention",
        id="bad-retention",
    ),
    pytest.param(
        "platform:network",
        _set(["azs"], {AZ_A: {"public": "10.50.0.0/24", "app": "10.50.16.0/20", "db": "10.50.64.0/24"}}),
        "platform:network.azs: needs at least 2 entries",
        id="single-az",
    ),
    pytest.param(
        "platform:general",
        _set(["accountId"], "1234"),
        "platform:general.accountId: must be a 12-digit AWS account id",
        id="bad-account-id",
    ),
    pytest.param(
        "platform:general",
        _set(["environment"], "prd"),
        "platform:general.environment: is 'prd' but the stack is 'stg'",
        id="environment-not-the-stack",
    ),
    pytest.param(
        "platform:general",
        _set(["accountId"], "999999999999"),
        'aws:allowedAccountIds: must be ["999999999999"] (platform:general.accountId)',
        id="account-pin-mismatch",
    ),
]


@pytest.mark.parametrize(("key", "change", "expected"), MALFORMED)
def test_malformed_config_is_rejected_with_its_key_path(
    stack_values: Values, key: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    error = assert_rejected(stack_values("stg"), key, change, expected, stack="stg")
    assert expected.split(":", maxsplit=1)[0] + ":" in str(error)


def test_unknown_area_and_missing_area_are_named(stack_values: Values) -> None:
    values = stack_values("stg")
    del values["platform:network"]
    values["platform:netwrok"] = json.dumps({})
    with pytest.raises(ConfigError) as raised:
        load_platform_config(values, stack="stg")
    paths = {issue.path for issue in raised.value.issues}
    assert paths == {"platform:network", "platform:netwrok"}
    assert "required key is missing" in str(raised.value)
    assert re.search(
        r"platform:netwrok: unknown key \(did you mean `network`\?\); the platform namespace has: .*\bnetwork\b",
        str(raised.value),
    )


def test_an_area_that_is_not_an_object_is_named(stack_values: Values) -> None:
    values = {**stack_values("stg"), "platform:network": "10.0.0.0/16"}
    with pytest.raises(ConfigError, match=r"platform:network: must be an object, got str"):
        load_platform_config(values, stack="stg")


def test_missing_region_is_named(stack_values: Values) -> None:
    values = stack_values("stg")
    del values["aws:region"]
    with pytest.raises(ConfigError, match=r"aws:region: required key is missing"):
        load_platform_config(values, stack="stg")


def test_every_problem_is_reported_at_once(stack_values: Values) -> None:
    values = with_area(stack_values("stg"), "platform:network", _set(["natGateways"], "two"))
    values = with_area(values, "platform:general", _set(["owner"], "Platform Team"))
    with pytest.raises(ConfigError) as raised:
        load_platform_config(values, stack="stg")
    assert {i.path for i in raised.value.issues} == {"platform:network.natGateways", "platform:general.owner"}


def test_bad_config_fails_before_any_resource_is_registered(stack_values: Values) -> None:
    import runpy

    from tools.offline import PROJECT_DIR

    values = with_area(stack_values("stg"), "platform:network", _set(["vpcCidr"], "10.50.0.0/33"))
    mocks = PlatformMocks(account_id="210987654321", default_region="ap-northeast-1")
    recorded: list[RecordedResource] = []

    def program() -> None:
        runpy.run_path(str(PROJECT_DIR), run_name="__main__")

    # A RunError, which the real CLI prints as the message alone (any other exception: a traceback).
    with pytest.raises(pulumi.RunError, match=r"platform:network.vpcCidr"):
        run_program(
            program,
            project="platform",
            stack="stg",
            config=values,
            secret_keys=[],
            mocks=mocks,
            record=recorded,
        )
    assert recorded == []

    # The same harness does record registrations when the config is good.
    from platform_config import SECRET_KEYS

    secrets = {f"platform:{key}": "value" for key in SECRET_KEYS}
    run_program(
        program,
        project="platform",
        stack="stg",
        config={**stack_values("stg"), **secrets},
        secret_keys=sorted(secrets),
        mocks=mocks,
        record=recorded,
    )
    assert recorded


def test_a_missing_secure_key_fails_a_real_run_naming_it(stack_values: Values) -> None:
    import runpy

    from pulumi import ConfigMissingError

    from tools.offline import PROJECT_DIR

    mocks = PlatformMocks(account_id="210987654321", default_region="ap-northeast-1")

    def program() -> None:
        runpy.run_path(str(PROJECT_DIR), run_name="__main__")

    with pytest.raises(ConfigMissingError, match="platform:datadogApiKey"):
        run_program(program, project="platform", stack="stg", config=stack_values("stg"), secret_keys=[], mocks=mocks)


def test_the_repository_may_be_either_github_subject_form(stack_values: Values) -> None:
    immutable = "acme-payments@4200001/platform@9100002"
    values = with_area(stack_values("prd"), "platform:general", _set(["repository"], immutable))
    assert load_platform_config(values, stack="prd").general.repository == immutable
    for wrong in ("acme-payments@4200001/platform", "acme/*"):
        assert_rejected(stack_values("prd"), "platform:general", _set(["repository"], wrong),
                        "platform:general.repository", stack="prd")  # fmt: skip
