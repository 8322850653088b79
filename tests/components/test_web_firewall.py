"""The web firewall from small fixtures, and its invariants on every stack."""

from __future__ import annotations

import pytest

from components.web_firewall import RATE_RULE, WebFirewall, WebFirewallArgs
from platform_config.apps import WAF_MANAGED_RULE_GROUPS, WafConfig
from platform_config.context import StackContext
from platform_config.profiles import PROFILES
from tests.conftest import config_of, policy_of, run_component
from tools.mock_runtime import ProgramRun

ACCOUNT = "210987654321"


def firewall(settings: WafConfig, *, environment: str = "stg") -> ProgramRun:
    ctx = StackContext(
        environment=environment, region="ap-northeast-1", account_id=ACCOUNT, profile=PROFILES[environment]
    )

    def build() -> None:
        WebFirewall(
            "waf",
            WebFirewallArgs(
                context=ctx,
                settings=settings,
                load_balancer_arn="arn:aws:elasticloadbalancing:ap-northeast-1:210987654321:loadbalancer/app/x/1",
                log_key_arn="arn:aws:kms:ap-northeast-1:210987654321:key/k",
            ),
        )

    return run_component(build)


def test_managed_groups_block_then_a_per_ip_rate_limit() -> None:
    acl = firewall(WafConfig(rate_limit_per_5_minutes=500)).named("waf-acl").inputs
    assert acl["scope"] == "REGIONAL"
    assert acl["defaultAction"] == {"allow": {}}
    rules = sorted(acl["rules"], key=lambda r: r["priority"])
    groups = [r["statement"]["managedRuleGroupStatement"]["name"] for r in rules[:-1]]
    assert groups == list(WAF_MANAGED_RULE_GROUPS)
    assert all(r["overrideAction"] == {"none": {}} for r in rules[:-1])
    assert all("ruleActionOverrides" not in r["statement"]["managedRuleGroupStatement"] for r in rules[:-1])
    rate = rules[-1]
    assert rate["name"] == RATE_RULE
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {
        "limit": 500,
        "aggregateKeyType": "IP",
        "evaluationWindowSec": 300,
    }
    assert len({r["priority"] for r in rules}) == len(rules)
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in rules)


def test_a_count_only_exception_counts_that_rule_alone() -> None:
    acl = firewall(WafConfig(count_only=("AWSManagedRulesSQLiRuleSet:SQLi_BODY",))).named("waf-acl").inputs
    by_group = {r["name"]: r for r in acl["rules"]}
    overrides = by_group["AWSManagedRulesSQLiRuleSet"]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert overrides == [{"name": "SQLi_BODY", "actionToUse": {"count": {}}}]
    assert (
        "ruleActionOverrides" not in by_group["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    )


def test_an_unknown_rule_group_is_refused() -> None:
    with pytest.raises(ValueError, match="AWSManagedRulesNope is not one of the groups"):
        WafConfig(count_only=("AWSManagedRulesNope:X",))


@pytest.mark.parametrize("environment", ["stg", "prd"])
def test_every_request_is_logged_encrypted_and_kept_the_audit_retention(environment: str) -> None:
    run = firewall(WafConfig(), environment=environment)
    group = run.named("waf-logs").inputs
    assert group["name"].startswith("aws-waf-logs-")  # WAF refuses other CloudWatch Logs destinations
    assert group["kmsKeyId"].endswith(":key/k")
    assert group["retentionInDays"] >= PROFILES[environment].min_audit_log_retention_days
    logging = run.named("waf-logging")
    assert logging.property_dependencies["resourceArn"] == [run.named("waf-acl").urn]
    assert logging.property_dependencies["logDestinationConfigs"] == [run.named("waf-logs").urn]
    redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert redacted == {"authorization", "cookie"}
    association = run.named("waf-association").inputs
    assert association["resourceArn"].endswith("loadbalancer/app/x/1")


def test_the_cluster_key_lets_cloudwatch_logs_encrypt_the_firewall_logs(platform: ProgramRun) -> None:
    statements = policy_of(platform.named("cluster-key").inputs)["Statement"]
    group = platform.named("web-firewall-logs").inputs["name"]
    patterns = [
        s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        for s in statements
        if "kms:EncryptionContext:aws:logs:arn" in s.get("Condition", {}).get("ArnLike", {})
    ]
    assert any(p.endswith(f":log-group:{group}") for p in patterns)
    assert platform.named("web-firewall-association").property_dependencies["resourceArn"] == [
        platform.named("cluster-alb").urn
    ]
    assert config_of(platform).apps.load_balancer.waf.rate_limit_per_5_minutes >= 10
