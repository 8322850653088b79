"""Explicit AWS providers: one per region the platform uses, each pinned to the stack's account."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from platform_config.general import GeneralConfig
from platform_config.tags import default_tags


def aws_provider(
    name: str, *, region: str, general: GeneralConfig, opts: pulumi.ResourceOptions | None = None
) -> aws.Provider:
    """An AWS provider for `region` with the platform's default tags and `allowed_account_ids`.

    The stack files disable the default AWS provider, so every AWS resource must get one of these.
    """
    return aws.Provider(
        name,
        region=region,
        allowed_account_ids=[general.account_id],
        default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags(general)),
        opts=opts,
    )
