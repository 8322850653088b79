"""The platform program: validate the whole stack config, build the platform, export its outputs."""

import pulumi
from pulumi.runtime import config as runtime_config

from composition.platform import Platform, PlatformSecrets
from platform_config import NAMESPACE, ConfigError, load_platform_config

try:
    config = load_platform_config(
        runtime_config.CONFIG.get(),
        stack=pulumi.get_stack(),
        secret_keys={key for key in runtime_config.CONFIG.get() if runtime_config.is_config_secret(key)},
    )
except ConfigError as error:
    # RunError is the SDK's clean failure: the CLI prints the message, not a Python traceback.
    raise pulumi.RunError(str(error)) from None
secure = pulumi.Config(NAMESPACE)
secrets = PlatformSecrets(
    datadog_api_key=secure.require_secret("datadogApiKey"),
    datadog_app_key=secure.require_secret("datadogAppKey"),
    datadog_external_id=secure.require_secret("datadogExternalId"),
    pagerduty_token=secure.require_secret("pagerdutyToken") if config.oncall and config.oncall.enabled else None,
)
platform = Platform("platform", config, secrets)

pulumi.export("environment", config.environment)
pulumi.export("vpcId", platform.network.vpc_id)
pulumi.export("publicSubnetIds", platform.network.public_subnet_ids)
pulumi.export("appSubnetIds", platform.network.app_subnet_ids)
pulumi.export("dbSubnetIds", platform.network.db_subnet_ids)
pulumi.export("endpointSecurityGroupId", platform.network.endpoint_security_group_id)
pulumi.export(
    "databases",
    {
        name: {"identifier": db.identifier, "address": db.address, "secrets": db.secret_arns}
        for name, db in platform.databases.items()
    },
)
pulumi.export("loadBalancerDnsName", platform.cluster.alb_dns_name)
if platform.cluster.internal is not None:
    # Internal apps' hosts resolve to this name, in the operators' DNS (outside this program).
    pulumi.export("internalLoadBalancerDnsName", platform.cluster.internal.dns_name)
pulumi.export(
    "apps",
    {name: {"service": app.service_name, "repository": app.repository_url} for name, app in platform.apps.items()},
)
pulumi.export(
    "batches",
    {name: {"stateMachine": batch.state_machine_arn} for name, batch in platform.batches.batches.items()},
)
pulumi.export("batchFailureTopicArn", platform.batches.failure_topic_arn)
if platform.mail is not None:
    pulumi.export(
        "mail",
        {
            "region": platform.mail.region,
            "bucket": platform.mail.bucket_name,
            "queueUrl": platform.mail.queue_url,
            "deadLetterQueueUrl": platform.mail.dead_letter_queue_url,
        },
    )
pulumi.export("monitors", sorted(platform.monitoring.monitors))
