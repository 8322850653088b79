"""The bootstrap of one account: Pulumi state, the stack's secrets key, and access (components/access.py)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.access import Access, AccessArgs
from components.account_baseline import AccountBaseline, AccountBaselineArgs
from components.base import Component, Out
from components.buckets import PrivateBucket, PrivateBucketArgs
from platform_config.bootstrap import BootstrapConfig
from platform_config.tags import component_tags
from platform_lib.iam import Statement, policy_document, statement

KEY_ADMINISTRATION = [
    "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*", "kms:Enable*",
    "kms:Get*", "kms:List*", "kms:Put*", "kms:Revoke*", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:Update*",
]  # fmt: skip
"""Everything but using the key: the account administers it; only named roles encrypt and decrypt."""
KEY_USE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]


class Bootstrap(Component, token="platform:bootstrap:Bootstrap"):
    """What an account needs before the platform's first `pulumi up`. `access` is the handle."""

    state_bucket_name: Out[pulumi.Output[str]]
    backend_url: Out[pulumi.Output[str]]
    secrets_provider: Out[str]

    def __init__(
        self,
        name: str,
        settings: BootstrapConfig,
        alarm_endpoint: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        env, account = settings.environment, settings.account_id
        tags = {**component_tags(service="platform", component="bootstrap"), "Env": env, "Project": "platform"}
        provider = aws.Provider(
            f"{name}-aws",
            region=settings.region,
            allowed_account_ids=[account],
            default_tags=aws.ProviderDefaultTagsArgs(tags={"ManagedBy": "pulumi", "Repository": settings.repository}),
            opts=self.child(),
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
        self.baseline = AccountBaseline(
            f"{name}-baseline",
            AccountBaselineArgs(
                environment=env,
                account_id=account,
                region=settings.region,
                controls=settings.detective,
                alarm_endpoint=alarm_endpoint,
                tags=tags,
            ),
            opts=child,
        )
        self.state_bucket_name = state.name
        self.backend_url = state.name.apply(lambda bucket: f"s3://{bucket}")
        self.secrets_provider = f"awskms://alias/pulumi-{env}?region={settings.region}"
        self.finish()


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
