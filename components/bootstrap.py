"""The bootstrap of one account: Pulumi state, the stack's secrets key, and access (components/access.py)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.access import Access, AccessArgs, role_arn, role_keys, stack_contexts
from components.account_baseline import AccountBaseline, AccountBaselineArgs
from components.base import Component, Out
from components.buckets import PrivateBucket, PrivateBucketArgs
from platform_config.bootstrap import BootstrapConfig
from platform_config.tags import component_tags
from platform_lib.iam import KEY_ADMINISTRATION, Statement, policy_document, statement

"""Managing the key, not using it, and not `kms:CreateGrant` (a grant is use by another name)."""
KEY_METADATA = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
KEY_USE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]


class Bootstrap(Component, token="platform:bootstrap:Bootstrap"):
    """What an account needs before the platform's first `pulumi up`. `access` is the handle."""

    state_bucket_name: Out[pulumi.Output[str]]
    bootstrap_state_bucket_name: Out[pulumi.Output[str]]
    backend_url: Out[pulumi.Output[str]]
    secrets_provider: Out[str]
    bootstrap_secrets_provider: Out[str]

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
        self._tags = tags
        provider = aws.Provider(
            f"{name}-aws",
            region=settings.region,
            allowed_account_ids=[account],
            default_tags=aws.ProviderDefaultTagsArgs(
                tags={
                    "Env": env,
                    "ManagedBy": "pulumi",
                    "Owner": settings.owner,
                    "Project": "platform",
                    "Repository": settings.repository,
                }
            ),
            opts=self.child(),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        # State and its key are never deleted by a refactor: everything else is rebuilt from them.
        kept = pulumi.ResourceOptions(parent=self, provider=provider, protect=True)
        roles = role_keys(env, developers=bool(settings.developer_principals))
        users = [role_arn(account, env, key) for key in roles if key != "drift"]
        drift = role_arn(account, env, "drift")
        administrators = sorted({role_arn(account, env, "sre"), *settings.key_administrators})
        state_key = aws.kms.Key(
            f"{name}-state-key",
            description=f"Pulumi state of the platform ({env})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=restricted_key_policy(
                account,
                administrators,
                users,
                readers=[drift],
                read_only_if={"StringEquals": {"kms:ViaService": f"s3.{settings.region}.amazonaws.com"}},
            ),
            tags=tags,
            opts=kept,
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
        state = self._state_bucket(f"{name}-state", f"platform-{env}-pulumi-state-{account}", state_key, provider)
        state.policy(
            only_these_read_or_write_state(state, [*users, drift, *administrators]),
            readers_never_write_state(state, [drift]),
        )
        state.log_access_to(self.baseline.access_logs, account_id=account, prefix="pulumi-state/")
        # The bootstrap's own state: after its first (local) run an SRE moves it here (README), so that
        # every change to the account's trust roots leaves versions, access logs and trail events.
        bootstrap_state = self._state_bucket(
            f"{name}-bootstrap-state",
            f"platform-{env}-bootstrap-state-{account}",
            state_key,
            provider,
            lock_days=BOOTSTRAP_STATE_LOCK_DAYS,
        )
        bootstrap_state.policy(
            only_these_read_or_write_state(bootstrap_state, [drift, *administrators]),
            readers_never_write_state(bootstrap_state, [drift]),
        )
        bootstrap_state.log_access_to(self.baseline.access_logs, account_id=account, prefix="bootstrap-state/")
        self.bootstrap_state_bucket_name = bootstrap_state.name
        # Named by condition on the account principal, the roles need not exist yet: the key comes first
        # and the roles' policies name it by key ARN (KMS ignores alias ARNs in IAM policies).
        self.secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"awskms:// secrets provider of the platform stack {env}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=restricted_key_policy(
                account,
                administrators,
                users,
                readers=[drift],
                read_only_if={"StringEquals": {"kms:EncryptionContext:stack": stack_contexts(env)}},
            ),
            tags=tags,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-secrets-alias", name=f"alias/pulumi-{env}", target_key_id=self.secrets_key.key_id, opts=child
        )
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
                bootstrap_state_bucket_arn=bootstrap_state.arn,
                state_key_arn=state_key.arn,
                secrets_key_arn=self.secrets_key.arn,
                protected_key_arns=[state_key.arn, self.secrets_key.arn, self.baseline.key.arn],
                protected_bucket_arns=[
                    state.arn,
                    bootstrap_state.arn,
                    self.baseline.audit.arn,
                    self.baseline.access_logs.arn,
                ],
            ),
            opts=child,
        )
        self.state_bucket_name = state.name
        self.backend_url = state.name.apply(lambda bucket: f"s3://{bucket}")
        self.secrets_provider = secrets_provider(env, settings.region)
        self.bootstrap_secrets_provider = secrets_provider(env, settings.region, stack=stack_contexts(env)[1])
        self.finish()

    def _state_bucket(
        self,
        name: str,
        bucket: str,
        key: aws.kms.Key,
        provider: aws.Provider,
        *,
        lock_days: int | None = None,
    ) -> PrivateBucket:
        """Pulumi state: versioned, KMS, protected, history kept a year; optionally object-locked."""
        return PrivateBucket(
            name,
            PrivateBucketArgs(
                bucket=bucket,
                expire_prefix=".pulumi/history/",
                retention_days=365,
                kms_key_arn=key.arn,
                versioned=True,
                protect=True,
                tags=self._tags,
                object_lock_days=lock_days,
                object_lock_mode="GOVERNANCE",
            ),
            parent=self,
            provider=provider,
        )


STATE_OBJECT_ACTIONS = [
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket",
    "s3:ListBucketVersions", "s3:PutObject", "s3:RestoreObject",
]  # fmt: skip
BOOTSTRAP_STATE_LOCK_DAYS = 90
"""Every version of the bootstrap's state is kept 90 days (GOVERNANCE: an SRE may bypass, no deploy role)."""


def secrets_provider(env: str, region: str, *, stack: str | None = None) -> str:
    """The stack's `awskms://` URL: the secrets key by alias, and the encryption context `stack=<name>`
    (gocloud.dev's `context_` parameters), which binds the drift role's decrypt to its stacks."""
    return f"awskms://alias/pulumi-{env}?region={region}&context_stack={stack or env}"


def readers_never_write_state(bucket: PrivateBucket, readers: list[str]) -> Statement:
    """The drift role reads the state and never writes it, even if an IAM grant says otherwise."""
    writes = [a for a in STATE_OBJECT_ACTIONS if not a.startswith(("s3:Get", "s3:List"))]
    return statement(
        "ReadersNeverWriteState",
        writes,
        [bucket.arn, bucket.objects()],
        effect="Deny",
        principals={"AWS": "*"},
        conditions={"ArnEquals": {"aws:PrincipalArn": sorted(readers)}},
    )


def only_these_read_or_write_state(bucket: PrivateBucket, principals: list[str]) -> Statement:
    """Whatever IAM grants elsewhere (ReadOnlyAccess reads every bucket), only the named roles read or
    write the state objects. The bucket's configuration stays readable (Config, the drift check)."""
    return statement(
        "OnlyNamedRolesReadOrWriteState",
        STATE_OBJECT_ACTIONS,
        [bucket.arn, bucket.objects()],
        effect="Deny",
        principals={"AWS": "*"},
        conditions={"ArnNotLike": {"aws:PrincipalArn": sorted(principals)}},
    )


def restricted_key_policy(
    account_id: str,
    administrators: list[str],
    users: list[str],
    *,
    readers: list[str] | None = None,
    read_only_if: dict[str, dict[str, Any]] | None = None,
) -> pulumi.Output[str]:
    """Only the named administrators manage the key, only the named roles use it, and everyone in the
    account may read its metadata. No statement trusts the account unconditionally, so no IAM policy
    widens this: a deploy role holding AdministratorAccess can neither use the key nor re-policy it.
    (The administrators can re-policy it, so they could grant themselves use: that is the SREs, who
    may decrypt anyway, and the permission set that applies the bootstrap.)"""
    root = {"AWS": f"arn:aws:iam::{account_id}:root"}
    statements: list[Statement] = [
        statement(
            "NamedAdministratorsManageTheKey",
            KEY_ADMINISTRATION,
            ["*"],
            principals=root,
            conditions={"ArnLike": {"aws:PrincipalArn": sorted(administrators)}},
        ),
        statement("AccountReadsKeyMetadata", KEY_METADATA, ["*"], principals=root),
        statement(
            "NamedRolesUseTheKey",
            KEY_USE,
            ["*"],
            principals=root,
            conditions={"ArnEquals": {"aws:PrincipalArn": sorted(users)}},
        ),
    ]
    if readers:
        statements.append(
            statement(
                "NamedReadersOnlyDecrypt",
                ["kms:Decrypt"],
                ["*"],
                principals=root,
                conditions={"ArnEquals": {"aws:PrincipalArn": sorted(readers)}, **(read_only_if or {})},
            )
        )
    return policy_document(*statements)
