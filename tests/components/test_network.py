"""The network of both stacks on the mock runtime: tiers, routes, NAT, endpoints, flow logs."""

from __future__ import annotations

import pytest

from platform_config.network import DEFAULT_INTERFACE_ENDPOINTS, EgressConfig, NetworkConfig
from platform_config.profiles import PROFILES
from tests.conftest import config_of, policy_of, run_component
from tools.mock_runtime import ProgramRun, RecordedResource

AZS = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
ACCOUNTS = {"stg": "210987654321", "prd": "123456789012"}
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
        if resource.custom:  # a component (the egress firewall) has no provider of its own
            assert resource.provider.split("::")[-2] == "platform-aws", resource.name


def test_vpc_has_dns_for_private_endpoints(platform: ProgramRun) -> None:
    (vpc,) = platform.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == VPC_CIDR[platform.stack]
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True


def test_every_tier_of_the_config_per_az_and_no_public_ips(platform: ProgramRun) -> None:
    subnets = by_name(platform, "aws:ec2/subnet:Subnet")
    layout = config_of(platform).network.layout()
    assert sorted(subnets) == sorted(f"network-subnet-{tier}-{az}" for az, tiers in layout.items() for tier in tiers)
    assert all({"public", "app", "db"} <= set(tiers) for tiers in layout.values())
    for name, subnet in subnets.items():
        assert subnet.inputs["availabilityZone"] == name.split("-", 3)[3]
        assert subnet.inputs["mapPublicIpOnLaunch"] is False


def network_run(
    settings: NetworkConfig, *, environment: str = "stg", platform_egress: tuple[str, ...] = ()
) -> ProgramRun:
    from components.network import Network, NetworkArgs
    from platform_config.context import StackContext
    from platform_config.profiles import PROFILES

    ctx = StackContext(
        environment=environment,
        region="ap-northeast-1",
        account_id=ACCOUNTS[environment],
        profile=PROFILES[environment],
    )
    return run_component(
        lambda: Network("network", NetworkArgs(context=ctx, settings=settings, platform_egress=platform_egress)),
        stack=environment,
    )


def without_egress(settings: NetworkConfig) -> NetworkConfig:
    azs = {az: subnets.model_copy(update={"firewall": None}) for az, subnets in settings.azs.items()}
    return settings.model_copy(update={"egress": None, "azs": azs})


def default_routes(run: ProgramRun) -> dict[str, dict[str, object]]:
    """`<tier>-<az>` -> the target of its route table's 0.0.0.0/0 route (absent: no way out)."""
    tables = {r.name.removeprefix("network-rt-"): f"{r.name}-id" for r in run.of_type("aws:ec2/routeTable:RouteTable")}
    routes = [r.inputs for r in run.of_type("aws:ec2/route:Route") if r.inputs["destinationCidrBlock"] == "0.0.0.0/0"]
    by_table = {route["routeTableId"]: route for route in routes}
    return {key: by_table[table] for key, table in tables.items() if table in by_table}


def endpoint_of(az: str) -> str:
    """The mock runtime's id of the firewall endpoint in `az`'s firewall subnet (tools/mocks.py)."""
    return f"vpce-networksubnetfirewall{az.replace('-', '')}id"


def test_each_subnet_has_its_own_route_table(platform: ProgramRun) -> None:
    associations = {
        r.inputs["subnetId"]: r.inputs["routeTableId"]
        for r in platform.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    subnets = [r.name.removeprefix("network-subnet-") for r in platform.of_type("aws:ec2/subnet:Subnet")]
    assert {associations[f"network-subnet-{key}-id"] for key in subnets} == {f"network-rt-{key}-id" for key in subnets}


def test_with_egress_filtering_the_app_tier_leaves_only_through_its_azs_firewall_endpoint(platform: ProgramRun) -> None:
    settings = config_of(platform).network
    assert settings.egress is not None, "both stacks filter egress"
    routes = default_routes(platform)
    for az in settings.azs:
        assert routes[f"app-{az}"].get("vpcEndpointId") == endpoint_of(az)
        assert "natGatewayId" not in routes[f"app-{az}"]
        assert str(routes[f"firewall-{az}"]["natGatewayId"]).startswith("network-nat-")
        assert routes[f"public-{az}"]["gatewayId"] == "network-igw-id"
        assert f"db-{az}" not in routes, "the db tier must have no route out of the VPC"
    # The way back: every public table sends each app CIDR to that AZ's endpoint (symmetric for the
    # stateful engine), whichever NAT the traffic left through.
    returns = [r.inputs for r in platform.of_type("aws:ec2/route:Route") if r.name.count("-return-app-")]
    for public_az in settings.azs:
        for app_az, subnets in settings.azs.items():
            (route,) = [r for r in returns if r["routeTableId"] == f"network-rt-public-{public_az}-id"
                        and r["destinationCidrBlock"] == str(subnets.app)]  # fmt: skip
            assert route["vpcEndpointId"] == endpoint_of(app_az)


def test_without_egress_filtering_the_app_tier_routes_to_nat_and_there_is_no_firewall(stg: ProgramRun) -> None:
    run = network_run(without_egress(config_of(stg).network))
    routes = default_routes(run)
    for az in config_of(stg).network.azs:
        assert str(routes[f"app-{az}"]["natGatewayId"]).startswith("network-nat-")
        assert f"firewall-{az}" not in routes
    assert not run.of_type("aws:networkfirewall/firewall:Firewall")
    assert not [r for r in run.of_type("aws:ec2/route:Route") if "-return-app-" in r.name]


@pytest.mark.parametrize(("mode", "actions"), [("enforce", ["aws:drop_established", "aws:alert_established"]),
                                               ("alert", ["aws:alert_established"])])  # fmt: skip
def test_the_firewall_passes_only_the_allowed_names_and_drops_and_logs_the_rest(
    stg: ProgramRun, mode: str, actions: list[str]
) -> None:
    settings = config_of(stg).network
    egress = EgressConfig(allowed_domains=("api.card-network.example", ".acquirer.example"), mode=mode)  # type: ignore[arg-type]
    run = network_run(settings.model_copy(update={"egress": egress}), platform_egress=(".ap1.datadoghq.com",))
    (group,) = run.of_type("aws:networkfirewall/ruleGroup:RuleGroup")
    listed = group.inputs["ruleGroup"]["rulesSource"]["rulesSourceList"]
    assert listed["generatedRulesType"] == "ALLOWLIST"
    assert sorted(listed["targetTypes"]) == ["HTTP_HOST", "TLS_SNI"]
    assert listed["targets"] == [".acquirer.example", ".ap1.datadoghq.com", "api.card-network.example"]
    assert group.inputs["capacity"] >= 2 * len(listed["targets"])
    (policy,) = run.of_type("aws:networkfirewall/firewallPolicy:FirewallPolicy")
    document = policy.inputs["firewallPolicy"]
    assert document["statelessDefaultActions"] == document["statelessFragmentDefaultActions"] == ["aws:forward_to_sfe"]
    assert document["statefulEngineOptions"] == {"ruleOrder": "STRICT_ORDER"}
    assert document["statefulDefaultActions"] == actions
    (firewall,) = run.of_type("aws:networkfirewall/firewall:Firewall")
    assert sorted(m["subnetId"] for m in firewall.inputs["subnetMappings"]) == sorted(
        f"network-subnet-firewall-{az}-id" for az in settings.azs
    )
    (logging,) = run.of_type("aws:networkfirewall/loggingConfiguration:LoggingConfiguration")
    kinds = {c["logType"] for c in logging.inputs["loggingConfiguration"]["logDestinationConfigs"]}
    assert kinds == {"ALERT", "FLOW"}
    for group_resource in run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        if "egress-firewall" in group_resource.inputs["name"]:
            assert group_resource.inputs["retentionInDays"] >= PROFILES["stg"].min_audit_log_retention_days


def test_production_protects_the_firewall_from_deletion(prd: ProgramRun) -> None:
    firewall = prd.named("network-egress-firewall").inputs
    assert firewall["deleteProtection"] is True
    assert firewall["subnetChangeProtection"] is True


def test_the_platform_allows_its_datadog_site_out(platform: ProgramRun) -> None:
    (group,) = platform.of_type("aws:networkfirewall/ruleGroup:RuleGroup")
    site = config_of(platform).monitoring.datadog_site
    assert f".{site}" in group.inputs["ruleGroup"]["rulesSource"]["rulesSourceList"]["targets"]


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


def test_prd_leaves_through_the_nat_of_its_own_az(prd: ProgramRun) -> None:
    routes = default_routes(prd)
    tier = "firewall" if config_of(prd).network.egress else "app"
    for az in config_of(prd).network.azs:
        assert routes[f"{tier}-{az}"]["natGatewayId"] == f"network-nat-{az}-id"


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


def test_the_endpoint_is_found_in_the_firewalls_status_as_the_sdk_or_the_mocks_give_it() -> None:
    import pulumi_aws as aws

    from components.egress_firewall import endpoint_in

    types = aws.networkfirewall.outputs
    typed = [types.FirewallFirewallStatus(sync_states=[types.FirewallFirewallStatusSyncState(
        availability_zone="ap-northeast-1a",
        attachments=[types.FirewallFirewallStatusSyncStateAttachment(endpoint_id="vpce-1", subnet_id="subnet-a")],
    )])]  # fmt: skip
    plain = [{"syncStates": [{"attachments": [{"subnetId": "subnet-c", "endpointId": "vpce-3"}]}]}]
    assert endpoint_in(typed, "subnet-a") == "vpce-1"
    assert endpoint_in(plain, "subnet-c") == "vpce-3"
    with pytest.raises(ValueError, match="no endpoint in subnet subnet-x"):
        endpoint_in(typed, "subnet-x")
