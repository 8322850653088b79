"""The VPC: three tiers of subnets per AZ, NAT, VPC endpoints and flow logs.

Subnet CIDRs come from the stack config through the pure planner in `subnet_plan`; this component
only turns the plan into resources. Child names derive from tier and AZ, never from positions, so
adding an AZ adds resources without replacing any.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.egress_firewall import EgressFirewall, EgressFirewallArgs
from platform_config.context import StackContext
from platform_config.network import NetworkConfig
from platform_config.tags import component_tags
from platform_lib.iam import endpoint_policy, policy_document, service_trust_policy, statement
from platform_lib.subnet_plan import SubnetSpec, Tier, plan_subnets

HTTPS = 443


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    context: StackContext
    settings: NetworkConfig
    platform_egress: tuple[str, ...] = ()
    """Names the platform's own sidecars reach (the Datadog site), allowed with the config's when egress
    is filtered: a developer lists only what the apps call."""


class Network(Component, token="platform:network:Network"):
    """The VPC and its tiers; see the module docstring for why names never depend on positions."""

    vpc_id: Out[pulumi.Output[str]]
    vpc_cidr: Out[str]
    public_subnet_ids: Out[pulumi.Output[list[str]]]
    app_subnet_ids: Out[pulumi.Output[list[str]]]
    db_subnet_ids: Out[pulumi.Output[list[str]]]
    endpoint_security_group_id: Out[pulumi.Output[str]]
    flow_log_group_name: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        settings = args.settings
        plan = plan_subnets(settings.vpc_cidr, settings.layout(), ctx.region)
        self.azs = sorted(settings.azs)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(settings.vpc_cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints with private DNS need both
            tags=self._tags(ctx.physical_name("vpc")),
            opts=self.child(),
        )
        # The default security group allows all traffic between its members; nothing should use it,
        # so it is adopted and emptied (Security Hub EC2.2).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags=self._tags(ctx.physical_name("default")),
            opts=self.child(),
        )
        self.subnets: dict[str, aws.ec2.Subnet] = {spec.key: self._subnet(spec) for spec in plan}
        internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=self._tags(ctx.physical_name("igw")), opts=self.child()
        )
        nat_by_az = self._nat_gateways(settings, internet_gateway)
        self.egress_firewall = (
            EgressFirewall(
                f"{name}-egress",
                EgressFirewallArgs(
                    context=ctx,
                    settings=settings.egress,
                    platform_domains=args.platform_egress,
                    vpc_id=self.vpc.id,
                    subnet_ids={az: self.subnets[f"firewall-{az}"].id for az in self.azs},
                ),
                opts=self.child(),
            )
            if settings.egress is not None
            else None
        )
        self.route_tables = self._route_tables(internet_gateway, nat_by_az, self.egress_firewall, settings)
        self.endpoint_security_group = self._endpoints(settings)
        self.flow_log_group = self._flow_logs(settings)

        self.vpc_id = self.vpc.id
        self.vpc_cidr = str(settings.vpc_cidr)
        self.public_subnet_ids = self._subnet_ids("public")
        self.app_subnet_ids = self._subnet_ids("app")
        self.db_subnet_ids = self._subnet_ids("db")
        self.endpoint_security_group_id = self.endpoint_security_group.id
        self.flow_log_group_name = self.flow_log_group.name
        self.finish()

    def _tags(self, name: str, **extra: str) -> dict[str, str]:
        return {**component_tags(service="platform", component="network", name=name), **extra}

    def _subnet_ids(self, tier: Tier) -> pulumi.Output[list[str]]:
        return pulumi.Output.all(*(self.subnets[f"{tier}-{az}"].id for az in self.azs))

    def _subnet(self, spec: SubnetSpec) -> aws.ec2.Subnet:
        return aws.ec2.Subnet(
            f"{self._name}-subnet-{spec.key}",
            vpc_id=self.vpc.id,
            cidr_block=str(spec.cidr),
            availability_zone=spec.az,
            map_public_ip_on_launch=False,  # nothing gets a public IP by accident, even in public subnets
            tags=self._tags(self._context.physical_name(spec.tier, spec.az), Tier=spec.tier),
            opts=self.child(),
        )

    def _nat_gateways(
        self, settings: NetworkConfig, internet_gateway: aws.ec2.InternetGateway
    ) -> dict[str, aws.ec2.NatGateway]:
        """AZ -> the NAT gateway its app tier routes through (one shared, or one per AZ)."""
        nat_azs = self.azs if settings.nat_gateways == "perAz" else self.azs[:1]
        gateways = {}
        for az in nat_azs:
            eip = aws.ec2.Eip(
                f"{self._name}-nat-eip-{az}",
                domain="vpc",
                tags=self._tags(self._context.physical_name("nat", az)),
                opts=self.child(depends_on=[internet_gateway]),
            )
            gateways[az] = aws.ec2.NatGateway(
                f"{self._name}-nat-{az}",
                allocation_id=eip.allocation_id,
                subnet_id=self.subnets[f"public-{az}"].id,
                tags=self._tags(self._context.physical_name("nat", az)),
                opts=self.child(depends_on=[internet_gateway]),
            )
        return {az: gateways.get(az, gateways[nat_azs[0]]) for az in self.azs}

    def _route_tables(
        self,
        internet_gateway: aws.ec2.InternetGateway,
        nat_by_az: dict[str, aws.ec2.NatGateway],
        firewall: EgressFirewall | None,
        settings: NetworkConfig,
    ) -> dict[str, aws.ec2.RouteTable]:
        """One route table per AZ and tier: public -> internet gateway, db -> nothing; app -> NAT, or, with
        egress filtering, app -> its AZ's firewall endpoint -> (firewall tier) -> NAT, and the public tier
        sends each app CIDR back through that same endpoint (symmetric, as a stateful firewall needs)."""
        tables = {}
        for key, subnet in self.subnets.items():
            tier, az = key.split("-", 1)
            table = aws.ec2.RouteTable(
                f"{self._name}-rt-{key}",
                vpc_id=self.vpc.id,
                tags=self._tags(self._context.physical_name(tier, az), Tier=tier),
                opts=self.child(),
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-rta-{key}", subnet_id=subnet.id, route_table_id=table.id, opts=self.child()
            )
            if tier == "public":
                aws.ec2.Route(
                    f"{self._name}-route-{key}-internet",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    gateway_id=internet_gateway.id,
                    opts=self.child(),
                )
                for app_az in self.azs:
                    if firewall is None:
                        break
                    aws.ec2.Route(
                        f"{self._name}-route-{key}-return-app-{app_az}",
                        route_table_id=table.id,
                        destination_cidr_block=str(settings.azs[app_az].app),
                        vpc_endpoint_id=firewall.endpoint_ids[app_az],
                        opts=self.child(),
                    )
            elif tier == "app" and firewall is not None:
                aws.ec2.Route(
                    f"{self._name}-route-{key}-firewall",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    vpc_endpoint_id=firewall.endpoint_ids[az],
                    opts=self.child(),
                )
            elif tier in ("app", "firewall"):
                aws.ec2.Route(
                    f"{self._name}-route-{key}-nat",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_by_az[az].id,
                    opts=self.child(),
                )
            tables[key] = table
        return tables

    def _endpoints(self, settings: NetworkConfig) -> aws.ec2.SecurityGroup:
        region = self._context.region
        aws.ec2.VpcEndpoint(
            f"{self._name}-endpoint-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            policy=endpoint_policy(self._context.account_id, region, "s3"),
            route_table_ids=[self.route_tables[f"app-{az}"].id for az in self.azs],
            tags=self._tags(self._context.physical_name("s3")),
            opts=self.child(),
        )
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            tags=self._tags(self._context.physical_name("endpoints")),
            opts=self.child(),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https-from-vpc",
            security_group_id=group.id,
            description="HTTPS from the VPC",
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4=str(settings.vpc_cidr),
            opts=self.child(),
        )
        for service in settings.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{self._name}-endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                policy=endpoint_policy(self._context.account_id, region, service),
                private_dns_enabled=True,
                subnet_ids=[self.subnets[f"app-{az}"].id for az in self.azs],
                security_group_ids=[group.id],
                tags=self._tags(self._context.physical_name(service.replace(".", "-"))),
                opts=self.child(),
            )
        return group

    def _flow_logs(self, settings: NetworkConfig) -> aws.cloudwatch.LogGroup:
        ctx = self._context
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/platform/{ctx.environment}/vpc-flow-logs",
            retention_in_days=settings.flow_log_retention_days,
            tags=self._tags(ctx.physical_name("flow-logs")),
            opts=self.child(),
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs-role",
            permissions_boundary=ctx.permissions_boundary_arn,
            assume_role_policy=service_trust_policy(
                "vpc-flow-logs.amazonaws.com",
                source_account=ctx.account_id,
                source_arn=ctx.arn("ec2", "vpc-flow-log/*"),
            ),
            tags=self._tags(ctx.physical_name("flow-logs")),
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs-delivery",
            role=role.id,
            policy=policy_document(
                statement(
                    "DeliverToFlowLogGroup",
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                ),
                # Delivery checks that the group exists; DescribeLogGroups cannot be scoped to one group.
                statement("FindLogGroups", ["logs:DescribeLogGroups"], [ctx.arn("logs", "log-group:*")]),
            ),
            opts=self.child(),
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=self._tags(ctx.physical_name("vpc")),
            opts=self.child(),
        )
        return log_group
