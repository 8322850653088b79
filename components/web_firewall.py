"""A WAFv2 web ACL in front of an internet-facing load balancer (PCI DSS v4 6.4.2).

AWS managed rule groups (common, known bad inputs, SQL injection, IP reputation) and a per-IP rate
limit block by default; rules named in config only count (an app's known false positive). Every
request the ACL sees is logged to `aws-waf-logs-<name>` (the prefix WAF requires for CloudWatch Logs),
encrypted with the given key and kept at least the audit retention; the Authorization and Cookie
headers are redacted. WAF writes the log group's resource policy itself when logging is switched on
(AWS WAF guide, "Sending web ACL traffic logs to CloudWatch Logs").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from platform_config.apps import WAF_MANAGED_RULE_GROUPS, WafConfig
from platform_config.context import StackContext
from platform_config.tags import component_tags

RATE_RULE = "RateLimitPerClientIp"
REDACTED_HEADERS = ("authorization", "cookie")


def waf_log_group_name(ctx: StackContext) -> str:
    return f"aws-waf-logs-{ctx.physical_name()}"


@dataclass(frozen=True, kw_only=True)
class WebFirewallArgs:
    context: StackContext
    settings: WafConfig
    load_balancer_arn: pulumi.Input[str]
    log_key_arn: pulumi.Input[str]
    """A key whose policy lets CloudWatch Logs encrypt `waf_log_group_name(ctx)`."""


class WebFirewall(Component, token="platform:edge:WebFirewall"):
    """The web ACL, its association with the load balancer, and its logging."""

    web_acl_name: Out[str]
    web_acl_arn: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ctx, settings = args.context, args.settings
        tags = component_tags(service="platform", component="web-firewall")
        self.web_acl_name = ctx.physical_name("public")
        count_only: dict[str, list[str]] = {}
        for rule in settings.count_only:
            group, rule_name = rule.split(":")
            count_only.setdefault(group, []).append(rule_name)
        rules = [
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=priority,
                # The groups' own actions apply (block), but for the rules overridden to count below.
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]  # no fields
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        vendor_name="AWS",
                        name=group,
                        rule_action_overrides=[
                            aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                                name=rule_name,
                                action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                                    count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                                ),
                            )
                            for rule_name in sorted(count_only.get(group, []))
                        ]
                        or None,
                    )
                ),
                visibility_config=_rule_visibility(group),
            )
            for priority, group in enumerate(WAF_MANAGED_RULE_GROUPS, start=1)
        ]
        rules.append(
            aws.wafv2.WebAclRuleArgs(
                name=RATE_RULE,
                priority=len(rules) + 1,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        limit=settings.rate_limit_per_5_minutes, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=_rule_visibility(RATE_RULE),
            )
        )
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=self.web_acl_name,
            description=f"In front of the public load balancer of {ctx.physical_name()}",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=self.web_acl_name, sampled_requests_enabled=True
            ),
            tags=tags,
            opts=self.child(),
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.load_balancer_arn,
            web_acl_arn=self.web_acl.arn,
            opts=self.child(),
        )
        profile = ctx.profile
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=waf_log_group_name(ctx),
            retention_in_days=max(profile.log_retention_days, profile.min_audit_log_retention_days),
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=self.child(),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            opts=self.child(),
        )
        self.web_acl_arn = self.web_acl.arn
        self.finish()


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
