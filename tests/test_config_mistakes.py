"""Every mistake a developer has made in a stack file, refused at load with its key path, and its valid
twin accepted: the table is the contract of `platform_config` (issue "Self-serve changes").

A case edits one value of a real stack's config map (as the engine hands it to the program) to
`bad` and to `good`; `bad` must fail with an issue starting `expected`, `good` must load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from platform_config import ConfigError, load_platform_config
from tools.offline import PROJECT_DIR
from tools.stack_config import load_stack_config

Values = dict[str, str]
LIBRARY_WORDING = re.compile(r"Input should|should have|after validation|Value error|String should|valid dictionary")


@dataclass(frozen=True)
class Case:
    id: str
    key: str
    """The config key (`platform:apps`); for a whole-key edit, `path` is empty."""
    path: tuple[Any, ...]
    bad: Any
    good: Any
    expected: str
    stack: str = "stg"
    good_path: tuple[Any, ...] | None = None
    """Where the valid twin goes, when it is another key (a name)."""


def _set(area: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = area
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return area


def _edited(case: Case, value: Any, *, twin: bool = False) -> Values:
    values = dict(load_stack_config(PROJECT_DIR, case.stack).values)
    path = case.good_path if twin and case.good_path is not None else case.path
    if value is _DELETE:
        values.pop(case.key, None)
        return values
    if not path:
        values[case.key] = value if isinstance(value, str) else json.dumps(value)
        return values
    area = json.loads(values[case.key])
    values[case.key] = json.dumps(_set(area, path, value))
    return values


_DELETE = object()
API = ("services", "api")
APP_DB = ("app",)
MAIL_TASK = ("processingTask",)
A_USER = ("users", "aoki")
WINDOW = ("app", "backupWindow")

CASES = [
    # Silently accepted before: now each is refused.
    Case("aws-key-misspelled", "aws:regoin", (), "ap-northeast-1", _DELETE, "aws:regoin: not a setting of the AWS provider (did you mean `region`?)"),
    Case("namespace-misspelled", "platfrom:general", (), {"owner": "x"}, _DELETE, "platfrom:general: unknown namespace 'platfrom' (did you mean `platform`?)"),
    Case("connection-limit-on", "platform:databases", (*APP_DB, "users", 1, "connectionLimit"), "on", 200, "platform:databases.app.users[1].connectionLimit: must be a number, got \"on\""),
    Case("prd-access-logs-kept-90-days", "platform:apps", ("loadBalancer", "accessLogRetentionDays"), 90, 365, "platform:apps.loadBalancer.accessLogRetentionDays: 90 days is below the prd minimum of 365", stack="prd"),
    Case("waf-rate-limit-below-what-waf-accepts", "platform:apps", ("loadBalancer", "waf"), {"ratePerFiveMinutes": 5}, {"rateLimitPer5Minutes": 100}, "platform:apps.loadBalancer.waf.ratePerFiveMinutes"),
    Case("waf-rate-limit-too-low", "platform:apps", ("loadBalancer", "waf"), {"rateLimitPer5Minutes": 5}, {"rateLimitPer5Minutes": 100}, "platform:apps.loadBalancer.waf.rateLimitPer5Minutes"),
    Case("waf-exception-in-an-unknown-group", "platform:apps", ("loadBalancer", "waf"), {"countOnly": ["AWSManagedRulesBotControlRuleSet:X"]}, {"countOnly": ["AWSManagedRulesSQLiRuleSet:SQLi_BODY"]}, "platform:apps.loadBalancer.waf.countOnly"),
    Case("internal-app-without-routing", "platform:apps", ("services", "worker", "internal"), True, False, "platform:apps.services.worker.internal: only an app with `routing`"),
    Case("internal-app-without-internal-load-balancer", "platform:apps", ("loadBalancer", "internal"), None, {"allowedCidrs": ["10.200.0.0/22"], "owner": "admin"}, "platform:apps.loadBalancer.internal: required: admin is internal"),
    Case("internal-load-balancer-open-to-the-internet", "platform:apps", ("loadBalancer", "internal", "allowedCidrs"), ["0.0.0.0/0"], ["10.200.0.0/22"], "platform:apps.loadBalancer.internal.allowedCidrs[0]: '0.0.0.0/0' is not inside 10.0.0.0/8"),
    Case("internal-load-balancer-cidr-with-host-bits", "platform:apps", ("loadBalancer", "internal", "allowedCidrs"), ["10.200.0.1/22"], ["10.200.0.0/22"], "platform:apps.loadBalancer.internal.allowedCidrs[0]: '10.200.0.1/22' is not an IPv4 network"),
    Case("internal-load-balancer-admits-the-vpc", "platform:apps", ("loadBalancer", "internal", "allowedCidrs"), ["10.50.0.0/16"], ["10.51.0.0/16"], "platform:apps.loadBalancer.internal.allowedCidrs[0]: 10.50.0.0/16 overlaps the VPC 10.50.0.0/16"),
    Case("internal-load-balancer-owned-by-a-public-app", "platform:apps", ("loadBalancer", "internal", "owner"), "api", "admin", "platform:apps.loadBalancer.internal.owner: 'api' is not an internal app with `routing`; internal web apps: admin"),
    Case("public-load-balancer-owned-by-an-internal-app", "platform:apps", ("loadBalancer", "owner"), "admin", "api", "platform:apps.loadBalancer.owner: 'admin' is not a public app with `routing`; public web apps: api"),
    Case("desired-count-yes", "platform:apps", (*API, "desiredCount"), "yes", 1, "platform:apps.services.api.desiredCount: must be a number, got \"yes\""),
    Case("desired-count-true", "platform:apps", (*API, "desiredCount"), True, 1, "platform:apps.services.api.desiredCount: must be a number, got true"),
    Case("flag-as-text", "platform:apps", (*API, "customerFacing"), "true", True, "platform:apps.services.api.customerFacing: must be true or false"),
    Case("empty-schema-name", "platform:databases", (*APP_DB, "schemas"), ["app", ""], ["app", "ledger"], "platform:databases.app.schemas[1]: must be a PostgreSQL name"),
    Case("admin-host-with-space", "platform:databases", (*APP_DB, "adminHost"), "db host", "localhost", "platform:databases.app.adminHost: must match"),
    Case("batch-name-trailing-dash", "platform:batches", ("cleanup-",), {"app": "api", "command": ["x"], "schedule": "rate(1 hour)", "cpu": 256, "memory": 512}, {"app": "api", "command": ["x"], "schedule": "rate(1 hour)", "cpu": 256, "memory": 512}, "platform:batches.cleanup-: must be lowercase letters, digits and single dashes", good_path=("cleanup-2",)),
    Case("app-name-doubled-dash", "platform:apps", ("services", "pay--outs"), {"image": {"tag": "1"}, "cpu": 256, "memory": 512, "desiredCount": 1}, {"image": {"tag": "1"}, "cpu": 256, "memory": 512, "desiredCount": 1}, "platform:apps.services.pay--outs: must be lowercase letters", good_path=("services", "pay-outs")),
    Case("app-name-too-long-for-its-target-group", "platform:apps", ("services", "settlement-reporting"), {"image": {"tag": "1"}, "cpu": 256, "memory": 512, "desiredCount": 1}, {"image": {"tag": "1"}, "cpu": 256, "memory": 512, "desiredCount": 1}, "platform:apps.services.settlement-reporting: must be at most 19 characters", good_path=("services", "settlement-report")),
    # Values AWS or the vendors would refuse at `pulumi up`.
    Case("tag-value-over-256", "platform:general", ("owner",), "a" * 257, "a" * 256, "platform:general.owner: must be at most 256 characters"),
    Case("task-definition-over-64-kib", "platform:apps", (*API, "environment", "BIG"), "x" * 60_000, "x" * 1_000, "platform:apps.services.api.environment: environment and command take"),
    Case("health-check-path-over-1024", "platform:apps", (*API, "healthCheckPath"), "/" + "h" * 1024, "/" + "h" * 1023, "platform:apps.services.api.healthCheckPath: must be at most 1024 characters"),
    Case("non-ascii-host", "platform:apps", (*API, "routing", "hosts"), ["ペイ.stg.acme-payments.jp"], ["xn--eck7a.stg.acme-payments.jp"], "platform:apps.services.api.routing.hosts[0]: "),
    Case("vpc-larger-than-16", "platform:network", ("vpcCidr",), "10.50.0.0/15", "10.50.0.0/16", "platform:network.vpcCidr: 10.50.0.0/15: a VPC is between /16 and /28"),
    Case("subnet-smaller-than-28", "platform:network", ("azs", "ap-northeast-1a", "public"), "10.50.0.0/29", "10.50.0.0/28", "platform:network.azs.ap-northeast-1a.public: 10.50.0.0/29: a subnet is between /16 and /28"),
    Case("zone-the-account-lacks", "platform:network", ("azs",), {"ap-northeast-1a": {"public": "10.50.0.0/24", "app": "10.50.16.0/20", "db": "10.50.64.0/24", "firewall": "10.50.3.0/28"}, "ap-northeast-1b": {"public": "10.50.1.0/24", "app": "10.50.32.0/20", "db": "10.50.65.0/24", "firewall": "10.50.3.16/28"}}, {"ap-northeast-1a": {"public": "10.50.0.0/24", "app": "10.50.16.0/20", "db": "10.50.64.0/24", "firewall": "10.50.3.0/28"}, "ap-northeast-1d": {"public": "10.50.1.0/24", "app": "10.50.32.0/20", "db": "10.50.65.0/24", "firewall": "10.50.3.16/28"}}, "platform:network.azs.ap-northeast-1b: is not offered to this account"),
    Case("certificate-in-another-region", "platform:apps", ("loadBalancer", "certificateArn"), "arn:aws:acm:us-east-1:210987654321:certificate/abc-1", "arn:aws:acm:ap-northeast-1:210987654321:certificate/abc-1", "platform:apps.loadBalancer.certificateArn: is in us-east-1"),
    Case("certificate-in-another-account", "platform:apps", ("loadBalancer", "certificateArn"), "arn:aws:acm:ap-northeast-1:123456789012:certificate/abc-1", "arn:aws:acm:ap-northeast-1:210987654321:certificate/abc-1", "platform:apps.loadBalancer.certificateArn: is in account 123456789012"),
    Case("backup-window-too-short", "platform:databases", WINDOW, "16:00-16:20", "16:00-16:30", "platform:databases.app.backupWindow: '16:00-16:20' is 20 minutes; RDS requires at least 30"),
    Case("maintenance-window-too-short", "platform:databases", ("app", "maintenanceWindow"), "sun:17:00-sun:17:10", "sun:17:00-sun:17:30", "platform:databases.app.maintenanceWindow: 'sun:17:00-sun:17:10' is 10 minutes"),
    Case("windows-overlap", "platform:databases", WINDOW, "17:10-17:40", "18:00-18:30", "platform:databases.app.backupWindow: 17:10-17:40 overlaps maintenanceWindow"),
    Case("no-such-instance-class", "platform:databases", ("app", "instanceClass"), "db.t4g.huge", "db.t4g.large", "platform:databases.app.instanceClass: 'db.t4g.huge' is not an RDS for PostgreSQL instance class"),
    Case("no-such-engine-version", "platform:databases", ("app", "engineVersion"), "16.3", "16.11", "platform:databases.app.engineVersion: '16.3' cannot be created on RDS"),
    Case("sqs-batch-over-10-without-window", "platform:mail", ("dispatcher",), {"batchSize": 100, "batchingWindowSeconds": 0}, {"batchSize": 100, "batchingWindowSeconds": 1}, "platform:mail.dispatcher.batchSize: 100 needs batchingWindowSeconds of at least 1"),
    Case("over-100-ses-recipients", "platform:mail", ("recipients",), [f"r{i}@inbound.stg.acme-payments.jp" for i in range(101)], [f"r{i}@inbound.stg.acme-payments.jp" for i in range(100)], "platform:mail.recipients: 101 recipients"),
    Case("warning-beyond-critical", "platform:monitoring", ("overrides", "database.card.cpu"), {"critical": 80, "warning": 85}, {"critical": 80, "warning": 70}, "platform:monitoring.overrides.database.card.cpu: warning 85 must be below critical 80", stack="prd"),
    Case("emails-differ-by-case", "platform:oncall", ("users", "ito", "email"), "Haruka.Aoki@acme-payments.jp", "kenji.ito@acme-payments.jp", "platform:oncall.users.ito.email: Haruka.Aoki@acme-payments.jp is also the email of aoki", stack="prd"),
    Case("schedule-start-unparsable", "platform:oncall", ("schedules", "payments", "layers", 0, "start"), "2026-13-05T10:00:00+09:00", "2026-12-05T10:00:00+09:00", "platform:oncall.schedules.payments.layers[0].start: '2026-13-05T10:00:00+09:00' is not a date and time", stack="prd"),
    # Error presentation: the real culprit named.
    Case("region-null", "aws:region", (), "null", "ap-northeast-1", "aws:region: \"null\" is not an AWS region"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_mistake_is_refused_with_its_key_and_its_twin_is_accepted(case: Case) -> None:
    with pytest.raises(ConfigError) as raised:
        load_platform_config(_edited(case, case.bad), stack=case.stack)
    messages = [str(issue) for issue in raised.value.issues]
    assert any(message.startswith(case.expected) for message in messages), "\n".join(messages)
    assert not any(LIBRARY_WORDING.search(message) for message in messages), "\n".join(messages)
    load_platform_config(_edited(case, case.good, twin=True), stack=case.stack)


def test_a_secure_key_in_plain_text_is_refused() -> None:
    values = dict(load_stack_config(PROJECT_DIR, "stg").values)
    values["platform:datadogApiKey"] = "0123456789abcdef"
    with pytest.raises(ConfigError, match=r"platform:datadogApiKey: must be a secret, not plain text"):
        load_platform_config(values, stack="stg", secret_keys=set())
    load_platform_config(values, stack="stg", secret_keys={"platform:datadogApiKey"})
