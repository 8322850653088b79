"""A Fargate service: image repository, task definition with sidecars, roles, network, scaling.

Web apps get a target group and a listener rule on the shared load balancer (the internal one for
`internal` apps), and accept traffic only from it; workers get neither. Other resources grant this
app access through its roles (`bucket.grant_read(app.task_role)`), never the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from components.cluster import Cluster
from components.connections import Endpoint
from components.fargate_task import ContainerSecret, FargateTask, FargateTaskSpec, ImageRef
from components.task_roles import allow_egress
from platform_config.apps import AppConfig
from platform_config.context import StackContext
from platform_config.tags import component_tags
from platform_lib.containers import APP_CONTAINER, DatadogTags


@dataclass(frozen=True, kw_only=True)
class EcsAppArgs:
    context: StackContext
    settings: AppConfig
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    app_subnet_ids: pulumi.Input[Sequence[str]]
    team: str
    image: ImageRef | None = None
    """Another app's image; None runs this app's own repository at `settings.image.tag`."""
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)


class EcsApp(Component, token="platform:apps:EcsApp"):
    """One Fargate service: its repository, task, service and (for web apps) its load-balancer route.

    `task_role` and `execution_role` are the handles grants attach to; connectable (`endpoint`)."""

    repository_url: Out[pulumi.Output[str]]
    repository_arn: Out[pulumi.Output[str]]
    service_name: Out[str]
    security_group_id: Out[pulumi.Output[str]]
    log_group_name: Out[pulumi.Output[str]]
    task_definition_arn: Out[pulumi.Output[str]]

    def __init__(self, name: str, args: EcsAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        self._settings = settings = args.settings
        self._cluster = args.cluster
        self.physical_name = ctx.physical_name(name)
        self.tags = component_tags(service=name, component="ecs-app")
        if settings.routing is not None:
            # What the pack checks the wiring against: an internal app's route is on an internal listener.
            self.tags["Exposure"] = "internal" if settings.internal else "public"
        self.repository = self._repository()
        image = args.image or ImageRef(
            uri=self.repository.repository_url.apply(lambda url: f"{url}:{settings.image.tag}"),
            repository_arn=self.repository.arn,
        )
        self.task = FargateTask(
            name,
            FargateTaskSpec(
                context=ctx,
                family=self.physical_name,
                log_group_name=f"/platform/{ctx.environment}/ecs/{name}",
                cpu=settings.cpu,
                memory=settings.memory,
                architecture=settings.architecture,
                image=image,
                telemetry=self.datadog_tags(args.team),
                cluster=args.cluster,
                vpc_id=args.vpc_id,
                security_group_description=f"{self.physical_name} tasks"
                + (f": port {settings.port} from the load balancer only" if settings.routing else ": no inbound"),
                tags=self.tags,
                environment=settings.environment,
                secrets=args.secrets,
                port=settings.port,
                command=settings.command,
            ),
            parent=self,
        )
        self.log_group = self.task.log_group
        self.execution_role = self.task.execution_role
        self.task_role = self.task.task_role
        self.security_group = self.task.security_group
        self.task_definition = self.task.task_definition
        self._admit_load_balancer()
        self.target_group: aws.lb.TargetGroup | None = None
        listener_rule = None
        if settings.routing is not None:
            self.target_group, listener_rule = self._routing(args)
        self.service = self._service(args, listener_rule)
        if settings.autoscaling is not None:
            self._autoscaling()

        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.service_name = self.physical_name
        self.security_group_id = self.security_group.id
        self.log_group_name = self.log_group.name
        self.task_definition_arn = self.task_definition.arn
        self.finish()

    def datadog_tags(self, team: str) -> DatadogTags:
        return DatadogTags(
            env=self._context.environment,
            service=self._settings.datadog_service or self._name,
            version=self._settings.image.tag,
            team=team,
        )

    def _repository(self) -> aws.ecr.Repository:
        repository = aws.ecr.Repository(
            f"{self._name}-repository",
            name=self._name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            force_delete=False,
            tags=self.tags,
            opts=self.child(),
        )
        aws.ecr.LifecyclePolicy(
            f"{self._name}-repository-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": "Drop untagged layers after a week",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": 7,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "description": "Keep the last 100 releases for rollbacks",
                            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
                            "action": {"type": "expire"},
                        },
                    ]
                },
                sort_keys=True,
            ),
            opts=self.child(),
        )
        return repository

    def _admit_load_balancer(self) -> None:
        """Web apps: the container port from the load balancer, and the load balancer out to it."""
        settings, name = self._settings, self._name
        if settings.routing is None or settings.port is None:
            return
        front = self._cluster.front(internal=settings.internal)
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-alb",
            security_group_id=self.security_group.id,
            referenced_security_group_id=front.security_group_id,
            ip_protocol="tcp",
            from_port=settings.port,
            to_port=settings.port,
            description=f"The {'internal' if front.internal else 'public'} load balancer",
            opts=self.child(),
        )
        allow_egress(
            f"{name}-alb", "app", security_group_id=front.security_group_id,
            to_group_id=self.security_group.id, port=settings.port, parent=self,
        )  # fmt: skip

    @property
    def endpoint(self) -> Endpoint:
        return self.task.endpoint

    def _routing(self, args: EcsAppArgs) -> tuple[aws.lb.TargetGroup, aws.lb.ListenerRule]:
        settings, name = self._settings, self._name
        assert settings.routing is not None
        target_group = aws.lb.TargetGroup(
            f"{name}-targets",
            name=self.physical_name,
            target_type="ip",  # awsvpc tasks register by IP
            port=settings.port,
            protocol="HTTP",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=settings.health_check_path,
                matcher="200-399",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=self.tags,
            opts=self.child(),
        )
        conditions = []
        if settings.routing.hosts:
            conditions.append(
                aws.lb.ListenerRuleConditionArgs(
                    host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=list(settings.routing.hosts))
                )
            )
        if settings.routing.paths:
            conditions.append(
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(settings.routing.paths))
                )
            )
        rule = aws.lb.ListenerRule(
            f"{name}-route",
            listener_arn=self._cluster.front(internal=settings.internal).listener_arn,
            priority=settings.routing.priority,
            conditions=conditions,
            actions=[aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group.arn)],
            tags=self.tags,
            opts=self.child(),
        )
        return target_group, rule

    def _service(self, args: EcsAppArgs, listener_rule: aws.lb.ListenerRule | None) -> aws.ecs.Service:
        settings = self._settings
        strategies = [
            aws.ecs.ServiceCapacityProviderStrategyArgs(
                capacity_provider="FARGATE", base=1, weight=100 - settings.spot_percent
            )
        ]
        if settings.spot_percent:
            strategies.append(
                aws.ecs.ServiceCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE_SPOT", weight=settings.spot_percent
                )
            )
        load_balancers = None
        if self.target_group is not None and settings.port is not None:
            load_balancers = [
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=self.target_group.arn, container_name=APP_CONTAINER, container_port=settings.port
                )
            ]
        depends_on: list[pulumi.Resource] = [args.cluster.capacity_providers]
        if listener_rule is not None:
            depends_on.append(listener_rule)  # the target group must be attached before the service uses it
        return aws.ecs.Service(
            f"{self._name}-service",
            name=self.physical_name,
            cluster=args.cluster.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=settings.desired_count,
            capacity_provider_strategies=strategies,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.app_subnet_ids, security_groups=[self.security_group.id], assign_public_ip=False
            ),
            load_balancers=load_balancers,
            health_check_grace_period_seconds=settings.health_check_grace_seconds if load_balancers else None,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_execute_command=True,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            wait_for_steady_state=True,  # `pulumi up` fails when a deploy rolls back, instead of reporting success
            tags=self.tags,
            # Autoscaling owns the task count once the service exists.
            opts=self.child(
                depends_on=depends_on,
                ignore_changes=["desiredCount"] if settings.autoscaling is not None else None,
            ),
        )

    def _autoscaling(self) -> None:
        scaling = self._settings.autoscaling
        assert scaling is not None
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{self._cluster.cluster_name}/{self.physical_name}",
            min_capacity=scaling.min,
            max_capacity=scaling.max,
            opts=self.child(depends_on=[self.service]),
        )
        aws.appautoscaling.Policy(
            f"{self._name}-scaling-cpu",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=scaling.cpu_target,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization"
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
            opts=self.child(),
        )
