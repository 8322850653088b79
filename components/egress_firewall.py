"""The egress allow-list of the app tier (PCI DSS v4 1.3.2): an AWS Network Firewall between the app
subnets and NAT that lets out only TLS (by SNI) and HTTP (by Host) to the names in config.

Routing (set by Network): app subnet -> this AZ's firewall endpoint -> firewall subnet -> NAT ->
internet, and the way back through the same endpoint (the public route tables send each app CIDR to its
AZ's endpoint), so the stateful engine sees both directions. The policy runs in strict order: the domain
list passes what is allowed, and the default actions drop every other established flow and log it
(`alert` mode logs without dropping). Both log types go to CloudWatch Logs and are kept as audit logs;
Network Firewall writes the log groups' resource policy itself when logging is switched on, as WAF does.
Not verified here: that the listed names are all the workloads need (the alert log of a `stg` deploy is
the test), and the charges (per endpoint-hour and per GB, in the README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from platform_config.context import StackContext
from platform_config.network import MAX_ALLOWED_DOMAINS, EgressConfig
from platform_config.tags import component_tags

TARGET_TYPES = ("HTTP_HOST", "TLS_SNI")
RULE_GROUP_CAPACITY = MAX_ALLOWED_DOMAINS * len(TARGET_TYPES)
"""Fixed when the rule group is created (a change replaces it): room for the most domains config takes."""
DEFAULT_ACTIONS = {"enforce": ["aws:drop_established", "aws:alert_established"], "alert": ["aws:alert_established"]}


@dataclass(frozen=True, kw_only=True)
class EgressFirewallArgs:
    context: StackContext
    settings: EgressConfig
    platform_domains: tuple[str, ...] = ()
    vpc_id: pulumi.Input[str]
    subnet_ids: Mapping[str, pulumi.Input[str]]
    """AZ -> the firewall subnet of that AZ."""


class EgressFirewall(Component, token="platform:network:EgressFirewall"):
    """The domain allow-list, the firewall policy, the firewall with an endpoint per AZ, and its logs."""

    endpoint_ids: Out[dict[str, pulumi.Output[str]]]
    """AZ -> the firewall's VPC endpoint in that AZ, the target of the app tier's default route."""
    firewall_arn: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: EgressFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        ctx, settings = args.context, args.settings
        tags = component_tags(service="platform", component="egress-firewall")
        allowed = aws.networkfirewall.RuleGroup(
            f"{name}-allowed-domains",
            name=ctx.physical_name("egress-allowed"),
            description="Names the app tier may reach on the internet (TLS SNI, HTTP Host)",
            type="STATEFUL",
            capacity=RULE_GROUP_CAPACITY,
            rule_group=aws.networkfirewall.RuleGroupRuleGroupArgs(
                rules_source=aws.networkfirewall.RuleGroupRuleGroupRulesSourceArgs(
                    rules_source_list=aws.networkfirewall.RuleGroupRuleGroupRulesSourceRulesSourceListArgs(
                        generated_rules_type="ALLOWLIST",
                        target_types=list(TARGET_TYPES),
                        targets=allowed_domains(settings, args.platform_domains),
                    )
                ),
                stateful_rule_options=aws.networkfirewall.RuleGroupRuleGroupStatefulRuleOptionsArgs(
                    rule_order="STRICT_ORDER"
                ),
            ),
            tags=tags,
            opts=self.child(),
        )
        policy = aws.networkfirewall.FirewallPolicy(
            f"{name}-policy",
            name=ctx.physical_name("egress"),
            firewall_policy=aws.networkfirewall.FirewallPolicyFirewallPolicyArgs(
                # Every packet goes to the stateful engine, which decides by name.
                stateless_default_actions=["aws:forward_to_sfe"],
                stateless_fragment_default_actions=["aws:forward_to_sfe"],
                stateful_engine_options=aws.networkfirewall.FirewallPolicyFirewallPolicyStatefulEngineOptionsArgs(
                    rule_order="STRICT_ORDER"
                ),
                stateful_default_actions=DEFAULT_ACTIONS[settings.mode],
                stateful_rule_group_references=[
                    aws.networkfirewall.FirewallPolicyFirewallPolicyStatefulRuleGroupReferenceArgs(
                        resource_arn=allowed.arn, priority=1
                    )
                ],
            ),
            tags=tags,
            opts=self.child(),
        )
        protect = ctx.profile.protect_stateful
        self.firewall = aws.networkfirewall.Firewall(
            f"{name}-firewall",
            name=ctx.physical_name("egress"),
            description="The app tier's way out: only the allowed names pass",
            vpc_id=args.vpc_id,
            firewall_policy_arn=policy.arn,
            subnet_mappings=[
                aws.networkfirewall.FirewallSubnetMappingArgs(subnet_id=args.subnet_ids[az])
                for az in sorted(args.subnet_ids)
            ],
            delete_protection=protect,
            subnet_change_protection=protect,
            tags=tags,
            opts=self.child(),
        )
        retention = max(ctx.profile.log_retention_days, ctx.profile.min_audit_log_retention_days)
        groups = {
            kind: aws.cloudwatch.LogGroup(
                f"{name}-{kind.lower()}-logs",
                name=f"/platform/{ctx.environment}/egress-firewall/{kind.lower()}",
                retention_in_days=retention,
                tags=tags,
                opts=self.child(),
            )
            for kind in ("ALERT", "FLOW")
        }
        aws.networkfirewall.LoggingConfiguration(
            f"{name}-logging",
            firewall_arn=self.firewall.arn,
            logging_configuration=aws.networkfirewall.LoggingConfigurationLoggingConfigurationArgs(
                log_destination_configs=[
                    aws.networkfirewall.LoggingConfigurationLoggingConfigurationLogDestinationConfigArgs(
                        log_destination={"logGroup": group.name}, log_destination_type="CloudWatchLogs", log_type=kind
                    )
                    for kind, group in groups.items()
                ]
            ),
            opts=self.child(),
        )
        self.endpoint_ids = {
            az: pulumi.Output.all(self.firewall.firewall_statuses, subnet_id).apply(lambda v: endpoint_in(*v))
            for az, subnet_id in args.subnet_ids.items()
        }
        self.firewall_arn = self.firewall.arn
        self.finish()


def allowed_domains(settings: EgressConfig, platform_domains: tuple[str, ...]) -> list[str]:
    """The config's names and the platform's, once each, sorted (a stable rule group)."""
    return sorted({*settings.allowed_domains, *platform_domains})


def endpoint_in(statuses: Any, subnet_id: str) -> str:
    """The firewall's endpoint in `subnet_id`, from its `firewallStatuses` output
    ([{syncStates: [{attachments: [{subnetId, endpointId}], availabilityZone}]}])."""
    for status in statuses or []:
        for state in _get(status, "sync_states") or []:
            for attachment in _get(state, "attachments") or []:
                if _get(attachment, "subnet_id") == subnet_id:
                    return str(_get(attachment, "endpoint_id"))
    raise ValueError(f"the firewall reports no endpoint in subnet {subnet_id}")


def _get(value: Any, key: str) -> Any:
    """Outputs arrive as the SDK's typed objects for real and as dicts from the mock runtime."""
    if isinstance(value, dict):
        camel = key.split("_", maxsplit=1)[0] + "".join(part.title() for part in key.split("_")[1:])
        return value.get(key, value.get(camel))
    return getattr(value, key, None)
