"""The ECS cluster, the internet-facing load balancer of web apps, and the internal one of back offices.

The cluster encrypts and logs ECS Exec sessions; each load balancer terminates TLS with a current
policy, drops invalid headers and writes access logs to a private, versioned bucket. The public one
redirects HTTP; the internal one sits in the app subnets and admits only the operator networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.access import role_arn, role_keys
from components.base import Component, Out
from components.buckets import PrivateBucket, PrivateBucketArgs
from components.secrets import SecretRef, as_secret
from components.task_roles import TASK_ROLE_SUFFIX
from components.web_firewall import waf_log_group_name
from platform_config.apps import LoadBalancerConfig
from platform_config.context import StackContext
from platform_config.tags import component_tags
from platform_lib.containers import SIDECAR_CACHE_PREFIX, SIDECAR_UPSTREAM, DatadogSettings
from platform_lib.iam import exec_session_statements, logs_may_encrypt, service_only_key_policy, statement

HTTP, HTTPS = 80, 443
ELB_LOG_ACCOUNTS = {
    "ap-northeast-1": "582318560864",
    "ap-northeast-3": "383597477331",
    "us-east-1": "127311923021",
    "us-west-2": "797873946194",
    "eu-west-1": "156460612806",
}
"""Regions opened before August 2022 deliver ALB logs as this ELB account; newer ones use the
`logdelivery.elasticloadbalancing.amazonaws.com` service principal."""
ACCESS_LOG_PREFIX = "alb"
"""Both load balancers log under it (the internal one in `alb/internal`), so one expiry rule keeps both."""


EXEC_OPERATORS = ("developer", "sre")
"""The bootstrap's people roles that may open an ECS Exec session (the developer role exists in stg only)."""


def access_log_prefix(*, internal: bool) -> str:
    return f"{ACCESS_LOG_PREFIX}/internal" if internal else ACCESS_LOG_PREFIX


@dataclass(frozen=True, kw_only=True)
class Front:
    """Where a web app's route attaches: one load balancer, its HTTPS listener and its security group."""

    internal: bool
    name: str
    load_balancer: aws.lb.LoadBalancer
    listener_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    dns_name: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    context: StackContext
    load_balancer: LoadBalancerConfig
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    app_subnet_ids: pulumi.Input[Sequence[str]]
    """Where the internal load balancer (if any) sits, next to the tasks it serves."""
    datadog_site: str
    datadog_api_key: pulumi.Input[str]
    """The Datadog API key (a Pulumi secret); stored once in Secrets Manager for every task's sidecars."""


class Cluster(Component, token="platform:apps:Cluster"):
    """The ECS cluster, its exec key and log, the public load balancer and the Datadog key secret.

    `datadog` (site and API key secret) and `datadog_secret` are what tasks read."""

    cluster_arn: Out[pulumi.Output[str]]
    cluster_name: Out[str]
    https_listener_arn: Out[pulumi.Output[str]]
    alb_security_group_id: Out[pulumi.Output[str]]
    alb_dns_name: Out[pulumi.Output[str]]
    exec_key_arn: Out[pulumi.Output[str]]
    exec_log_group_arn: Out[pulumi.Output[str]]
    sidecar_registry: Out[pulumi.Output[str]]
    """`<account>.dkr.ecr.<region>.amazonaws.com/ecr-public`: where tasks pull the sidecar images from."""
    sidecar_repositories_arn: Out[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._context = ctx = args.context
        protect = ctx.profile.protect_stateful
        self.tags = component_tags(service="platform", component="cluster")
        self.cluster_name = ctx.physical_name()

        exec_logs = f"/platform/{ctx.environment}/ecs-exec"
        # Who may use the key, and how: the account administers it; task secrets (the Datadog key) are read
        # only through Secrets Manager; ECS Exec sessions are opened by the operators and decrypted by the
        # task roles, directly; CloudWatch Logs encrypts the exec transcripts (whatever an operator typed
        # and saw in a task, card data included) and the WAF logs, each for its own log group only.
        operators = [role_arn(ctx.account_id, ctx.environment, key) for key in EXEC_OPERATORS if key in
                     role_keys(ctx.environment, developers=True)]  # fmt: skip
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{self.cluster_name}: ECS Exec sessions and their transcripts, shared task secrets",
            enable_key_rotation=True,
            deletion_window_in_days=ctx.profile.kms_deletion_window_days,
            policy=service_only_key_policy(
                ctx.account_id,
                ctx.region,
                ["secretsmanager"],
                *exec_session_statements(
                    ctx.account_id,
                    task_roles=ctx.arn("iam", f"role/*{TASK_ROLE_SUFFIX}-*", global_=True),
                    operators=operators,
                ),
                logs_may_encrypt(
                    "LogsEncryptsTheExecTranscripts", ctx.region, ctx.arn("logs", f"log-group:{exec_logs}")
                ),
                logs_may_encrypt(
                    "LogsEncryptsTheWafLogs", ctx.region, ctx.arn("logs", f"log-group:{waf_log_group_name(ctx)}")
                ),
            ),
            tags=self.tags,
            opts=self.child(protect=protect),
        )
        self.exec_log_group = aws.cloudwatch.LogGroup(
            f"{name}-exec-logs",
            name=exec_logs,
            retention_in_days=ctx.profile.log_retention_days,
            kms_key_id=self.key.arn,
            tags=self.tags,
            opts=self.child(),
        )
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=self.cluster_name,
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enabled")],
            configuration=aws.ecs.ClusterConfigurationArgs(
                execute_command_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationArgs(
                    kms_key_id=self.key.arn,
                    logging="OVERRIDE",
                    log_configuration=aws.ecs.ClusterConfigurationExecuteCommandConfigurationLogConfigurationArgs(
                        cloud_watch_log_group_name=self.exec_log_group.name,
                        cloud_watch_encryption_enabled=True,
                    ),
                )
            ),
            tags=self.tags,
            opts=self.child(),
        )
        self.capacity_providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=self.cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE", base=1, weight=1
                )
            ],
            opts=self.child(),
        )
        self.datadog_api_key_secret = aws.secretsmanager.Secret(
            f"{name}-datadog-api-key",
            name=f"platform/{ctx.environment}/datadog-api-key",
            description="Datadog API key for the agent and log router sidecars",
            kms_key_id=self.key.arn,
            tags=self.tags,
            opts=self.child(),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-datadog-api-key-value",
            secret_id=self.datadog_api_key_secret.id,
            secret_string=as_secret(args.datadog_api_key),
            opts=self.child(),
        )
        self.datadog = DatadogSettings(site=args.datadog_site, api_key_secret_arn=self.datadog_api_key_secret.arn)
        self._sidecar_cache(ctx)
        self.datadog_secret = SecretRef(arn=self.datadog_api_key_secret.arn, kms_key_arn=self.key.arn)

        self._load_balancers(args, protect)

        self.cluster_arn = self.cluster.arn
        self.exec_key_arn = self.key.arn
        self.exec_log_group_arn = self.exec_log_group.arn
        self.finish()

    def _sidecar_cache(self, ctx: StackContext) -> None:
        """The sidecars come from ECR Public through this registry: repositories under `ecr-public/` are
        created on the first pull, with immutable tags (the pinned versions cannot change under a task), so
        pulls stay on the VPC endpoints and the egress allow-list needs no CDN. Default encryption and no
        tags: either would need a custom role for ECR to create the repositories (public images, no data)."""
        rule = aws.ecr.PullThroughCacheRule(
            f"{self._name}-sidecar-cache",
            ecr_repository_prefix=SIDECAR_CACHE_PREFIX,
            upstream_registry_url=SIDECAR_UPSTREAM,
            opts=self.child(),
        )
        aws.ecr.RepositoryCreationTemplate(
            f"{self._name}-sidecar-repositories",
            prefix=SIDECAR_CACHE_PREFIX,
            description="Sidecar images cached from ECR Public",
            applied_fors=["PULL_THROUGH_CACHE"],
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[
                aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                    encryption_type="KMS", kms_key=self.key.arn
                )
            ],
            resource_tags=self.tags,
            opts=self.child(),
        )
        host = f"{ctx.account_id}.dkr.ecr.{ctx.region}.amazonaws.com"
        self.sidecar_registry = pulumi.Output.concat(host, "/", rule.ecr_repository_prefix)
        self.sidecar_repositories_arn = ctx.arn("ecr", f"repository/{SIDECAR_CACHE_PREFIX}/*")

    def _load_balancers(self, args: ClusterArgs, protect: bool) -> None:
        settings = args.load_balancer
        bucket_policy = self._access_log_bucket(settings, protect)
        self.public = self._front(
            args, protect, bucket_policy, internal=False, subnet_ids=args.public_subnet_ids,
            sources=("0.0.0.0/0",), certificate_arn=settings.certificate_arn,
        )  # fmt: skip
        self.internal: Front | None = None
        if settings.internal is not None:
            self.internal = self._front(
                args, protect, bucket_policy, internal=True, subnet_ids=args.app_subnet_ids,
                sources=settings.internal.allowed_cidrs,
                certificate_arn=settings.internal.certificate_arn or settings.certificate_arn,
            )  # fmt: skip
        self.alb = self.public.load_balancer
        self.https_listener_arn = self.public.listener_arn
        self.alb_security_group_id = self.public.security_group_id
        self.alb_dns_name = self.public.dns_name
        self.alb_name = self.public.name

    def front(self, *, internal: bool) -> Front:
        """The load balancer an app's route attaches to: the internal one for `internal` apps."""
        if not internal:
            return self.public
        if self.internal is None:
            raise ValueError("an internal app needs `platform:apps.loadBalancer.internal` (the config checks say so)")
        return self.internal

    def _front(
        self,
        args: ClusterArgs,
        protect: bool,
        bucket_policy: aws.s3.BucketPolicy,
        *,
        internal: bool,
        subnet_ids: pulumi.Input[Sequence[str]],
        sources: Sequence[str],
        certificate_arn: str,
    ) -> Front:
        """One application load balancer: its security group, HTTPS listener and (public only) HTTP redirect.

        The internal one sits in the app subnets and admits only the operator networks on 443; it has no
        HTTP listener, since nobody on those networks needs the redirect badly enough to open port 80."""
        ctx, settings = self._context, args.load_balancer
        side = "internal" if internal else "public"
        name = f"{self._name}-alb" if not internal else f"{self._name}-internal-alb"
        physical_name = ctx.physical_name(side, max_length=32)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=(
                "Internal load balancer: HTTPS from the operator networks, out only to internal app tasks"
                if internal
                else "Public load balancer: HTTP and HTTPS from anywhere, out only to app tasks"
            ),
            tags={**self.tags, "Name": ctx.physical_name("alb" if not internal else "internal-alb")},
            opts=self.child(),
        )
        ports = (HTTPS,) if internal else (HTTP, HTTPS)
        for source in sources:
            for port in ports:
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-from-internet-{port}"
                    if not internal
                    else f"{name}-from-{source.replace('.', '-').replace('/', '-')}-{port}",
                    security_group_id=security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=source,
                    description=(
                        "An operator network"
                        if internal
                        else "Clients on the internet" + (" (redirected to HTTPS)" if port == HTTP else "")
                    ),
                    opts=self.child(),
                )
        load_balancer = aws.lb.LoadBalancer(
            name,
            name=physical_name,
            load_balancer_type="application",
            internal=internal,
            subnets=subnet_ids,
            security_groups=[security_group.id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=protect,
            idle_timeout=settings.idle_timeout_seconds,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=self.access_log_bucket.bucket, prefix=access_log_prefix(internal=internal), enabled=True
            ),
            tags={**self.tags, "Exposure": side},
            # ELB checks it can write to the bucket when access logs are switched on.
            opts=self.child(depends_on=[bucket_policy]),
        )
        listener = aws.lb.Listener(
            f"{self._name}-https" if not internal else f"{name}-https",
            load_balancer_arn=load_balancer.arn,
            port=HTTPS,
            protocol="HTTPS",
            ssl_policy=settings.ssl_policy,
            certificate_arn=certificate_arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="text/plain", status_code="404", message_body="Not Found"
                    ),
                )
            ],
            tags=self.tags,
            opts=self.child(),
        )
        if not internal:
            aws.lb.Listener(
                f"{self._name}-http-redirect",
                load_balancer_arn=load_balancer.arn,
                port=HTTP,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port=str(HTTPS), status_code="HTTP_301"
                        ),
                    )
                ],
                tags=self.tags,
                opts=self.child(),
            )
        return Front(
            internal=internal,
            name=physical_name,
            load_balancer=load_balancer,
            listener_arn=listener.arn,
            security_group_id=security_group.id,
            dns_name=load_balancer.dns_name,
        )

    def _access_log_bucket(self, settings: LoadBalancerConfig, protect: bool) -> aws.s3.BucketPolicy:
        ctx = self._context
        logs = PrivateBucket(
            f"{self._name}-alb-logs",
            PrivateBucketArgs(
                bucket=ctx.physical_name("alb-logs", ctx.account_id),
                expire_prefix=f"{ACCESS_LOG_PREFIX}/",
                retention_days=settings.access_log_retention_days,
                kms_key_arn=None,  # ALB access logs support SSE-S3 only
                versioned=True,  # an audit trail: an overwritten or deleted log stays recoverable as long
                noncurrent_retention_days=settings.access_log_retention_days,
                protect=protect,
                tags={**self.tags, "DataClass": "access-logs"},
            ),
            parent=self,
        )
        self.access_log_bucket = logs.bucket
        delivery = ELB_LOG_ACCOUNTS.get(ctx.region)
        principal = (
            {"AWS": f"arn:aws:iam::{delivery}:root"}
            if delivery
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        return logs.policy(
            statement(
                "ElbLogDelivery",
                ["s3:PutObject"],
                [
                    logs.objects(f"{access_log_prefix(internal=internal)}/AWSLogs/{ctx.account_id}/")
                    for internal in ((False, True) if settings.internal is not None else (False,))
                ],
                principals=principal,
            )
        )
