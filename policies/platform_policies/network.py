"""VPC, subnets, security groups and the load balancer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from platform_policies.framework import Resource, Rule, Stack
from platform_policies.helpers import (
    as_list,
    condition_keys,
    number,
    obj,
    objs,
    related,
    statements,
    strings,
    tags_of,
)

VPC = "aws:ec2/vpc:Vpc"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ENDPOINT_POLICY = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULE = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
TARGET_GROUP = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
WORLD = {"0.0.0.0/0", "::/0"}
TLS_POLICIES = {
    "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
}  # fmt: skip


def _flow_logs(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for vpc in stack.of_type(VPC):
        with stack.deciding(vpc):
            logged = [
                f for f in stack.of_type(FLOW_LOG)
                if vpc.urn in f.property_dependencies.get("vpcId", ()) and f.get("trafficType") == "ALL"
            ]  # fmt: skip
            if not logged:
                yield vpc.urn, "the VPC has no flow log of ALL traffic"


def _default_sg(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("ingress") or r.get("egress"):
        yield "the VPC's default security group allows traffic"


def _subnet(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("mapPublicIpOnLaunch") is True:
        yield f"subnet {r.name} gives every interface a public IP"


def port_range(from_port: Any, to_port: Any) -> tuple[int, int]:
    """A rule's ports as AWS reads them: absent, -1 (every protocol) or not a whole number means every
    port; values are clamped to 0-65535."""

    def port(value: Any, default: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return default
        try:
            number = int(value)
        except (ValueError, OverflowError):
            return default
        return default if number < 0 else min(number, 65535)

    low, high = port(from_port, 0), port(to_port, 65535)
    return (low, high) if low <= high else (high, low)


def ports_within(low: int, high: int, allowed: set[int]) -> bool:
    """Whether every port of low-high is allowed, in time bounded by the allowed set, not by the range."""
    return high - low + 1 <= len(allowed) and all(p in allowed for p in range(low, high + 1))


def _world_ingress(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """0.0.0.0/0 in, only on the allowed ports, and only to groups attached to an internet-facing load balancer."""
    allowed_ports = {number(p, 0) for p in as_list(config.get("publicPorts", [80, 443]))}
    public_groups = {
        urn
        for lb in stack.of_type(*LB)
        if lb.get("internal") is False
        for urn in lb.property_dependencies.get("securityGroups", ())
    }
    for rule in stack.of_type(INGRESS, SG_RULE):
        with stack.deciding(rule):
            if rule.type == SG_RULE and rule.get("type") != "ingress":
                continue
            cidrs = {
                *strings(rule.get("cidrIpv4")),
                *strings(rule.get("cidrIpv6")),
                *strings(rule.get("cidrBlocks")),
                *strings(rule.get("ipv6CidrBlocks")),
            }
            if not cidrs & WORLD:
                continue
            target_groups = set(rule.property_dependencies.get("securityGroupId", ()))
            low, high = port_range(rule.get("fromPort"), rule.get("toPort"))
            if not target_groups & public_groups:
                yield rule.urn, "ingress from anywhere to a group that is not an internet-facing load balancer's"
            elif not ports_within(low, high, allowed_ports):
                yield rule.urn, f"ingress from anywhere on ports {low}-{high}; allowed: {sorted(allowed_ports)}"
    for security_group in stack.of_type(SG):
        with stack.deciding(security_group):
            for inline in objs(security_group.get("ingress")):
                if {*strings(inline.get("cidrBlocks")), *strings(inline.get("ipv6CidrBlocks"))} & WORLD:
                    yield security_group.urn, "inline ingress from anywhere"


def _described(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.get("description"):
        yield f"{r.name} has no description"


def _load_balancer(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if obj(r.get("accessLogs")).get("enabled") is not True:
        yield f"load balancer {r.get('name')} does not write access logs"
    if r.get("loadBalancerType", "application") == "application" and r.get("dropInvalidHeaderFields") is not True:
        yield f"load balancer {r.get('name')} forwards invalid HTTP headers"
    if len(as_list(r.get("subnets")) or as_list(r.get("subnetMappings"))) < 2:
        yield f"load balancer {r.get('name')} is not in at least two availability zones"


def _lb_deletion(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if r.get("enableDeletionProtection") is not True:
        yield f"load balancer {r.get('name')} can be deleted (deletion protection off)"


def _listener(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    protocol = r.get("protocol")
    if protocol == "HTTP":
        for action in objs(r.get("defaultActions")):
            if action.get("type") != "redirect" or obj(action.get("redirect")).get("protocol") != "HTTPS":
                yield "the HTTP listener does something other than redirect to HTTPS"
    elif protocol == "HTTPS":
        if r.get("sslPolicy") not in TLS_POLICIES:
            yield f"the HTTPS listener uses {r.get('sslPolicy')!r}; use a TLS 1.2+ policy"
        if not str(r.get("certificateArn", "")).startswith("arn:aws:acm:"):
            yield "the HTTPS listener's certificate is not from ACM"


def _web_firewall(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    associations = stack.of_type(WEB_ACL_ASSOCIATION)
    logged = {u for c in stack.of_type(WEB_ACL_LOGGING) for u in c.property_dependencies.get("resourceArn", ())}
    for lb in stack.of_type(*LB):
        with stack.deciding(lb):
            if lb.get("internal") is True or lb.get("loadBalancerType", "application") != "application":
                continue
            acls = [
                acl
                for a in associations
                if lb.urn in a.property_dependencies.get("resourceArn", ())
                for acl in stack.resources
                if acl.type == WEB_ACL and acl.urn in a.property_dependencies.get("webAclArn", ())
            ]
            if not acls:
                yield lb.urn, f"internet-facing load balancer {lb.get('name')} has no web ACL"
            for acl in acls:
                if acl.urn not in logged:
                    yield acl.urn, f"web ACL {acl.get('name')} in front of {lb.get('name')} is not logged"
                groups = {
                    obj(obj(r.get("statement")).get("managedRuleGroupStatement")).get("name")
                    for r in objs(acl.get("rules"))
                }
                if "AWSManagedRulesCommonRuleSet" not in groups:
                    yield acl.urn, f"web ACL {acl.get('name')} lacks the AWS common rule set"


def _internal_routes(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """A route to an internal app's target group is on a listener of an internal load balancer.

    Joined by dependencies, which a preview knows even where every ARN is still unknown."""

    def linked(resource: Resource, prop: str, types: tuple[str, ...]) -> list[Resource]:
        return [
            stack.by_urn[urn]
            for urn in resource.property_dependencies.get(prop, ())
            if urn in stack.by_urn and stack.by_urn[urn].type in types
        ]

    for route in stack.of_type(*LISTENER_RULE):
        with stack.deciding(route):
            internal_targets = [
                t for t in linked(route, "actions", TARGET_GROUP) if tags_of(t).get("Exposure") == "internal"
            ]
            if not internal_targets:
                continue
            apps = ", ".join(sorted(t.name for t in internal_targets))
            load_balancers = [
                lb
                for listener in linked(route, "listenerArn", LISTENER)
                for lb in linked(listener, "loadBalancerArn", LB)
            ]
            if not load_balancers:
                yield route.urn, f"the route to internal {apps} is on a listener of no load balancer of this stack"
            for lb in load_balancers:
                if lb.get("internal") is not True:
                    yield route.urn, f"internal {apps} is routed from internet-facing load balancer {lb.get('name')}"


PRINCIPAL_PERIMETER = {"aws:principalaccount", "aws:principalorgid", "aws:principalarn"}
RESOURCE_PERIMETER = {"aws:resourceaccount", "aws:resourceorgid"}


def _endpoint_policy(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """An endpoint with no policy lets everything through (AWS's default is full access). Each Allow must
    name whose credentials pass (principal perimeter), and one that allows any action on any resource
    must also bound the resources' owner (resource perimeter). Inline or a standalone VpcEndpointPolicy."""
    for endpoint in stack.of_type(ENDPOINT):
        with stack.deciding(endpoint):
            service = str(endpoint.get("serviceName") or "?").split(".", 3)[-1]
            standalone = related(stack, ENDPOINT_POLICY, "vpcEndpointId", endpoint)
            documents = [p.get("policy") for p in standalone] or [endpoint.get("policy")]
            if all(d is None for d in documents):
                yield (
                    endpoint.urn,
                    f"the {service} endpoint has no policy: AWS's default lets any credentials reach any resource",
                )
            for document in documents:
                for statement in statements(document):
                    if statement["Effect"] != "Allow":
                        continue
                    sid, keys = statement.get("Sid", "?"), condition_keys(statement)
                    if not keys & PRINCIPAL_PERIMETER:
                        yield (
                            endpoint.urn,
                            f"the {service} endpoint's statement {sid} lets any account's credentials through",
                        )
                    elif "*" in statement["Action"] and "*" in statement["Resource"] and not keys & RESOURCE_PERIMETER:
                        yield (
                            endpoint.urn,
                            f"the {service} endpoint's statement {sid} lets any action reach any account's resources",
                        )


def _egress_filtered(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The tier that runs workloads (route tables tagged `Tier=app`) sends its default route to a
    firewall endpoint, never straight to a NAT or internet gateway: inline routes and `aws.ec2.Route`."""
    tier = str(config.get("workloadTier") or "app")
    for table in stack.of_type(ROUTE_TABLE):
        with stack.deciding(table):
            if tags_of(table).get("Tier") != tier:
                continue
            routes = [(table, r) for r in objs(table.get("routes"))]
            routes += [(r, r.props) for r in related(stack, ROUTE, "routeTableId", table)]
            for owner, route in routes:
                if (
                    str(route.get("cidrBlock") or route.get("destinationCidrBlock") or "") not in WORLD
                    and str(route.get("ipv6CidrBlock") or route.get("destinationIpv6CidrBlock") or "") not in WORLD
                ):
                    continue
                target = next((k for k in ("natGatewayId", "gatewayId", "egressOnlyGatewayId") if route.get(k)), None)
                if target is not None:
                    yield (
                        owner.urn,
                        f"the {tier} tier's default route goes to {target} {route.get(target)} without the egress firewall",
                    )


RULES = [
    Rule(id="vpc-flow-logs", description="Every VPC logs ALL traffic with a flow log.",
         why="Flow logs are the record of who talked to what during an incident.",
         fix="Add an aws.ec2.FlowLog with traffic_type ALL (the Network component does).",
         anchors="cdk-nag AwsSolutions-VPC7; FSBP EC2.6", types=(VPC, FLOW_LOG), stack_check=_flow_logs),
    Rule(id="vpc-default-sg-closed", description="The default security group allows nothing.",
         why="Anything launched without a group would otherwise talk to everything in it.",
         fix="Adopt it with aws.ec2.DefaultSecurityGroup and no rules.", anchors="FSBP EC2.2",
         types=(DEFAULT_SG,), check=_default_sg),
    Rule(id="subnet-no-public-ip", description="No subnet assigns public IPs automatically.",
         why="A public IP by default exposes whatever is launched there.", fix="map_public_ip_on_launch=False.",
         anchors="FSBP EC2.15", types=(SUBNET,), check=_subnet),
    Rule(id="sg-no-world-ingress", description="Ingress from anywhere only on the public ports, only to an "
         "internet-facing load balancer's security group.", why="Everything else is reached through the load "
         "balancer or from inside the VPC.", fix="Reference a security group instead of a CIDR.",
         anchors="cdk-nag AwsSolutions-EC23; FSBP EC2.18, EC2.19", types=(SG, INGRESS, SG_RULE, *LB), stack_check=_world_ingress,
         config={"publicPorts": {"type": "array", "items": {"type": "integer"}, "default": [80, 443]}}),
    Rule(id="sg-described", description="Security groups and their rules say what they are for.",
         why="A rule nobody can explain is a rule nobody dares remove.", fix="Give each a description.",
         anchors="cdk-nag AwsSolutions-EC27; checkov CKV_AWS_23", severity=Severity.LOW,
         types=(SG, INGRESS, EGRESS), check=_described),
    Rule(id="vpc-endpoint-policy-scoped", description="Every VPC endpoint has a policy that passes only this "
         "account's principals, and only to this account's resources (and named AWS-owned ones).",
         why="Without one, credentials stolen elsewhere work from inside the VPC, and a task can copy card data to "
         "another account's bucket or queue through the endpoint.",
         fix="Set policy=platform_lib.iam.endpoint_policy(account, region, service).",
         anchors="PCI DSS 1.3.2, 1.4.4; aws-samples data-perimeter-policy-examples (resource and identity perimeter)",
         types=(ENDPOINT, ENDPOINT_POLICY), stack_check=_endpoint_policy),
    Rule(id="vpc-egress-filtered", description="The workload tier reaches the internet only through the egress "
         "firewall: its default routes point to a firewall endpoint, not to a NAT or internet gateway.",
         why="A direct route to NAT lets a compromised task send card data to any address on the internet.",
         fix="Declare platform:network.egress (and a firewall subnet per AZ); the network routes the app tier through it.",
         anchors="PCI DSS 1.3.2, 1.4.4; AWS Network Firewall deployment model with NAT gateway",
         types=(ROUTE_TABLE, ROUTE), stack_check=_egress_filtered,
         config={"workloadTier": {"type": "string", "default": "app"}}),
    Rule(id="elb-hardening", description="Load balancers write access logs, drop invalid headers and span two AZs.",
         why="Logs are the record of every request; invalid headers enable request smuggling.",
         fix="Use the Cluster component.", anchors="cdk-nag AwsSolutions-ELB2; FSBP ELB.4, ELB.5, ELB.13",
         types=LB, check=_load_balancer),
    Rule(id="elb-web-firewall", description="Internet-facing application load balancers have a logged WAF web "
         "ACL with the AWS common rule set.", why="The payment API and the back office face the internet; PCI "
         "DSS asks for an automated solution that detects and prevents web attacks in front of them.",
         fix="Use the WebFirewall component (components/web_firewall.py).",
         anchors="PCI DSS v4 6.4.2; FSBP ELB.16, WAF.11", types=(WEB_ACL, WEB_ACL_ASSOCIATION, WEB_ACL_LOGGING, *LB), stack_check=_web_firewall),
    Rule(id="elb-internal-apps-private", description="Routes to internal apps' target groups (tagged "
         "Exposure=internal) are only on listeners of internal load balancers.", why="The back office has "
         "read-write access to the app database; on the internet-facing load balancer only a Host header would "
         "stand between it and the internet.", fix="Set `internal: true` on the app; EcsApp routes it through "
         "the Cluster's internal load balancer.", anchors="PCI DSS v4 1.4.2",
         types=(*LISTENER_RULE, *TARGET_GROUP, *LISTENER, *LB), stack_check=_internal_routes),
    Rule(id="elb-deletion-protection", description="Load balancers are deletion-protected.",
         why="Deleting the load balancer takes every app offline and changes its DNS name.",
         fix="enable_deletion_protection=True (the prd profile does).", anchors="FSBP ELB.6", types=LB,
         check=_lb_deletion),
    Rule(id="elb-tls", description="HTTP listeners only redirect to HTTPS; HTTPS listeners use an ACM certificate "
         "and a TLS 1.2+ policy.", why="Card data must never cross the internet in plain text or with weak TLS.",
         fix="Use the Cluster component's listeners.", anchors="FSBP ELB.1; checkov CKV_AWS_103, CKV2_AWS_20",
         types=LISTENER, check=_listener),
]  # fmt: skip
