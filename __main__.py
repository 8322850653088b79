"""The platform program: validate the whole stack config, build the platform, export its outputs."""

import pulumi
from pulumi.runtime import config as runtime_config

from components.config import load_platform_config
from components.platform import Platform

config = load_platform_config(runtime_config.CONFIG.get(), stack=pulumi.get_stack())
platform = Platform("platform", config)

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
