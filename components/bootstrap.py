"""The bootstrap of one account: Pulumi state, the stack's secrets key, and access (components/access.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, TypeAdapter, ValidationError

from components.access import Access, AccessArgs
from components.buckets import PrivateBucket, PrivateBucketArgs
from components.config import ConfigError, ConfigIssue, issues_from_pydantic
from components.config.base import ConfigModel
from components.iam import Statement, policy_document, statement
from components.tags import component_tags
from platform_lib.github import REPOSITORY_PATTERN

KEY_ADMINISTRATION = [
    "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*", "kms:Enable*",
    "kms:Get*", "kms:List*", "kms:Put*", "kms:Revoke*", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:Update*",
]  # fmt: skip
"""Everything but using the key: the account administers it; only named roles encrypt and decrypt."""
KEY_USE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]


class BootstrapConfig(ConfigModel):
    environment: Literal["stg", "prd"]
    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = "ap-northeast-1"
    repository: str = Field(pattern=REPOSITORY_PATTERN)
    """`OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` where GitHub issues immutable subjects."""
    identity_account_id: str = Field(pattern=r"^\d{12}$")
    sre_principals: tuple[str, ...] = Field(min_length=1)
    developer_principals: tuple[str, ...] = ()


def load_bootstrap_config(values: Mapping[str, str], *, stack: str) -> BootstrapConfig:
    import json

    key = "platform-bootstrap:settings"
    raw = values.get(key)
    if raw is None:
        raise ConfigError([ConfigIssue(key, "required key is missing")])
    try:
        settings = TypeAdapter(BootstrapConfig).validate_python(json.loads(raw))
    except ValidationError as error:
        raise ConfigError(issues_from_pydantic(key, BootstrapConfig, error)) from None
    if settings.environment != stack:
        raise ConfigError(
            [ConfigIssue(f"{key}.environment", f"is {settings.environment!r} but the stack is {stack!r}")]
        )
    return settings


class Bootstrap(pulumi.ComponentResource):
    """Outputs: `state_bucket_name`, `backend_url`, `secrets_provider`, `access`."""

    def __init__(self, name: str, settings: BootstrapConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:bootstrap:Bootstrap", name, None, opts)
        env, account = settings.environment, settings.account_id
        tags = {**component_tags(service="platform", component="bootstrap"), "Env": env, "Project": "platform"}
        provider = aws.Provider(
            f"{name}-aws",
            region=settings.region,
            allowed_account_ids=[account],
            default_tags=aws.ProviderDefaultTagsArgs(tags={"ManagedBy": "pulumi", "Repository": settings.repository}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        # State and its key are never deleted by a refactor: everything else is rebuilt from them.
        kept = pulumi.ResourceOptions(parent=self, provider=provider, protect=True)
        state_key = aws.kms.Key(
            f"{name}-state-key",
            description=f"Pulumi state of the platform ({env})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=kept,
        )
        state = PrivateBucket(
            f"{name}-state",
            PrivateBucketArgs(
                bucket=f"platform-{env}-pulumi-state-{account}",
                expire_prefix=".pulumi/history/",
                retention_days=365,
                kms_key_arn=state_key.arn,
                versioned=True,
                protect=True,
                tags=tags,
            ),
            parent=self,
        )
        state.policy()
        self.access = Access(
            f"{name}-access",
            AccessArgs(
                environment=env,
                account_id=account,
                region=settings.region,
                repository=settings.repository,
                identity_account_id=settings.identity_account_id,
                sre_principals=settings.sre_principals,
                developer_principals=settings.developer_principals,
                state_bucket_arn=state.arn,
                state_key_arn=state_key.arn,
                secrets_key_arn=pulumi.Output.format(
                    "arn:aws:kms:{0}:{1}:alias/pulumi-{2}", settings.region, account, env
                ),
            ),
            opts=child,
        )
        users = [role.arn for key, role in sorted(self.access.roles.items())]
        self.secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"awskms:// secrets provider of the platform stack {env}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=secrets_key_policy(account, users),
            tags=tags,
            # The named roles must exist before KMS accepts them as principals.
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, protect=True, depends_on=list(self.access.roles.values())
            ),
        )
        aws.kms.Alias(
            f"{name}-secrets-alias", name=f"alias/pulumi-{env}", target_key_id=self.secrets_key.key_id, opts=child
        )
        self.state_bucket_name = state.name
        self.backend_url = state.name.apply(lambda bucket: f"s3://{bucket}")
        self.secrets_provider = f"awskms://alias/pulumi-{env}?region={settings.region}"
        self.register_outputs({"backend_url": self.backend_url, "secrets_provider": self.secrets_provider})


def secrets_key_policy(account_id: str, users: list[pulumi.Output[str]]) -> pulumi.Output[str]:
    """The account administers the key but cannot use it; only the named roles encrypt and decrypt."""
    statements: list[Statement] = [
        statement(
            "AccountAdministersButCannotDecrypt",
            KEY_ADMINISTRATION,
            ["*"],
            principals={"AWS": f"arn:aws:iam::{account_id}:root"},
        ),
        statement("NamedRolesUseTheKey", KEY_USE, ["*"], principals={"AWS": users}),
    ]
    return policy_document(*statements)
