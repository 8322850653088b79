"""The platform: every area, wired together in this one place.

Components never read config or reach into each other; this composition passes each one the
outputs and small interfaces it needs (subnet ids, security group ids, secret ARNs).
"""

from __future__ import annotations

import pulumi

from components.config import PlatformConfig
from components.context import StackContext
from components.database import Database, DatabaseArgs
from components.network import Network, NetworkArgs
from components.providers import aws_provider


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Platform", name, None, opts)
        self.context = ctx = StackContext.from_config(config)
        self.aws = aws_provider(
            f"{name}-aws", region=ctx.region, general=config.general, opts=pulumi.ResourceOptions(parent=self)
        )
        primary = pulumi.ResourceOptions(parent=self, providers={"aws": self.aws})

        self.network = Network("network", NetworkArgs(context=ctx, settings=config.network), opts=primary)
        self.databases = {
            name: Database(
                name,
                DatabaseArgs(
                    context=ctx,
                    settings=settings,
                    vpc_id=self.network.vpc_id,
                    db_subnet_ids=self.network.db_subnet_ids,
                ),
                opts=primary,
            )
            for name, settings in sorted(config.databases.items())
        }

        self.register_outputs({"vpc_id": self.network.vpc_id})
