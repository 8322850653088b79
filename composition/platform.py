"""The platform: every area, wired together in this one place.

Components never read config or reach into each other; this composition passes each one the
outputs and small interfaces it needs (subnet ids, security group ids, secret ARNs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_pagerduty as pagerduty

from components.base import Component, Out
from components.batches import Batches, BatchesArgs
from components.cluster import Cluster, ClusterArgs
from components.connections import Connectable, connect
from components.cron_batch import BatchSpec
from components.database import Database, DatabaseArgs
from components.ecs_app import EcsApp, EcsAppArgs
from components.fargate_task import ContainerSecret, ImageRef
from components.mail import MailPipeline, MailPipelineArgs
from components.network import Network, NetworkArgs
from components.oncall import OnCall, OnCallArgs
from components.providers import aws_provider
from components.secrets import SecretRef
from components.web_firewall import WebFirewall, WebFirewallArgs
from platform_config import PlatformConfig
from platform_config.alert_catalog import alert_catalog
from platform_config.apps import AppConfig, SecretSource
from platform_config.batches import BatchConfig
from platform_config.checks import MAIL_CLIENT
from platform_config.context import StackContext

if TYPE_CHECKING:
    from components.monitoring import Monitoring


@dataclass(frozen=True)
class PlatformSecrets:
    """Secure stack config, read by the program with `require_secret` and handed in here."""

    datadog_api_key: pulumi.Input[str]
    datadog_app_key: pulumi.Input[str]
    datadog_external_id: pulumi.Input[str]
    pagerduty_token: pulumi.Input[str] | None = None
    """Only stacks with on-call (prd) need it."""


class Platform(Component, token="platform:index:Platform"):
    """The whole platform of one stack, built from its validated config: the one place that wires
    components to each other (networks to apps, databases to their clients, alerts to on-call)."""

    vpc_id: Out[pulumi.Output[str]]
    alb_dns_name: Out[pulumi.Output[str]]

    def __init__(
        self, name: str, config: PlatformConfig, secrets: PlatformSecrets, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, opts)
        self.config = config
        self.context = ctx = StackContext.from_config(config)
        self.aws = aws_provider(f"{name}-aws", region=ctx.region, general=config.general, opts=self.child())
        primary = pulumi.ResourceOptions(parent=self, providers={"aws": self.aws})

        # The agents and log routers send to the Datadog site: the one internet name the platform itself needs.
        egress = (f".{config.monitoring.datadog_site}",)
        self.network = network = Network(
            "network", NetworkArgs(context=ctx, settings=config.network, platform_egress=egress), opts=primary
        )
        self.databases = {
            name: Database(
                name,
                DatabaseArgs(
                    context=ctx, settings=settings, vpc_id=network.vpc_id, db_subnet_ids=network.db_subnet_ids
                ),
                opts=primary,
            )
            for name, settings in sorted(config.databases.items())
        }
        self.cluster = Cluster(
            "cluster",
            ClusterArgs(
                context=ctx,
                load_balancer=config.apps.load_balancer,
                vpc_id=network.vpc_id,
                public_subnet_ids=network.public_subnet_ids,
                app_subnet_ids=network.app_subnet_ids,
                datadog_site=config.monitoring.datadog_site,
                datadog_api_key=secrets.datadog_api_key,
            ),
            opts=primary,
        )
        self.web_firewall = WebFirewall(
            "web-firewall",
            WebFirewallArgs(
                context=ctx,
                settings=config.apps.load_balancer.waf,
                load_balancer_arn=self.cluster.alb.arn,
                log_key_arn=self.cluster.key.arn,
            ),
            opts=primary,
        )
        self.apps: dict[str, EcsApp] = {}
        # Apps with their own repository first, so that apps running another app's image can refer to it.
        for app_name, app in sorted(config.apps.services.items(), key=lambda item: (_borrows_image(*item), item[0])):
            self.apps[app_name] = EcsApp(
                app_name,
                EcsAppArgs(
                    context=ctx,
                    settings=app,
                    cluster=self.cluster,
                    vpc_id=network.vpc_id,
                    app_subnet_ids=network.app_subnet_ids,
                    team=config.general.owner,
                    image=self._borrowed_image(app_name, app),
                    secrets={env: self.container_secret(source) for env, source in sorted(app.secrets.items())},
                ),
                opts=primary,
            )
        self.batches = Batches(
            "batches",
            BatchesArgs(
                context=ctx,
                cluster=self.cluster,
                vpc_id=network.vpc_id,
                app_subnet_ids=network.app_subnet_ids,
                team=config.general.owner,
                specs={name: self._batch_spec(batch) for name, batch in sorted(config.batches.items())},
            ),
            opts=primary,
        )
        self.mail = self._mail_pipeline(name) if config.mail is not None else None
        self._connect_databases()
        self.oncall = self._oncall(name, secrets)
        self.monitoring = self._monitoring(name, secrets)

        self.vpc_id = network.vpc_id
        self.alb_dns_name = self.cluster.alb_dns_name
        self.finish()

    def container_secret(self, source: SecretSource) -> ContainerSecret:
        """A config secret reference as ECS `valueFrom` plus what IAM must allow to read it."""
        suffix = f":{source.key}::" if source.key else ""
        if source.database is not None and source.user is not None:
            ref = self.databases[source.database].secret_ref(source.user)
            return ContainerSecret(value_from=pulumi.Output.concat(ref.arn, suffix), ref=ref)
        assert source.name is not None
        # A secret made outside this program: ECS takes its name-based ARN; IAM needs the random suffix wildcard.
        arn = self.context.arn("secretsmanager", f"secret:{source.name}")
        return ContainerSecret(
            value_from=f"{arn}{suffix}", ref=SecretRef(arn=f"{arn}-??????", kms_key_arn=source.kms_key_arn)
        )

    def _borrowed_image(self, app_name: str, app: AppConfig) -> ImageRef | None:
        return self._app_image(app_name)[0] if _borrows_image(app_name, app) else None

    def _app_image(self, app_name: str, tag: str | None = None) -> tuple[ImageRef, str]:
        """The image `app_name` runs (at `tag`, default the app's own), and the tag."""
        app = self.config.apps.services[app_name]
        tag = tag or app.image.tag
        repository_owner = self.apps[app.image.repository or app_name]
        uri = repository_owner.repository_url.apply(lambda url: f"{url}:{tag}")
        return ImageRef(uri=uri, repository_arn=repository_owner.repository_arn), tag

    def _batch_spec(self, batch: BatchConfig) -> BatchSpec:
        """A batch runs an app's image at the app's tag (`app:`), or another tag of an app's repository."""
        if batch.app is not None:
            image, tag = self._app_image(batch.app)
        else:
            assert batch.image is not None
            assert batch.image.repository is not None
            image, tag = self._app_image(batch.image.repository, batch.image.tag)
        return BatchSpec(
            settings=batch,
            image=image,
            version=tag,
            secrets={env: self.container_secret(source) for env, source in sorted(batch.secrets.items())},
        )

    def _mail_pipeline(self, name: str) -> MailPipeline:
        settings = self.config.mail
        assert settings is not None
        self.aws_mail = aws_provider(
            f"{name}-aws-mail",
            region=settings.region,
            general=self.config.general,
            opts=self.child(),
        )
        image, tag = self._app_image(settings.processing_task.app)
        return MailPipeline(
            "mail",
            MailPipelineArgs(
                context=self.context,
                settings=settings,
                primary_provider=self.aws,
                cluster=self.cluster,
                image=image,
                version=tag,
                vpc_id=self.network.vpc_id,
                app_subnet_ids=self.network.app_subnet_ids,
                team=self.config.general.owner,
                secrets={
                    env: self.container_secret(source)
                    for env, source in sorted(settings.processing_task.secrets.items())
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": self.aws_mail}),
        )

    def _oncall(self, name: str, secrets: PlatformSecrets) -> OnCall | None:
        settings = self.config.oncall
        if settings is None or not settings.enabled:
            return None
        if secrets.pagerduty_token is None:
            raise ValueError("platform:oncall is enabled but platform:pagerdutyToken is not set")
        provider = pagerduty.Provider(f"{name}-pagerduty", token=secrets.pagerduty_token, opts=self.child())
        return OnCall(
            "oncall",
            OnCallArgs(context=self.context, settings=settings),
            opts=pulumi.ResourceOptions(parent=self, providers={"pagerduty": provider}),
        )

    def _monitoring(self, name: str, secrets: PlatformSecrets) -> Monitoring:
        # Imported here: it imports pulumi_datadog, which takes seconds, and only this step needs it.
        from components.monitoring import Monitoring, MonitoringArgs, datadog_provider

        settings = self.config.monitoring
        provider = datadog_provider(
            f"{name}-datadog",
            site=settings.datadog_site,
            api_key=secrets.datadog_api_key,
            app_key=secrets.datadog_app_key,
            parent=self,
        )
        return Monitoring(
            "monitoring",
            MonitoringArgs(
                context=self.context,
                settings=settings,
                team=self.config.general.owner,
                alerts=alert_catalog(self.config),
                pagerduty=self.oncall.routes if self.oncall is not None else {},
                datadog_external_id=secrets.datadog_external_id,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"datadog": provider, "aws": self.aws}),
        )

    def _connect_databases(self) -> None:
        """Each database accepts its configured clients (apps and batches), and those clients may reach it."""
        clients: dict[str, Connectable] = {**self.apps, **self.batches.batches}
        if self.mail is not None:
            clients[MAIL_CLIENT] = self.mail
        for db_name, database in self.databases.items():
            for client_name in self.config.databases[db_name].clients:
                connect(clients[client_name], database)


def _borrows_image(app_name: str, app: AppConfig) -> bool:
    return app.image.repository not in (None, app_name)
