"""The network of both stacks on the mock runtime: tiers, routes, NAT, endpoints, flow logs."""

from __future__ import annotations

import pytest

from platform_config.network import DEFAULT_INTERFACE_ENDPOINTS
from tests.conftest import policy_of
from tools.mock_runtime import ProgramRun, RecordedResource

AZS = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
VPC_CIDR = {"stg": "10.50.0.0/16", "prd": "10.60.0.0/16"}


def by_name(run: ProgramRun, type_token: str) -> dict[str, RecordedResource]:
    return {r.name: r for r in run.of_type(type_token)}


def test_every_aws_resource_uses_a_pinned_provider(platform: ProgramRun) -> None:
    providers = {p.name: p for p in platform.of_type("pulumi:providers:aws")}
    assert sorted(providers) == ["platform-aws", "platform-aws-mail"]
    assert providers["platform-aws"].inputs["region"] == "ap-northeast-1"
    assert providers["platform-aws-mail"].inputs["region"] == "us-east-1"
    account = {"stg": "210987654321", "prd": "123456789012"}[platform.stack]
    for provider in providers.values():
        assert provider.inputs["allowedAccountIds"] == f'["{account}"]'
        assert '"Env": "' + platform.stack + '"' in provider.inputs["defaultTags"]
    aws_resources = [r for r in platform.resources if r.custom and r.type.startswith("aws:")]
    assert aws_resources
    assert {r.provider.split("::")[-2] for r in aws_resources} == set(providers)


def test_network_is_in_the_primary_region(platform: ProgramRun) -> None:
    (network,) = platform.of_type("platform:network:Network")
    for resource in platform.children_of(network.urn):
        assert resource.provider.split("::")[-2] == "platform-aws"


def test_vpc_has_dns_for_private_endpoints(platform: ProgramRun) -> None:
    (vpc,) = platform.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == VPC_CIDR[platform.stack]
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


def test_three_tiers_per_az_and_no_public_ips(platform: ProgramRun) -> None:
    subnets = by_name(platform, "aws:ec2/subnet:Subnet")
    assert sorted(subnets) == sorted(f"network-subnet-{tier}-{az}" for tier in ("public", "app", "db") for az in AZS)
    for name, subnet in subnets.items():
        assert subnet.inputs["availabilityZone"] == name.split("-", 3)[3]
        assert subnet.inputs["mapPublicIpOnLaunch"] is False


def test_a_route_table_per_az_and_tier_with_the_right_default_route(platform: ProgramRun) -> None:
    tables = by_name(platform, "aws:ec2/routeTable:RouteTable")
    assert len(tables) == 9
    associations = {
        r.inputs["subnetId"]: r.inputs["routeTableId"]
        for r in platform.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    routes = platform.of_type("aws:ec2/route:Route")
    for tier in ("public", "app", "db"):
        for az in AZS:
            table_id = f"network-rt-{tier}-{az}-id"
            assert associations[f"network-subnet-{tier}-{az}-id"] == table_id
            defaults = [r for r in routes if r.inputs["routeTableId"] == table_id]
            if tier == "public":
                assert [r.inputs.get("gatewayId") for r in defaults] == ["network-igw-id"]
            elif tier == "app":
                assert len(defaults) == 1
                assert defaults[0].inputs["natGatewayId"].startswith("network-nat-")
            else:
                assert defaults == [], "the db tier must have no route out of the VPC"


def test_db_tier_has_no_internet_route(platform: ProgramRun) -> None:
    db_tables = {f"network-rt-db-{az}-id" for az in AZS}
    assert not [r for r in platform.of_type("aws:ec2/route:Route") if r.inputs["routeTableId"] in db_tables]


@pytest.mark.parametrize(("stack", "count"), [("stg", 1), ("prd", 3)])
def test_nat_gateways_per_environment(stack: str, count: int) -> None:
    from tests.conftest import stack_run

    run = stack_run(stack)
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == count
    assert len(run.of_type("aws:ec2/eip:Eip")) == count
    assert {n.inputs["subnetId"] for n in nats} <= {f"network-subnet-public-{az}-id" for az in AZS}


def test_prd_app_tier_routes_through_its_own_az_nat(prd: ProgramRun) -> None:
    for az in AZS:
        (route,) = [r for r in prd.of_type("aws:ec2/route:Route") if r.name == f"network-route-app-{az}-nat"]
        assert route.inputs["natGatewayId"] == f"network-nat-{az}-id"


def test_s3_gateway_endpoint_serves_the_app_tier(platform: ProgramRun) -> None:
    endpoints = by_name(platform, "aws:ec2/vpcEndpoint:VpcEndpoint")
    s3 = endpoints["network-endpoint-s3"]
    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert s3.inputs["serviceName"] == "com.amazonaws.ap-northeast-1.s3"
    assert sorted(s3.inputs["routeTableIds"]) == [f"network-rt-app-{az}-id" for az in AZS]


def test_interface_endpoints_use_private_dns_and_their_own_security_group(platform: ProgramRun) -> None:
    interface = [
        r for r in platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Interface"
    ]
    services = sorted(r.inputs["serviceName"].removeprefix("com.amazonaws.ap-northeast-1.") for r in interface)
    assert services == sorted(DEFAULT_INTERFACE_ENDPOINTS)
    assert set(services) >= {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages", "sts"}
    for endpoint in interface:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == ["network-endpoints-sg-id"]
        assert sorted(endpoint.inputs["subnetIds"]) == [f"network-subnet-app-{az}-id" for az in AZS]


ACCOUNTS = {"stg": "210987654321", "prd": "123456789012"}
ATTACKER = "999988887777"


def test_every_endpoint_passes_only_this_accounts_principals_to_this_accounts_resources(platform: ProgramRun) -> None:
    """What a task calls through each endpoint, and the two ways out: foreign credentials used inside the
    VPC, and this account's credentials writing to a foreign account's resource."""
    from tests.iam_eval import Request, endpoint_allows

    account = ACCOUNTS[platform.stack.split("+")[0]]
    ours, theirs = f"arn:aws:iam::{account}:role/api-task-role-1a2b3c4", f"arn:aws:iam::{ATTACKER}:role/x"
    calls = {
        "s3": ("s3:PutObject", "arn:aws:s3:::mail-bucket/in/1"),
        "ecr.api": ("ecr:BatchGetImage", f"arn:aws:ecr:ap-northeast-1:{account}:repository/api"),
        "ecr.dkr": ("ecr:GetDownloadUrlForLayer", f"arn:aws:ecr:ap-northeast-1:{account}:repository/api"),
        "logs": ("logs:PutLogEvents", f"arn:aws:logs:ap-northeast-1:{account}:log-group:/x:log-stream:y"),
        "secretsmanager": (
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:ap-northeast-1:{account}:secret:s",
        ),
        "ssmmessages": ("ssmmessages:OpenDataChannel", "*"),
        "sts": ("sts:AssumeRole", f"arn:aws:iam::{account}:role/platform-stg-sre"),
    }
    for endpoint in platform.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        service = endpoint.inputs["serviceName"].removeprefix("com.amazonaws.ap-northeast-1.")
        if service not in calls:
            continue
        action, resource = calls[service]
        owner = {"aws:ResourceAccount": account} if resource.startswith("arn:aws:s3") else {}
        document = endpoint.inputs["policy"]
        assert endpoint_allows(Request(ours, action, resource, owner), document), service
        assert not endpoint_allows(Request(theirs, action, resource, owner), document), service
        if resource != "*":
            foreign = {"aws:ResourceAccount": ATTACKER}
            assert not endpoint_allows(Request(ours, action, resource, foreign), document), service
    s3 = by_name(platform, "aws:ec2/vpcEndpoint:VpcEndpoint")["network-endpoint-s3"].inputs["policy"]
    layers = "arn:aws:s3:::prod-ap-northeast-1-starport-layer-bucket/sha256/abc"
    assert endpoint_allows(Request(ours, "s3:GetObject", layers, {"aws:ResourceAccount": "894645544227"}), s3)
    assert not endpoint_allows(Request(ours, "s3:PutObject", layers, {"aws:ResourceAccount": "894645544227"}), s3)


def test_endpoint_security_group_allows_only_https_from_the_vpc(platform: ProgramRun) -> None:
    rules = [
        r
        for r in platform.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == "network-endpoints-sg-id"
    ]
    assert [
        (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in rules
    ] == [("tcp", 443, 443, VPC_CIDR[platform.stack])]
    (group,) = [r for r in platform.of_type("aws:ec2/securityGroup:SecurityGroup") if r.name == "network-endpoints-sg"]
    assert "ingress" not in group.inputs
    assert "egress" not in group.inputs


def test_default_security_group_is_emptied(platform: ProgramRun) -> None:
    (default,) = platform.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress")
    assert not default.inputs.get("egress")


@pytest.mark.parametrize(("stack", "retention"), [("stg", 30), ("prd", 365)])
def test_flow_logs_capture_all_traffic_with_retention(stack: str, retention: int) -> None:
    from tests.conftest import stack_run

    run = stack_run(stack)
    (flow_log,) = run.of_type("aws:ec2/flowLog:FlowLog")
    (group,) = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "network-flow-logs"]
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"].endswith(f":log-group:/platform/{stack}/vpc-flow-logs")
    assert group.inputs["retentionInDays"] == retention


def test_flow_log_role_trusts_only_the_service_in_this_account(platform: ProgramRun) -> None:
    role = platform.named("network-flow-logs-role")
    trust = policy_of(role.inputs, "assumeRolePolicy")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    account = platform.named("platform-aws").inputs["allowedAccountIds"].strip('[]"')
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    policy = policy_of(platform.named("network-flow-logs-delivery").inputs)
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert "*" not in actions
    assert not any(a.endswith(":*") for a in actions)
    delivery = next(s for s in policy["Statement"] if s["Sid"] == "DeliverToFlowLogGroup")
    assert all("/platform/" + platform.stack + "/vpc-flow-logs" in arn for arn in delivery["Resource"])


def test_stack_outputs(platform: ProgramRun) -> None:
    assert platform.outputs["vpcId"] == "network-vpc-id"
    for tier in ("public", "app", "db"):
        assert platform.outputs[f"{tier}SubnetIds"] == [f"network-subnet-{tier}-{az}-id" for az in AZS]
    assert platform.outputs["endpointSecurityGroupId"] == "network-endpoints-sg-id"


def test_components_parent_their_children(platform: ProgramRun) -> None:
    (network,) = platform.of_type("platform:network:Network")
    children = platform.children_of(network.urn)
    assert len(children) > 40
    orphans = [r.name for r in platform.resources if r.custom and not r.parent]
    assert orphans == []
