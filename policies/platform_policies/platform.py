"""The platform's own rules: tags, production protection, monitoring coverage and routing, on-call."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from platform_lib.stateful import PROTECTED_IN_PRODUCTION
from platform_policies.framework import Resource, Rule, Stack
from platform_policies.helpers import objs, strings, tags_of

TAGGABLE = {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup", "aws:rds/instance:Instance",
    "aws:s3/bucket:Bucket", "aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:dynamodb/table:Table",
    "aws:lambda/function:Function", "aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key", "aws:iam/role:Role",
    "aws:ecs/cluster:Cluster", "aws:ecs/service:Service", "aws:ecs/taskDefinition:TaskDefinition",
    "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup", "aws:secretsmanager/secret:Secret",
    "aws:sfn/stateMachine:StateMachine", "aws:ecr/repository:Repository", "aws:cloudwatch/eventRule:EventRule",
}  # fmt: skip
MONITOR = "datadog:index/monitor:Monitor"
WATCHED = {
    "aws:ecs/service:Service": ("servicename", "name"),
    "aws:sfn/stateMachine:StateMachine": ("statemachinearn", "name"),
    "aws:sqs/queue:Queue": ("queuename", "name"),
    "aws:rds/instance:Instance": ("dbinstanceidentifier", "identifier"),
    "aws:lambda/function:Function": ("functionname", "name"),
}
"""Resource type -> (the Datadog tag its metrics carry, the input holding the value)."""
PD_SERVICE = "pagerduty:index/service:Service"
PD_POLICY = "pagerduty:index/escalationPolicy:EscalationPolicy"


def _tags(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    required = list(config.get("required") or ["Env", "Project", "ManagedBy", "Owner", "Repository", "Service"])
    missing = [tag for tag in required if not tags_of(r).get(tag)]
    if missing:
        yield f"missing tags {missing} (resource tags and the provider's default tags together)"


def _protected(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.protect:
        yield f"{r.type.split(':')[-1]} {r.name} is stateful but not protected (pulumi protect)"


def _monitor_routing(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    message, tags = str(r.get("message", "")), strings(r.get("tags"))
    pages = "@pagerduty-" in message
    if config.get("requirePagerDuty") and not pages:
        yield f"monitor {r.get('name')!r} does not notify PagerDuty"
    if not config.get("requirePagerDuty") and pages:
        yield f"monitor {r.get('name')!r} pages from an environment that must not page"
    if "Runbook: https://" not in message:
        yield f"monitor {r.get('name')!r} has no runbook link"
    for prefix in ("env:", "service:", "team:"):
        if not any(t.startswith(prefix) for t in tags):
            yield f"monitor {r.get('name')!r} has no {prefix} tag"


def _coverage(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    queries = " ".join(str(m.get("query", "")).lower() for m in stack.of_type(MONITOR))
    for type_, (tag, prop) in WATCHED.items():
        for resource in stack.of_type(type_):
            with stack.deciding(resource):
                value = str(resource.get(prop) or resource.get("arn") or "").lower()
                if tag == "statemachinearn":
                    pattern = rf"statemachinearn:arn:aws:states:[a-z0-9-]+:\d+:statemachine:{re.escape(value)}[}},\s]"
                else:
                    pattern = rf"{tag}:{re.escape(value)}[}},\s]"
                if not value or not re.search(pattern, queries):
                    yield resource.urn, f"{type_.split(':')[-1]} {value or resource.name} has no monitor"


def _pagerduty_service(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.get("escalationPolicy"):
        yield f"PagerDuty service {r.get('name')} has no escalation policy"
    if not r.get("incidentUrgencyRule"):
        yield f"PagerDuty service {r.get('name')} has no urgency rule"


def _escalation(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    rules = objs(r.get("rules"))
    if not rules or not all(rule.get("targets") for rule in rules):
        yield f"escalation policy {r.get('name')} has a level with no one to notify"


RULES = [
    Rule(id="required-tags", description="Taggable AWS resources carry Env, Project, ManagedBy, Owner, Repository "
         "and Service.", why="Cost, ownership and incident routing depend on knowing whose a resource is.",
         fix="Use the platform's providers (default tags) and component_tags().", anchors="platform",
         severity=Severity.MEDIUM, types=tuple(sorted(TAGGABLE)), check=_tags,
         config={"required": {"type": "array", "items": {"type": "string"}}}),
    Rule(id="stateful-protected", description="Stateful resources (databases, buckets, tables, keys) are "
         "protected from deletion by Pulumi.", why="A refactor or a removed config entry must never delete data.",
         fix="Pass protect=True (the prd profile's protect_stateful).", anchors="platform", types=tuple(sorted(PROTECTED_IN_PRODUCTION)),
         check=_protected),
    Rule(id="monitor-routing", description="Monitors carry a runbook and env/service/team tags; production monitors "
         "page through PagerDuty and staging monitors never do.", why="Every production alert must reach a person "
         "who knows the first step; staging must not wake anyone.", fix="Route through platform:monitoring.routing.",
         anchors="platform", types=(MONITOR,), check=_monitor_routing,
         config={"requirePagerDuty": {"type": "boolean", "default": False}}),
    Rule(id="monitor-coverage", description="Every ECS service, state machine, queue, database and function has a "
         "monitor.", why="What is not watched fails silently.", fix="Declare alert specs in the component.",
         anchors="platform", types=(MONITOR, *WATCHED), stack_check=_coverage),
    Rule(id="pagerduty-service-escalates", description="PagerDuty services have an escalation policy and an urgency "
         "rule; every escalation level notifies someone.", why="An incident nobody is escalated to is not handled.",
         fix="Define platform:oncall.escalationPolicies and services.", anchors="platform",
         types=(PD_SERVICE, PD_POLICY), check=lambda r, c: _pagerduty_service(r, c) if r.type == PD_SERVICE else _escalation(r, c)),
]  # fmt: skip
