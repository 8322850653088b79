"""Who may act on an account: GitHub Actions through OIDC, and people from the identity account.

Applied by the bootstrap project (once per account, by an SRE), not by the platform program: the
platform's state and secrets key must exist, with these roles in their policies, before the first
`pulumi up` of the platform. Every trust policy pins the audience and an exact subject
(`StringEquals`, never wildcards); sessions last at most an hour.

- `preview` (staging account only): trusted by the repository's `pull_request` subject; reads
  everything, writes nothing; reads the state and decrypts the stack's secrets to run a real preview.
- `plan`: the deploy's read side, trusted only by the environment `<env>-plan` (main only in prd, no
  reviewers): previews a deploy before its approval. Read-only, plus what a preview needs and
  ReadOnlyAccess lacks: the state, the stack's secrets, the values of the platform's own secrets and
  the RDS master secrets, and SSM port forwarding through the cluster's tasks to reach the databases
  (the postgresql provider manages roles and grants as the master user): trusted from main only.
- `drift` (both accounts): the nightly refresh, trusted only by the environment `<env>-drift` (main
  only). It can only look: ReadOnlyAccess, but only Describe/Get/List of the services the stacks use,
  and never a secret value, a data key, a log event, an object outside the state bucket, an item, a
  message or an execution's input; it decrypts the state (through S3) and this stack's secrets (the
  key policy requires the encryption context `stack=<env>` the secrets provider URL sets). The
  refresh it runs leaves out what only a secret value could read (Postgres objects, SecretVersions;
  tools/deploy.py).
- `deploy-<env>`: trusted only by the GitHub environment `<env>` (prd: approved by SREs, from main).
  Scoped to the services of the platform (platform_lib/aws_services.py), IAM to roles and policies,
  roles passed only to the services that use them; its guardrail denies what must not change.
- `sre` (both accounts) and `developer` (staging only): people, from the identity account's SSO roles.

`repository` is `OWNER/REPO` or GitHub's immutable `OWNER@ID/REPO@ID` (platform_lib/github.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import Component, Out
from platform_config.tags import component_tags
from platform_lib.aws_services import BOOTSTRAP_SERVICES, PLATFORM_SERVICES
from platform_lib.github import environments
from platform_lib.github import subject as github_subject
from platform_lib.iam import Statement, policy_document, statement, static_policy_document
from platform_lib.naming import permissions_boundary_name

GITHUB_OIDC = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
SESSION_SECONDS = 3600
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True, kw_only=True)
class AccessArgs:
    environment: str
    """`stg` or `prd`: the account this is applied to."""
    account_id: str
    region: str
    """Where the platform stack runs (its secrets, cluster and SSM sessions)."""
    repository: str
    """`OWNER/REPO` or `OWNER@ID/REPO@ID` on GitHub."""
    identity_account_id: str
    sre_principals: Sequence[str]
    """Role ARNs in the identity account (SSO permission sets) whose sessions may become `sre`."""
    developer_principals: Sequence[str] = ()
    state_bucket_arn: pulumi.Input[str]
    bootstrap_state_bucket_arn: pulumi.Input[str] | None = None
    """The bootstrap's own state, which the drift role reads too (its nightly check)."""
    state_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    """The key's ARN (KMS authorizes by key ARN: an alias ARN in a policy grants nothing)."""
    protected_key_arns: Sequence[pulumi.Input[str]] = ()
    """Keys no deploy role may re-policy, grant, disable or delete (state, secrets, audit)."""
    protected_bucket_arns: Sequence[pulumi.Input[str]] = ()
    """Buckets whose policy, lock and lifecycle no deploy role may change (state, audit)."""


def role_keys(env: str, *, developers: bool) -> list[str]:
    """The roles Access creates in an account (`platform-<env>-<key>`), known before they exist so that
    key policies can name them."""
    keys = ["drift", "plan", f"deploy-{env}", "sre"]
    if env == "stg":
        keys.append("preview")
        if developers:
            keys.append("developer")
    return sorted(keys)


def role_arn(account_id: str, env: str, key: str) -> str:
    return f"arn:aws:iam::{account_id}:role/platform-{env}-{key}"


def github_trust(provider_arn: str, subject: str) -> str:
    """Trust for exactly one GitHub subject of one repository, for the STS audience."""
    return static_policy_document(
        statement(
            "GitHubActionsOidc",
            ["sts:AssumeRoleWithWebIdentity"],
            principals={"Federated": provider_arn},
            conditions={"StringEquals": {f"{GITHUB_OIDC}:aud": AUDIENCE, f"{GITHUB_OIDC}:sub": subject}},
        )
    )


def people_trust(principals: Sequence[str]) -> str:
    """Trust for the named IAM Identity Center roles of the identity account.

    MFA is enforced by Identity Center at sign-in; `aws:MultiFactorAuthPresent` is not in the context
    of a role session assuming another role, so conditioning on it would lock everyone out.
    """
    return static_policy_document(
        statement(
            "PeopleFromIdentityAccount", ["sts:AssumeRole", "sts:TagSession"], principals={"AWS": sorted(principals)}
        )
    )


class Access(Component, token="platform:access:Access"):
    """The GitHub OIDC provider and the roles CI assumes, each trusted for exactly its subjects.

    `roles` (key -> Role) are the handles."""

    oidc_provider_arn: Out[pulumi.Output[str]]
    role_arns: Out[dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self._args = args
        self.tags = component_tags(service="platform", component="access")
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github",
            url=f"https://{GITHUB_OIDC}",
            client_id_lists=[AUDIENCE],
            tags=self.tags,
            opts=self.child(),
        )
        provider_arn = f"arn:aws:iam::{args.account_id}:oidc-provider/{GITHUB_OIDC}"
        env = args.environment
        self.roles: dict[str, aws.iam.Role] = {}
        state = self._state_statements()

        if env == "stg":
            preview = self._role(
                "preview", github_trust(provider_arn, github_subject(args.repository, pull_request=True))
            )
            self._attach(preview, "preview", READ_ONLY)
            self._inline(
                preview,
                "preview",
                *state,
                # The program reads the RDS-managed master secrets (user management needs them).
                statement(
                    "ReadDatabaseMasterSecrets",
                    ["secretsmanager:GetSecretValue"],
                    [f"arn:aws:secretsmanager:*:{args.account_id}:secret:rds!*"],
                ),
            )
        trusted_by = {e.role: e.name for e in environments(env)}
        trusts = {key: github_trust(provider_arn, github_subject(args.repository, environment=name))
                  for key, name in trusted_by.items()}  # fmt: skip
        plan = self._role("plan", trusts["plan"])
        self._attach(plan, "plan", READ_ONLY)
        self._inline(plan, "plan", *state, *plan_statements(env, args.account_id, args.region))
        drift = self._role("drift", trusts["drift"])
        self._attach(drift, "drift", READ_ONLY)
        self._inline(
            drift,
            "drift",
            *drift_statements(
                env,
                args.region,
                [b for b in (args.state_bucket_arn, args.bootstrap_state_bucket_arn) if b is not None],
                args.state_key_arn,
                args.secrets_key_arn,
            ),
        )
        deploy = self._role(f"deploy-{env}", trusts[f"deploy-{env}"])
        self.deploy_policy = aws.iam.Policy(
            f"{name}-deploy-{env}-services",
            name=f"platform-{env}-deploy",
            description="What the platform program manages: its services, its workload roles, its state",
            policy=policy_document(*deploy_statements(env, args.account_id, args.region)),
            tags=self.tags,
            opts=self.child(),
        )
        self._attach(deploy, f"deploy-{env}", self.deploy_policy.arn)
        self.boundary = aws.iam.Policy(
            f"{name}-workload-boundary",
            name=permissions_boundary_name(env),
            description="The most any role the platform program creates may do (set by the deploy role)",
            policy=workload_boundary(args.account_id, env, args.protected_key_arns, args.protected_bucket_arns),
            tags=self.tags,
            opts=self.child(),
        )
        self._inline(
            deploy,
            f"deploy-{env}-guardrails",
            *guardrails(args.account_id, env, args.protected_key_arns, args.protected_bucket_arns),
        )

        sre = self._role("sre", people_trust(args.sre_principals))
        self._attach(sre, "sre", ADMINISTRATOR)
        if env == "stg" and args.developer_principals:
            developer = self._role("developer", people_trust(args.developer_principals))
            self._attach(developer, "developer", READ_ONLY)
            self._inline(
                developer,
                "developer",
                *state,
                statement(
                    "ExecIntoStagingTasks",
                    ["ecs:ExecuteCommand", "ssm:StartSession"],
                    [f"arn:aws:ecs:*:{args.account_id}:task/*", f"arn:aws:ecs:*:{args.account_id}:cluster/*"],
                ),
                # A session's data key comes from the cluster key, whose policy names this role as an operator.
                statement(
                    "OpenExecSessionsWithTheClusterKey",
                    ["kms:GenerateDataKey"],
                    [f"arn:aws:kms:*:{args.account_id}:key/*"],
                    conditions={"StringEquals": {"aws:ResourceTag/Component": "cluster"}},
                ),
            )
        if sorted(self.roles) != role_keys(env, developers=bool(args.developer_principals)):
            raise AssertionError(f"role_keys() is out of date: {sorted(self.roles)}")
        self.oidc_provider_arn = self.oidc_provider.arn
        self.role_arns = {key: role.arn for key, role in self.roles.items()}
        self.finish()

    def _role(self, key: str, trust: str) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{self._name}-{key}",
            name=f"platform-{self._args.environment}-{key}",
            assume_role_policy=trust,
            max_session_duration=SESSION_SECONDS,
            tags=self.tags,
            opts=self.child(),
        )
        self.roles[key] = role
        return role

    def _attach(self, role: aws.iam.Role, key: str, policy_arn: pulumi.Input[str]) -> None:
        aws.iam.RolePolicyAttachment(
            f"{self._name}-{key}-managed",
            role=role.name,
            policy_arn=policy_arn,
            opts=self.child(),
        )

    def _inline(self, role: aws.iam.Role, key: str, *statements: Statement) -> None:
        aws.iam.RolePolicy(
            f"{self._name}-{key}-inline",
            role=role.id,
            policy=policy_document(*statements),
            opts=self.child(),
        )

    def _state_statements(self) -> list[Statement]:
        """Read the Pulumi state and decrypt this stack's secrets: what a preview needs."""
        bucket = self._args.state_bucket_arn
        return [
            statement("ListState", ["s3:ListBucket"], [bucket]),
            statement("ReadState", ["s3:GetObject"], [pulumi.Output.concat(bucket, "/*")]),
            statement("DecryptState", ["kms:Decrypt"], [self._args.state_key_arn]),
            statement("DecryptStackSecrets", ["kms:Decrypt", "kms:DescribeKey"], [self._args.secrets_key_arn]),
        ]


def plan_statements(env: str, account_id: str, region: str) -> list[Statement]:
    """What a preview and a refresh of the platform stack need beyond ReadOnlyAccess (see the module doc)."""
    cluster = f"platform-{env}"
    return [
        statement(
            "ReadPlatformAndDatabaseMasterSecrets",
            ["secretsmanager:GetSecretValue"],
            [
                f"arn:aws:secretsmanager:{region}:{account_id}:secret:platform/{env}/*",
                f"arn:aws:secretsmanager:{region}:{account_id}:secret:rds!*",
            ],
        ),
        statement(
            "DecryptSecretsThroughSecretsManager",
            ["kms:Decrypt"],
            [f"arn:aws:kms:{region}:{account_id}:key/*"],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        ),
        statement(
            "PortForwardThroughClusterTasks",
            ["ssm:StartSession"],
            [
                f"arn:aws:ecs:{region}:{account_id}:task/{cluster}/*",
                f"arn:aws:ssm:{region}::document/AWS-StartPortForwardingSessionToRemoteHost",
            ],
        ),
        statement(
            "EndOwnSessions",
            ["ssm:TerminateSession"],
            [f"arn:aws:ssm:{region}:{account_id}:session/${{aws:userid}}-*"],
        ),
    ]


PASSED_TO_SERVICES = [
    "ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "monitoring.rds.amazonaws.com", "scheduler.amazonaws.com",
    "states.amazonaws.com", "vpc-flow-logs.amazonaws.com",
]  # fmt: skip
"""The services the platform's roles are made for (a test checks every role's trust against it)."""
SERVICE_LINKED = [
    "ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
]  # fmt: skip
MANAGED_POLICIES_WORKLOADS_USE = ["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]
WORKLOAD_ROLE_ACTIONS = [
    "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription",
]  # fmt: skip
WORKLOAD_POLICY_ACTIONS = [
    "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
]  # fmt: skip


def deploy_statements(env: str, account_id: str, region: str) -> list[Statement]:
    """What `pulumi up` of the platform needs: every action of the services it manages (their resource
    types span nearly every action of each, and ARNs are mostly unknown before creation), IAM only for
    roles and customer policies (no users, keys, providers), roles passed only to the services they
    are made for, and the database tunnels. The guardrail (`guardrails`) denies what must not change."""
    iam = f"arn:aws:iam::{account_id}"
    services = sorted(set(PLATFORM_SERVICES) - {"iam"})
    # `statement()` refuses `service:*` Allows; this one is the deploy's job, justified in the pack's
    # suppression (policies/config/bootstrap/<stack>.json) and bounded by the guardrail.
    manage: Statement = {
        "Sid": "ManageThePlatformsServices",
        "Effect": "Allow",
        "Action": [f"{service}:*" for service in services],
        "Resource": "*",
    }
    return [
        manage,
        statement("ReadIam", ["iam:Get*", "iam:List*"], ["*"]),
        statement(
            "ManageWorkloadRoles",
            WORKLOAD_ROLE_ACTIONS,
            [f"{iam}:role/*"],
            conditions={"ArnLikeIfExists": {"iam:PolicyARN": [f"{iam}:policy/*", *MANAGED_POLICIES_WORKLOADS_USE]}},
        ),
        statement("ManageWorkloadPolicies", WORKLOAD_POLICY_ACTIONS, [f"{iam}:policy/*"]),
        statement(
            "PassWorkloadRolesToTheirServices",
            ["iam:PassRole"],
            [f"{iam}:role/*"],
            conditions={"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICES}},
        ),
        statement(
            "CreateServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            [f"{iam}:role/aws-service-role/*"],
            conditions={"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}},
        ),
        *[s for s in plan_statements(env, account_id, region) if s["Sid"].startswith(("PortForward", "EndOwn"))],
    ]


READ_VERBS = ("Describe*", "Get*", "List*")
DATA_READS = [
    "athena:GetQueryResults", "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:GetRecords",
    "dynamodb:GetShardIterator", "dynamodb:PartiQLSelect", "dynamodb:Query", "dynamodb:Scan",
    "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecs:ExecuteCommand", "lambda:InvokeFunction",
    "rds:DownloadCompleteDBLogFile", "rds:DownloadDBLogFilePortion", "rds-db:connect", "sqs:ReceiveMessage",
    "ssm:StartSession", "states:DescribeExecution", "states:GetExecutionHistory",
]  # fmt: skip
"""Reads of data, not configuration: items, images, messages, database logs, execution inputs."""
SECRET_READS = [
    "secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue", "ssm:GetParameter",
    "ssm:GetParameterHistory", "ssm:GetParameters", "ssm:GetParametersByPath",
]  # fmt: skip
LOG_READS = [
    "logs:FilterLogEvents", "logs:GetLogEvents", "logs:GetLogObject", "logs:GetLogRecord", "logs:GetQueryResults",
    "logs:StartLiveTail", "logs:StartQuery", "logs:Unmask",
]  # fmt: skip
KEY_USE_BEYOND_DECRYPT = [
    "kms:CreateGrant", "kms:DeriveSharedSecret", "kms:Encrypt", "kms:GenerateDataKey*", "kms:GenerateMac",
    "kms:ReEncrypt*", "kms:Sign",
]  # fmt: skip
OBJECT_READS = [
    "s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectTorrent", "s3:GetObjectVersion",
    "s3:GetObjectVersionAttributes", "s3:GetObjectVersionTorrent", "s3:RestoreObject",
]  # fmt: skip


def stack_contexts(env: str) -> list[str]:
    """The encryption contexts (`stack=...`) of the stacks the drift role may decrypt: the platform's and
    the bootstrap's of this account."""
    return [env, f"bootstrap-{env}"]


def drift_statements(
    env: str,
    region: str,
    state_buckets: Sequence[pulumi.Input[str]],
    state_key: pulumi.Input[str],
    secrets_key: pulumi.Input[str],
) -> list[Statement]:
    """The drift role beyond ReadOnlyAccess: the states and these stacks' secrets, and explicit denies
    that no managed policy (ReadOnlyAccess reads logs, objects and items) or future grant overrides."""
    objects = [pulumi.Output.concat(bucket, "/*") for bucket in state_buckets]
    reads = sorted(f"{service}:{verb}" for service in {*PLATFORM_SERVICES, *BOOTSTRAP_SERVICES} for verb in READ_VERBS)
    return [
        statement("ListState", ["s3:ListBucket"], list(state_buckets)),
        statement("ReadState", ["s3:GetObject"], objects),
        statement(
            "DecryptStateThroughS3",
            ["kms:Decrypt"],
            [state_key],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        ),
        statement(
            "DecryptThisStacksSecrets",
            ["kms:Decrypt"],
            [secrets_key],
            conditions={"StringEquals": {"kms:EncryptionContext:stack": stack_contexts(env)}},
        ),
        statement(
            "OnlyReadsOfThePlatformsServices",
            [*reads, "kms:Decrypt", "sts:GetCallerIdentity"],
            ["*"],
            effect="Deny",
            not_actions=True,
        ),
        statement("NoSecretValues", SECRET_READS, ["*"], effect="Deny"),
        statement("NoDataKeysOrOtherKeyUse", KEY_USE_BEYOND_DECRYPT, ["*"], effect="Deny"),
        statement(
            "NoDecryptBeyondTheStateAndSecrets",
            ["kms:Decrypt"],
            [state_key, secrets_key],
            effect="Deny",
            not_resources=True,
        ),
        statement("NoLogContents", LOG_READS, ["*"], effect="Deny"),
        statement("NoObjectsOutsideTheState", OBJECT_READS, objects, effect="Deny", not_resources=True),
        statement("NoDataReads", DATA_READS, ["*"], effect="Deny"),
    ]


GUARDED_ROLES = ("deploy-*", "preview", "plan", "drift", "sre", "developer", "cloudtrail-logs", "config-recorder")
"""The roles of CI, people and the audit services: no deploy role may change them."""
ROLE_CHANGES = [
    "iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:TagRole",
    "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription",
]  # fmt: skip
OIDC_CHANGES = [
    "iam:AddClientIDToOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
]  # fmt: skip
KEY_CHANGES = [
    "kms:CreateGrant", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy", "kms:ReplicateKey",
    "kms:RetireGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:UpdatePrimaryRegion",
]  # fmt: skip
BUCKET_CHANGES = [
    "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketLogging",
    "s3:PutBucketObjectLockConfiguration", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration", "s3:BypassGovernanceRetention",
]  # fmt: skip
DETECTIVE_CHANGES = [
    "access-analyzer:DeleteAnalyzer", "cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging", "cloudtrail:UpdateTrail", "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel", "config:StopConfigurationRecorder", "guardduty:DeleteDetector",
    "guardduty:DisassociateFromMasterAccount", "guardduty:UpdateDetector", "securityhub:BatchDisableStandards",
    "securityhub:DisableSecurityHub",
]  # fmt: skip
"""Services the platform program never uses: no deploy or workload role may switch them off."""
BOUNDARY_CHANGES = [
    "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
    "iam:TagPolicy", "iam:UntagPolicy",
]  # fmt: skip
ALARM_CHANGES = ["cloudwatch:DeleteAlarms", "cloudwatch:DisableAlarmActions", "cloudwatch:PutMetricAlarm"]
TRAIL_LOG_CHANGES = [
    "logs:DeleteLogGroup",
    "logs:DeleteMetricFilter",
    "logs:PutMetricFilter",
    "logs:PutRetentionPolicy",
]


def detective_resources(account_id: str, env: str) -> tuple[str, str]:
    """The security alarms and the trail's log group (CloudWatch and Logs the platform also uses)."""
    return (
        f"arn:aws:cloudwatch:*:{account_id}:alarm:platform-{env}-security-*",
        f"arn:aws:logs:*:{account_id}:log-group:/platform/{env}/cloudtrail*",
    )


def guardrails(
    account_id: str,
    env: str,
    protected_keys: Sequence[pulumi.Input[str]] = (),
    protected_buckets: Sequence[pulumi.Input[str]] = (),
) -> list[Statement]:
    """What even the deploy roles may not do, whatever their managed policy grants: long-lived
    credentials; account and organisation changes; any change to CI's and people's roles (their own
    guardrail included), the OIDC trust, the workload boundary, the protected keys and buckets, or the
    detective controls; and creating a role, or changing a role's boundary, without the boundary."""
    iam = f"arn:aws:iam::{account_id}"
    boundary = f"{iam}:policy/{permissions_boundary_name(env)}"
    rules = [
        statement(
            "NoLongLivedCredentials",
            ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser", "iam:UpdateLoginProfile"],
            ["*"],
            effect="Deny",
        ),
        statement("NoAccountOrOrganizationChanges", ["account:*", "organizations:*"], ["*"], effect="Deny"),
        statement(
            "NoChangesToGuardedRoles",
            ROLE_CHANGES,
            [f"{iam}:role/platform-{env}-{role}" for role in GUARDED_ROLES],
            effect="Deny",
        ),
        statement(
            "NoPassingGuardedRoles",
            ["iam:PassRole"],
            [f"{iam}:role/platform-{env}-{role}" for role in GUARDED_ROLES],
            effect="Deny",
        ),
        statement("NoChangesToCiTrust", OIDC_CHANGES, ["*"], effect="Deny"),
        statement(
            "NoChangesToTheBoundary",
            BOUNDARY_CHANGES,
            [boundary],
            effect="Deny",
        ),
        statement(
            "NoRoleWithoutTheBoundary",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            ["*"],
            effect="Deny",
            conditions={"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        statement("NoRemovingABoundary", ["iam:DeleteRolePermissionsBoundary"], ["*"], effect="Deny"),
        *_detective_denies(account_id, env),
    ]
    if protected_keys:
        rules.append(statement("NoChangesToProtectedKeys", KEY_CHANGES, list(protected_keys), effect="Deny"))
    if protected_buckets:
        rules.append(statement("NoChangesToProtectedBuckets", BUCKET_CHANGES, list(protected_buckets), effect="Deny"))
    return rules


def _detective_denies(account_id: str, env: str) -> list[Statement]:
    alarms, trail_logs = detective_resources(account_id, env)
    return [
        statement("NoTamperingWithDetectiveControls", DETECTIVE_CHANGES, ["*"], effect="Deny"),
        statement("NoTamperingWithSecurityAlarms", ALARM_CHANGES, [alarms], effect="Deny"),
        statement("NoTamperingWithTheTrailLogs", TRAIL_LOG_CHANGES, [trail_logs, f"{trail_logs}:*"], effect="Deny"),
    ]


def workload_boundary(
    account_id: str,
    env: str,
    protected_keys: Sequence[pulumi.Input[str]],
    protected_buckets: Sequence[pulumi.Input[str]],
) -> pulumi.Output[str]:
    """The permissions boundary of every platform-created role: its own policies decide what it may do,
    within everything but IAM writes, the guarded keys and buckets, and the detective controls."""
    within: Statement = {
        "Sid": "OwnPoliciesDecideWithinThisBoundary",
        "Effect": "Allow",
        "Action": "*",  # a boundary caps, never grants: each role's own policy is least privilege
        "Resource": "*",
    }
    iam_writes = [f"iam:{verb}*" for verb in ("Add", "Attach", "Create", "Delete", "Detach", "Put", "Remove",
                                               "Set", "Tag", "Untag", "Update", "Upload")]  # fmt: skip
    buckets = [*protected_buckets, *(pulumi.Output.concat(b, "/*") for b in protected_buckets)]
    rules = [
        within,
        statement("NoIamWrites", iam_writes, ["*"], effect="Deny"),
        statement("NoAccountOrOrganizationChanges", ["account:*", "organizations:*"], ["*"], effect="Deny"),
        *_detective_denies(account_id, env),
    ]
    if protected_keys:
        rules.append(statement("NoChangesToProtectedKeys", KEY_CHANGES, list(protected_keys), effect="Deny"))
    if buckets:
        rules.append(statement("NoAccessToStateOrAuditBuckets", ["s3:*"], buckets, effect="Deny"))
    return policy_document(*rules)
