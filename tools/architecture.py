"""The platform's architecture read from an offline snapshot: areas, components and who reaches whom.

Everything comes from the desired state (`tools.snapshot`), never from a hand-kept list, so a new app,
database client or batch appears without anyone drawing it. Wiring is read from property dependencies
(which input refers to which resource), not from IDs or ARNs, so it holds where a real preview has
unknowns. What it reads:

- regions from the providers; the VPC and its subnets by `Tier` tag and AZ;
- the load balancer, the ECS services (apps), the cron batches (their schedules), the databases,
  the mail processing task, the Lambda functions, queues, topics, tables and SES receipt rules;
- edges: security-group ingress between components (with ports), listener rules (host/path),
  receipt-rule actions, topic subscriptions, redrive policies, event-source mappings, a function's
  environment (the tables it writes, the tasks it starts), schedules (which batch they start), and
  where the Datadog monitors notify;
- PCI DSS scope: a database tagged `DataScope=card` and every component whose task definition holds
  one of its secrets.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

CARD_SCOPE_TAG = ("DataScope", "card")
TIERS = ("public", "app", "db")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Node:
    id: str
    label: tuple[str, ...]
    """Lines: the first is the name, the rest what it is."""
    shape: str
    """box, database, stadium, queue, topic, function, bucket or note."""
    group: str
    card: bool = False
    kind: str = ""
    """What it is, for merging alike members of a large group (web app, worker, batch)."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    parent: str | None = None


@dataclass
class Architecture:
    stack: str
    groups: dict[str, Group] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)

    def add_group(self, group: Group) -> None:
        self.groups.setdefault(group.id, group)

    def add_node(self, node: Node) -> None:
        self.nodes[node.id] = node

    def connect(self, source: str | None, target: str | None, label: str = "") -> None:
        """One edge per pair; labels of repeated connections are joined (a route and its port)."""
        if source is None or target is None or source == target:
            return
        old = self.edges.get((source, target))
        labels = [part for part in (old.label.split(" · ") if old and old.label else []) if part]
        if label and label not in labels:
            labels.append(label)
        self.edges[(source, target)] = Edge(source, target, " · ".join(labels))


def node_id(kind: str, name: str) -> str:
    return _ID_UNSAFE.sub("_", f"{kind}_{name}")


class _Snapshot:
    """Lookups over one snapshot's resources."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        for given in snapshot.get("resources", []):
            if not isinstance(given, dict) or not isinstance(given.get("urn"), str):
                continue
            urn = given["urn"]
            self.resources[urn] = {
                **given,
                "type": str(given.get("type") or urn.split("::")[-2].split("$")[-1]),
                "name": str(given.get("name") or urn.rsplit("::", 1)[-1]),
                "inputs": given.get("inputs") if isinstance(given.get("inputs"), dict) else {},
                "propertyDependencies": given.get("propertyDependencies")
                if isinstance(given.get("propertyDependencies"), dict)
                else {},
            }
        self.by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for resource in self.resources.values():
            self.by_type[resource["type"]].append(resource)

    def of(self, type_: str) -> list[dict[str, Any]]:
        return self.by_type.get(type_, [])

    def deps(self, resource: dict[str, Any], key: str, type_: str | None = None) -> list[dict[str, Any]]:
        found = [
            self.resources[u] for u in resource.get("propertyDependencies", {}).get(key, []) if u in self.resources
        ]
        return [r for r in found if type_ is None or r["type"] == type_]

    def ancestor(self, resource: dict[str, Any], type_: str) -> dict[str, Any] | None:
        parent = resource.get("parent")
        while parent and parent in self.resources:
            found = self.resources[parent]
            if found["type"] == type_:
                return found
            parent = found.get("parent")
        return None

    def region(self, resource: dict[str, Any]) -> str:
        provider = (resource.get("provider") or "").rsplit("::", 1)[0]
        for candidate in self.of("pulumi:providers:aws"):
            if candidate["urn"] == provider:
                return str(candidate["inputs"].get("region", "?"))
        return "?"


def read(snapshot: dict[str, Any]) -> Architecture:
    """The architecture of one snapshot."""
    snap = _Snapshot(snapshot)
    arch = Architecture(str(snapshot.get("stack", "")))
    sg_owner: dict[str, str] = {}
    _network(snap, arch)
    _load_balancer(snap, arch, sg_owner)
    _apps(snap, arch, sg_owner)
    _batches(snap, arch, sg_owner)
    _databases(snap, arch, sg_owner)
    _mail(snap, arch, sg_owner)
    _security_group_edges(snap, arch, sg_owner)
    _card_scope(snap, arch)
    _alerting(snap, arch)
    return arch


def _region_group(arch: Architecture, region: str, primary: bool) -> str:
    group = node_id("region", region)
    arch.add_group(Group(group, f"AWS {region} (primary region)" if primary else f"AWS {region}"))
    return group


def _primary_region(snap: _Snapshot) -> str:
    vpcs = snap.of("aws:ec2/vpc:Vpc")
    return snap.region(vpcs[0]) if vpcs else "?"


def _network(snap: _Snapshot, arch: Architecture) -> None:
    primary = _primary_region(snap)
    region = _region_group(arch, primary, primary=True)
    for vpc in snap.of("aws:ec2/vpc:Vpc"):
        arch.add_group(Group("vpc", f"VPC {vpc['inputs'].get('cidrBlock', '')}".strip(), region))
    subnets: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for subnet in snap.of("aws:ec2/subnet:Subnet"):
        tier = str((subnet["inputs"].get("tags") or {}).get("Tier", "other"))
        zone = str(subnet["inputs"].get("availabilityZone", "?"))
        short = zone[len(primary) - 1 :] if zone.startswith(primary) else zone  # ap-northeast-1a -> 1a
        subnets[tier].append((short, str(subnet["inputs"].get("cidrBlock", "?"))))
    for tier in sorted(subnets, key=lambda t: (TIERS.index(t) if t in TIERS else len(TIERS), t)):
        zones = " · ".join(f"{zone} {cidr}" for zone, cidr in sorted(subnets[tier]))
        arch.add_group(Group(node_id("tier", tier), f"{tier} subnets: {zones}", "vpc"))
    nats = snap.of("aws:ec2/natGateway:NatGateway")
    if nats:
        arch.add_node(Node("nat", ("NAT gateway", f"× {len(nats)}"), "box", node_id("tier", "public")))


def _load_balancer(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    for lb in snap.of("aws:lb/loadBalancer:LoadBalancer"):
        internal = bool(lb["inputs"].get("internal"))
        listeners = sorted(
            f"{listener['inputs'].get('protocol', '')} {listener['inputs'].get('port', '')}".strip()
            for listener in snap.of("aws:lb/listener:Listener")
            if lb in snap.deps(listener, "loadBalancerArn")
        )
        lb_id = node_id("lb", lb["name"])
        arch.add_node(
            Node(
                lb_id,
                ("load balancer", "internal" if internal else "internet-facing", ", ".join(listeners)),
                "box",
                node_id("tier", "app" if internal else "public"),  # drawn in the subnets it sits in
            )
        )
        for group in snap.deps(lb, "securityGroups"):
            sg_owner[group["urn"]] = lb_id


def _apps(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    target_groups: dict[str, str] = {}
    for service in snap.of("aws:ecs/service:Service"):
        component = snap.ancestor(service, "platform:apps:EcsApp")
        name = component["name"] if component else service["name"]
        app = node_id("app", name)
        kind = "web app" if service["inputs"].get("loadBalancers") else "worker"
        arch.add_group(Group("apps", "ECS apps (Fargate)", node_id("tier", "app")))
        arch.add_node(Node(app, (name, kind), "box", "apps", kind=kind))
        for group in snap.deps(service, "networkConfiguration", "aws:ec2/securityGroup:SecurityGroup"):
            sg_owner[group["urn"]] = app
        for target in snap.deps(service, "loadBalancers"):
            target_groups[target["urn"]] = app
    for rule in snap.of("aws:lb/listenerRule:ListenerRule"):
        routes = _route(rule["inputs"].get("conditions"))
        lbs = [
            node_id("lb", lb["name"])
            for listener in snap.deps(rule, "listenerArn")
            for lb in snap.deps(listener, "loadBalancerArn")
        ]
        for target in snap.deps(rule, "actions"):
            for lb in lbs or [node_id("lb", lb["name"]) for lb in snap.of("aws:lb/loadBalancer:LoadBalancer")]:
                arch.connect(lb, target_groups.get(target["urn"]), routes)


def _route(conditions: Any) -> str:
    parts: list[str] = []
    for condition in conditions if isinstance(conditions, list) else []:
        if not isinstance(condition, dict):
            continue
        for key in ("hostHeader", "pathPattern"):
            values = (condition.get(key) or {}).get("values") if isinstance(condition.get(key), dict) else None
            parts += [str(v) for v in values or []]
    return " ".join(parts)


def _batches(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    schedules: dict[str, str] = {}
    for schedule in snap.of("aws:scheduler/schedule:Schedule"):
        for machine in snap.deps(schedule, "target", "aws:sfn/stateMachine:StateMachine"):
            expression = schedule["inputs"].get("scheduleExpression", "?")
            zone = schedule["inputs"].get("scheduleExpressionTimezone", "UTC")
            schedules[machine["urn"]] = f"{expression} {zone}"
    for machine in snap.of("aws:sfn/stateMachine:StateMachine"):
        component = snap.ancestor(machine, "platform:batches:CronBatch")
        name = component["name"] if component else machine["name"]
        batch = node_id("batch", name)
        arch.add_group(Group("batches", "cron batches: Step Functions → ECS task", node_id("tier", "app")))
        arch.add_node(Node(batch, (name, schedules.get(machine["urn"], "no schedule")), "box", "batches", kind="batch"))
        if machine["urn"] in schedules:
            arch.add_node(
                Node(
                    "scheduler", ("EventBridge Scheduler",), "stadium", _region_group(arch, snap.region(machine), True)
                )
            )
            arch.connect("scheduler", batch)
        for group in snap.deps(machine, "definition", "aws:ec2/securityGroup:SecurityGroup"):
            sg_owner[group["urn"]] = batch


def _databases(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    for instance in snap.of("aws:rds/instance:Instance"):
        component = snap.ancestor(instance, "platform:database:Database")
        name = component["name"] if component else instance["name"]
        inputs = instance["inputs"]
        facts = [f"{inputs.get('engine', 'db')} {inputs.get('engineVersion', '')}".strip()]
        facts.append("multi-AZ" if inputs.get("multiAz") else "single-AZ")
        card = (inputs.get("tags") or {}).get(CARD_SCOPE_TAG[0]) == CARD_SCOPE_TAG[1]
        db = node_id("db", name)
        arch.add_node(Node(db, (name, *facts), "database", node_id("tier", "db"), card=card))
        for group in snap.deps(instance, "vpcSecurityGroupIds"):
            sg_owner[group["urn"]] = db


def _mail(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    """The mail pipeline's resources, in their region, and how mail flows through them."""
    ids = _mail_nodes(snap, arch, sg_owner)
    _mail_flow(snap, arch, ids)
    _task_role_access(snap, arch, ids)
    for function in snap.of("aws:lambda/function:Function"):
        for used in snap.deps(function, "environment"):
            if used["type"] == "aws:dynamodb/table:Table":
                arch.connect(ids.get(function["urn"]), ids.get(used["urn"]), "writes")
            elif used["urn"] in sg_owner and sg_owner[used["urn"]].startswith("task_"):
                arch.connect(ids.get(function["urn"]), sg_owner[used["urn"]], "RunTask")


def _mail_nodes(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> dict[str, str]:
    primary = _primary_region(snap)
    ids: dict[str, str] = {}

    def place(resource: dict[str, Any], kind: str, label: tuple[str, ...], shape: str) -> str:
        region = snap.region(resource)
        group = _region_group(arch, region, region == primary)
        found = node_id(kind, resource["name"])
        arch.add_node(Node(found, label, shape, group))
        ids[resource["urn"]] = found
        return found

    for processor in snap.of("platform:mail:MailProcessor"):
        task = node_id("task", processor["name"])
        arch.add_node(Node(task, (processor["name"], "ECS task, started per message"), "box", node_id("tier", "app")))
        ids[processor["urn"]] = task
        for group in snap.of("aws:ec2/securityGroup:SecurityGroup"):
            if group.get("parent") == processor["urn"]:
                sg_owner[group["urn"]] = task
    rule_sets = snap.of("aws:ses/receiptRuleSet:ReceiptRuleSet")
    for rule_set in rule_sets:
        ses = place(rule_set, "ses", ("SES receipt rules", str(rule_set["inputs"].get("ruleSetName", ""))), "stadium")
        arch.add_node(Node("senders", ("mail senders",), "stadium", "outside"))
        arch.add_group(Group("outside", "internet"))
        arch.connect("senders", ses, "SMTP")
    for resource, kind, shape in (
        *((r, "queue", "queue") for r in snap.of("aws:sqs/queue:Queue")),
        *((r, "topic", "topic") for r in snap.of("aws:sns/topic:Topic")),
        *((r, "table", "database") for r in snap.of("aws:dynamodb/table:Table")),
        *((r, "fn", "function") for r in snap.of("aws:lambda/function:Function")),
    ):
        if snap.ancestor(resource, "platform:mail:MailPipeline"):
            label = {"queue": "SQS queue", "topic": "SNS topic", "table": "DynamoDB table", "fn": "Lambda"}[kind]
            function = snap.ancestor(resource, "platform:functions:PythonFunction")
            place(resource, kind, (function["name"] if function else resource["name"], label), shape)
    for rule in snap.of("aws:ses/receiptRule:ReceiptRule"):
        for bucket in snap.deps(rule, "s3Actions", "aws:s3/bucket:Bucket"):
            if bucket["urn"] not in ids:
                place(bucket, "bucket", (bucket["name"], "S3 raw mail"), "bucket")
    return ids


def _mail_flow(snap: _Snapshot, arch: Architecture, ids: dict[str, str]) -> None:
    for rule in snap.of("aws:ses/receiptRule:ReceiptRule"):
        ses = next((ids.get(r["urn"]) for r in snap.deps(rule, "ruleSetName")), None)
        rule_name = rule["inputs"].get("name", rule["name"])
        for bucket in snap.deps(rule, "s3Actions", "aws:s3/bucket:Bucket"):
            arch.connect(ses, ids.get(bucket["urn"]), f"rule {rule_name}: store raw")
        for topic in snap.deps(rule, "s3Actions", "aws:sns/topic:Topic"):
            arch.connect(ses, ids.get(topic["urn"]), f"rule {rule_name}: notify")
        for function in snap.deps(rule, "lambdaActions"):
            arch.connect(ses, ids.get(function["urn"]), f"rule {rule_name}: invoke")
    for subscription in snap.of("aws:sns/topicSubscription:TopicSubscription"):
        for topic in snap.deps(subscription, "topic"):
            for endpoint in snap.deps(subscription, "endpoint"):
                arch.connect(
                    ids.get(topic["urn"]), ids.get(endpoint["urn"]), str(subscription["inputs"].get("protocol", ""))
                )
    for queue in snap.of("aws:sqs/queue:Queue"):
        for dead in snap.deps(queue, "redrivePolicy"):
            arch.connect(ids.get(queue["urn"]), ids.get(dead["urn"]), _receives(queue["inputs"].get("redrivePolicy")))
    for mapping in snap.of("aws:lambda/eventSourceMapping:EventSourceMapping"):
        for source in snap.deps(mapping, "eventSourceArn"):
            for function in snap.deps(mapping, "functionName"):
                arch.connect(ids.get(source["urn"]), ids.get(function["urn"]), "batches")


def _task_role_access(snap: _Snapshot, arch: Architecture, ids: dict[str, str]) -> None:
    """A task whose role's policy names a bucket on the picture reads (or writes) it."""
    owners = {
        "platform:apps:EcsApp": "app",
        "platform:batches:CronBatch": "batch",
        "platform:mail:MailProcessor": "task",
    }
    role_owner: dict[str, str] = {}
    for task in snap.of("aws:ecs/taskDefinition:TaskDefinition"):
        for type_, kind in owners.items():
            component = snap.ancestor(task, type_)
            if component is not None and node_id(kind, component["name"]) in arch.nodes:
                for role in snap.deps(task, "taskRoleArn"):
                    role_owner[role["urn"]] = node_id(kind, component["name"])
    for policy in snap.of("aws:iam/rolePolicy:RolePolicy"):
        owner = next((role_owner[r["urn"]] for r in snap.deps(policy, "role") if r["urn"] in role_owner), None)
        for bucket in snap.deps(policy, "policy", "aws:s3/bucket:Bucket"):
            if owner is None or bucket["urn"] not in ids:
                continue
            actions = _actions_on(policy["inputs"].get("policy"), str(bucket["inputs"].get("bucket", bucket["name"])))
            read_only = all(a.split(":")[-1].startswith(("Get", "List", "Head")) for a in actions)
            arch.connect(owner, ids[bucket["urn"]], "IAM: read" if read_only else "IAM: write")


def _actions_on(document: Any, name: str) -> list[str]:
    """The actions of the statements whose resources mention `name`."""
    try:
        parsed = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return []
    statements = parsed.get("Statement") if isinstance(parsed, dict) else None
    found: list[str] = []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or name not in json.dumps(statement.get("Resource", "")):
            continue
        action = statement.get("Action", [])
        found += [str(a) for a in (action if isinstance(action, list) else [action])]
    return found


def _receives(policy: Any) -> str:
    try:
        count = json.loads(policy).get("maxReceiveCount") if isinstance(policy, str) else None
    except (ValueError, AttributeError):
        count = None
    return f"after {count} receives" if count else "dead letters"


def _security_group_edges(snap: _Snapshot, arch: Architecture, sg_owner: dict[str, str]) -> None:
    """Who may open connections to whom: ingress rules between two components' security groups."""
    for rule in snap.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        inputs = rule["inputs"]
        port = _ports(inputs)
        targets = [sg_owner.get(g["urn"]) for g in snap.deps(rule, "securityGroupId")]
        sources = [sg_owner.get(g["urn"]) for g in snap.deps(rule, "referencedSecurityGroupId")]
        if inputs.get("cidrIpv4") == "0.0.0.0/0" or inputs.get("cidrIpv6") == "::/0":
            arch.add_group(Group("outside", "internet"))
            arch.add_node(Node("internet", ("internet clients",), "stadium", "outside"))
            sources = ["internet"]
        for target in targets:
            for source in sources:
                arch.connect(source, target, port)


def _ports(inputs: dict[str, Any]) -> str:
    low, high = inputs.get("fromPort"), inputs.get("toPort")
    if low is None:
        return "all ports"
    return f":{low}" if low == high or high is None else f":{low}-{high}"


def _card_scope(snap: _Snapshot, arch: Architecture) -> None:
    """The card database and every component whose task definition carries one of its secrets."""
    card_components = {
        db["urn"]
        for db in snap.of("platform:database:Database")
        if arch.nodes.get(node_id("db", db["name"]), Node("", (), "", "")).card
    }
    if not card_components:
        return
    owners = {
        "platform:apps:EcsApp": "app",
        "platform:batches:CronBatch": "batch",
        "platform:mail:MailProcessor": "task",
    }
    for task in snap.of("aws:ecs/taskDefinition:TaskDefinition"):
        secrets = snap.deps(task, "containerDefinitions", "aws:secretsmanager/secret:Secret")
        holds_card = any(
            (db := snap.ancestor(secret, "platform:database:Database")) is not None and db["urn"] in card_components
            for secret in secrets
        )
        if not holds_card:
            continue
        for type_, kind in owners.items():
            component = snap.ancestor(task, type_)
            found = arch.nodes.get(node_id(kind, component["name"])) if component else None
            if found is not None:
                arch.nodes[found.id] = Node(found.id, found.label, found.shape, found.group, True, found.kind)


def _alerting(snap: _Snapshot, arch: Architecture) -> None:
    """Datadog monitors and where they notify: PagerDuty services (paging) or chat."""
    monitors = snap.of("datadog:index/monitor:Monitor")
    if not monitors:
        return
    arch.add_group(Group("alerting", "alerting"))
    arch.add_node(Node("datadog", ("Datadog", f"{len(monitors)} monitors"), "box", "alerting"))
    handles: Counter[str] = Counter()
    for monitor in monitors:
        message = monitor["inputs"].get("message")
        for handle in sorted(set(re.findall(r"@([\w.-]+)", message if isinstance(message, str) else ""))):
            handles[handle] += 1
    for handle, count in sorted(handles.items()):
        kind, _, target = handle.partition("-")
        label = {"pagerduty": "PagerDuty", "slack": "Slack", "webhook": "webhook", "teams": "Teams"}.get(kind)
        if label is None:
            continue
        found = node_id("notify", handle)
        arch.add_node(Node(found, (label, target), "stadium", "alerting"))
        arch.connect("datadog", found, f"{count} monitors")
