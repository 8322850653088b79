"""Guardrails that hold, proved on the bootstrap's desired state with an IAM evaluator (tests/iam_eval.py).

What the deploy roles (AdministratorAccess plus their guardrail) cannot do, what every role the
platform creates cannot do (the workload boundary), and who may use and manage the state and secrets
keys (key policies decide; an administrator of the account cannot grant itself decrypt).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.access import MANAGED_POLICIES_WORKLOADS_USE, PASSED_TO_SERVICES
from platform_lib.aws_limits import IAM_MANAGED_POLICY_MAX_CHARS, IAM_ROLE_INLINE_POLICIES_MAX_CHARS
from platform_lib.aws_services import BOOTSTRAP_SERVICES, PLATFORM_SERVICES, iam_prefix
from tests.components.test_access import ACCOUNTS, bootstrap
from tests.conftest import stack_run
from tests.iam_eval import ADMINISTRATOR_ACCESS, Request, identity_allows, key_allows, resource_policy_denies
from tools.mock_runtime import ProgramRun

STACKS = ("stg", "prd")


def arn(stack: str, resource: str) -> str:
    return f"arn:aws:iam::{ACCOUNTS[stack]}:{resource}"


def role(stack: str, key: str) -> str:
    return arn(stack, f"role/platform-{stack}-{key}")


def key_arn(stack: str, name: str) -> str:
    return f"arn:aws:kms:ap-northeast-1:{ACCOUNTS[stack]}:key/mock-bootstrap-{name}"


def deploy_policies(run: ProgramRun, stack: str) -> list[Any]:
    return [ADMINISTRATOR_ACCESS, run.named(f"bootstrap-access-deploy-{stack}-guardrails-inline").inputs["policy"]]


def boundary(run: ProgramRun) -> str:
    policy = run.named("bootstrap-access-workload-boundary").inputs["policy"]
    assert isinstance(policy, str)
    return policy


def deploy_may(stack: str, action: str, resource: str, **context: str) -> bool:
    run = bootstrap(stack)
    return identity_allows(
        Request(role(stack, f"deploy-{stack}"), action, resource, context), deploy_policies(run, stack)
    )


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    "action", ["iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy",
               "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary"]
)  # fmt: skip
def test_deploy_roles_cannot_remove_their_guardrail_or_change_ci_and_people_roles(stack: str, action: str) -> None:
    for key in (f"deploy-{stack}", "plan", "sre", "cloudtrail-logs", "config-recorder"):
        assert not deploy_may(stack, action, role(stack, key)), (action, key)


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_roles_cannot_change_the_oidc_trust(stack: str) -> None:
    provider = arn(stack, "oidc-provider/token.actions.githubusercontent.com")
    for action in ("iam:AddClientIDToOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
                   "iam:DeleteOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider"):  # fmt: skip
        assert not deploy_may(stack, action, provider), action


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_roles_create_roles_only_within_the_boundary(stack: str) -> None:
    bound = arn(stack, f"policy/platform-{stack}-workload-boundary")
    workload = role(stack, "api-task")
    assert deploy_may(stack, "iam:CreateRole", workload, **{"iam:PermissionsBoundary": bound})
    assert not deploy_may(stack, "iam:CreateRole", workload)
    assert not deploy_may(stack, "iam:CreateRole", workload, **{"iam:PermissionsBoundary": arn(stack, "policy/wide")})
    assert deploy_may(stack, "iam:PutRolePolicy", workload)  # the program's own roles stay its to manage
    assert deploy_may(stack, "iam:PassRole", workload)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not deploy_may(stack, action, bound), action


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_roles_cannot_switch_off_the_detective_controls_or_touch_protected_keys_and_buckets(stack: str) -> None:
    account = ACCOUNTS[stack]
    assert not deploy_may(stack, "cloudtrail:StopLogging", f"arn:aws:cloudtrail:ap-northeast-1:{account}:trail/x")
    assert not deploy_may(stack, "guardduty:DeleteDetector", "*")
    assert not deploy_may(stack, "config:StopConfigurationRecorder", "*")
    assert not deploy_may(stack, "securityhub:DisableSecurityHub", "*")
    alarms = f"arn:aws:cloudwatch:ap-northeast-1:{account}:alarm:platform-{stack}-security-root-use"
    assert not deploy_may(stack, "cloudwatch:DeleteAlarms", alarms)
    assert deploy_may(stack, "cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:ap-northeast-1:{account}:alarm:other")
    trail_logs = f"arn:aws:logs:ap-northeast-1:{account}:log-group:/platform/{stack}/cloudtrail"
    assert not deploy_may(stack, "logs:DeleteLogGroup", trail_logs)
    assert deploy_may(
        stack, "logs:DeleteLogGroup", f"arn:aws:logs:ap-northeast-1:{account}:log-group:/platform/{stack}/api"
    )
    for key in ("state-key", "secrets-key", "baseline-key"):
        for action in ("kms:PutKeyPolicy", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:DisableKey"):
            assert not deploy_may(stack, action, key_arn(stack, key)), (action, key)
    for bucket in (f"platform-{stack}-pulumi-state-{account}", f"platform-{stack}-audit-logs-{account}"):
        for action in ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration",
                       "s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration"):  # fmt: skip
            assert not deploy_may(stack, action, f"arn:aws:s3:::{bucket}"), (action, bucket)
    assert deploy_may(stack, "ec2:CreateVpc", "*")  # and it still deploys the platform


@pytest.mark.parametrize("stack", STACKS)
def test_roles_the_platform_creates_cannot_write_iam_or_read_state_and_audit_logs(stack: str) -> None:
    run = bootstrap(stack)
    account = ACCOUNTS[stack]
    task = role(stack, "api-task")
    own = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "iam:CreateRole", "iam:PassRole"], "Resource": "*"}
        ]
    }

    def may(action: str, resource: str) -> bool:
        return identity_allows(Request(task, action, resource), [own], boundary(run))

    assert may("s3:GetObject", "arn:aws:s3:::platform-stg-inbound-mail/raw/x")
    assert not may("s3:GetObject", f"arn:aws:s3:::platform-{stack}-pulumi-state-{account}/.pulumi/stacks/x.json")
    assert not may("s3:GetObject", f"arn:aws:s3:::platform-{stack}-audit-logs-{account}/AWSLogs/x")
    assert not may("iam:CreateRole", role(stack, "anything"))
    assert may("iam:PassRole", role(stack, "api-task"))


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", ["secrets-key", "state-key"])
def test_only_the_named_roles_use_the_keys_and_only_sres_manage_them(stack: str, name: str) -> None:
    run = bootstrap(stack)
    policy = run.named(f"bootstrap-{name}").inputs["policy"]
    assert run.named(f"bootstrap-{name}").protect is True
    key = key_arn(stack, name)
    users = {"prd": ("deploy-prd", "plan", "sre"), "stg": ("deploy-stg", "developer", "plan", "preview", "sre")}[stack]
    reader = {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    for user in users:
        assert key_allows(Request(role(stack, user), "kms:Decrypt", key), policy, [reader]), user
    # An administrator of the account (any role with AdministratorAccess) can neither use nor re-policy it.
    for outsider in ("someone-admin", "api-task"):
        assert not key_allows(Request(role(stack, outsider), "kms:Decrypt", key), policy, [ADMINISTRATOR_ACCESS])
        assert not key_allows(Request(role(stack, outsider), "kms:PutKeyPolicy", key), policy, [ADMINISTRATOR_ACCESS])
    # The deploy role may use it (it decrypts the stack's secrets) but not re-policy it.
    deploy = role(stack, f"deploy-{stack}")
    assert not key_allows(Request(deploy, "kms:PutKeyPolicy", key), policy, deploy_policies(run, stack))
    assert not key_allows(Request(deploy, "kms:CreateGrant", key), policy, [ADMINISTRATOR_ACCESS])
    assert key_allows(Request(role(stack, "sre"), "kms:PutKeyPolicy", key), policy, [ADMINISTRATOR_ACCESS])
    applier = arn(stack, "role/aws-reserved/sso.amazonaws.com/ap-northeast-1/AWSReservedSSO_AdministratorAccess_abc")
    assert key_allows(Request(applier, "kms:PutKeyPolicy", key), policy, [ADMINISTRATOR_ACCESS])


@pytest.mark.parametrize("stack", STACKS)
def test_no_statement_names_a_kms_alias_as_its_resource(stack: str) -> None:
    """KMS authorizes by key ARN: an alias ARN in an IAM statement grants nothing."""
    for resource in bootstrap(stack).resources:
        for key in ("policy", "assumeRolePolicy"):
            document = resource.inputs.get(key)
            if not isinstance(document, str) or not document.startswith("{"):
                continue
            for statement in json.loads(document)["Statement"]:
                targets = statement.get("Resource", [])
                assert not any(":alias/" in str(t) for t in (targets if isinstance(targets, list) else [targets])), (
                    resource.name
                )


# ------------------------------------------------------------------------------------ the drift role


def drift_inline(run: ProgramRun) -> Any:
    return run.named("bootstrap-access-drift-inline").inputs["policy"]


def drift_may(stack: str, action: str, resource: str, **context: str) -> bool:
    """Worst case: whatever the managed policy grants (here: everything), the inline denies decide."""
    run = bootstrap(stack)
    return identity_allows(Request(role(stack, "drift"), action, resource, context), [ADMINISTRATOR_ACCESS,
                                                                                     drift_inline(run)])  # fmt: skip


def state_objects(stack: str, bucket: str = "pulumi-state") -> str:
    return f"arn:aws:s3:::platform-{stack}-{bucket}-{ACCOUNTS[stack]}/.pulumi/stacks/platform/{stack}.json"


@pytest.mark.parametrize("stack", STACKS)
def test_the_drift_role_reads_the_states_and_decrypts_only_its_stacks_secrets(stack: str) -> None:
    run = bootstrap(stack)
    drift = role(stack, "drift")
    policies = [drift_inline(run)]  # its own grants, without ReadOnlyAccess
    for bucket in ("pulumi-state", "bootstrap-state"):
        objects = state_objects(stack, bucket)
        assert identity_allows(Request(drift, "s3:GetObject", objects), policies)
        assert identity_allows(Request(drift, "s3:ListBucket", objects.split("/.pulumi")[0]), policies)
        bucket_policy = run.named(f"bootstrap-{bucket.replace('pulumi-', '')}-policy").inputs["policy"]
        assert not resource_policy_denies(Request(drift, "s3:GetObject", objects), bucket_policy)
        for write in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert resource_policy_denies(Request(drift, write, objects), bucket_policy), (bucket, write)
    state_key, secrets_key = key_arn(stack, "state-key"), key_arn(stack, "secrets-key")
    via_s3 = {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    state_key_policy = run.named("bootstrap-state-key").inputs["policy"]
    secrets_key_policy = run.named("bootstrap-secrets-key").inputs["policy"]
    assert key_allows(Request(drift, "kms:Decrypt", state_key, via_s3), state_key_policy, policies)
    assert not key_allows(Request(drift, "kms:Decrypt", state_key), state_key_policy, policies), "only through S3"
    for context in (stack, f"bootstrap-{stack}"):
        request = Request(drift, "kms:Decrypt", secrets_key, {"kms:EncryptionContext:stack": context})
        assert key_allows(request, secrets_key_policy, policies), context
    other = {"stg": "prd", "prd": "stg"}[stack]
    for context in ({}, {"kms:EncryptionContext:stack": other}):
        assert not key_allows(Request(drift, "kms:Decrypt", secrets_key, context), secrets_key_policy, policies)
    for action in ("kms:GenerateDataKey", "kms:Encrypt", "kms:CreateGrant", "kms:ReEncryptFrom"):
        request = Request(drift, action, secrets_key, {"kms:EncryptionContext:stack": stack})
        assert not key_allows(request, secrets_key_policy, [ADMINISTRATOR_ACCESS, drift_inline(run)]), action


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:ap-northeast-1:{a}:secret:platform/{s}/api-x"),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:ap-northeast-1:{a}:secret:rds!db-1"),
        ("secretsmanager:BatchGetSecretValue", "*"),
        ("ssm:GetParameter", "arn:aws:ssm:ap-northeast-1:{a}:parameter/x"),
        ("kms:GenerateDataKey", "arn:aws:kms:ap-northeast-1:{a}:key/any"),
        ("kms:Decrypt", "arn:aws:kms:ap-northeast-1:{a}:key/mail-key"),
        ("logs:GetLogEvents", "arn:aws:logs:ap-northeast-1:{a}:log-group:/platform/{s}/api:log-stream:x"),
        ("logs:FilterLogEvents", "arn:aws:logs:ap-northeast-1:{a}:log-group:/platform/{s}/cloudtrail"),
        ("logs:StartQuery", "arn:aws:logs:ap-northeast-1:{a}:log-group:/platform/{s}/api"),
        ("logs:StartLiveTail", "*"),
        ("s3:GetObject", "arn:aws:s3:::platform-{s}-audit-logs-{a}/AWSLogs/x.json.gz"),
        ("s3:GetObject", "arn:aws:s3:::platform-{s}-raw-mail-{a}/inbound/x"),
        ("s3:GetObjectVersion", "arn:aws:s3:::any-bucket/key"),
        ("dynamodb:Scan", "arn:aws:dynamodb:ap-northeast-1:{a}:table/mail-dedup"),
        ("dynamodb:GetItem", "arn:aws:dynamodb:ap-northeast-1:{a}:table/mail-dedup"),
        ("sqs:ReceiveMessage", "arn:aws:sqs:ap-northeast-1:{a}:mail"),
        ("states:GetExecutionHistory", "*"),
        ("rds:DownloadDBLogFilePortion", "*"),
        ("ecs:ExecuteCommand", "*"),
        ("ssm:StartSession", "*"),
        ("lambda:InvokeFunction", "*"),
        # no write anywhere, the state included
        ("s3:PutObject", "arn:aws:s3:::platform-{s}-pulumi-state-{a}/.pulumi/stacks/platform/{s}.json"),
        ("iam:PutRolePolicy", "arn:aws:iam::{a}:role/platform-{s}-drift"),
        ("ec2:AuthorizeSecurityGroupIngress", "*"),
        ("ecs:UpdateService", "*"),
        ("lambda:UpdateFunctionCode", "*"),
        ("kms:PutKeyPolicy", "*"),
        ("sts:AssumeRole", "*"),
        ("cloudtrail:StopLogging", "*"),
    ],
)
def test_the_drift_role_reads_no_secret_data_key_log_object_or_item_and_writes_nothing(
    stack: str, action: str, resource: str
) -> None:
    assert not drift_may(stack, action, resource.format(a=ACCOUNTS[stack], s=stack))


@pytest.mark.parametrize("stack", STACKS)
def test_the_drift_role_may_read_the_configuration_of_every_service_the_stacks_use(stack: str) -> None:
    for service in stack_services() | set(BOOTSTRAP_SERVICES):
        for action in ("DescribeThing", "GetThingPolicy", "ListTagsForResource"):
            assert drift_may(stack, f"{service}:{action}", "*"), (service, action)


# ------------------------------------------------------------------------------- the deploy roles scoped


def stack_types() -> set[str]:
    return {r.type for variant in ("stg", "prd", "stg+readme", "prd+readme") for r in stack_run(variant).resources}


def stack_services() -> set[str]:
    return {prefix for t in stack_types() if (prefix := iam_prefix(t)) is not None}


def scoped_deploy_may(stack: str, action: str, resource: str, **context: str) -> bool:
    run = bootstrap(stack)
    policies = [run.named(f"bootstrap-access-deploy-{stack}-services").inputs["policy"],
                run.named(f"bootstrap-access-deploy-{stack}-guardrails-inline").inputs["policy"]]  # fmt: skip
    return identity_allows(Request(role(stack, f"deploy-{stack}"), action, resource, context), policies)


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_manages_every_service_the_stacks_use_and_no_other(stack: str) -> None:
    """Holds for any valid config: every resource type of both stacks (and of the README's edits)."""
    assert stack_services() <= set(PLATFORM_SERVICES), "add the service to PLATFORM_SERVICES"
    for service in stack_services() - {"iam"}:
        assert scoped_deploy_may(stack, f"{service}:CreateSomething", "*"), service
    for service in BOOTSTRAP_SERVICES:
        assert not scoped_deploy_may(stack, f"{service}:CreateSomething", "*"), service
    for action in ("iam:CreateUser", "iam:CreateAccessKey", "iam:CreateOpenIDConnectProvider", "sts:AssumeRole",
                   "organizations:LeaveOrganization", "ssm:PutParameter"):  # fmt: skip
        assert not scoped_deploy_may(stack, action, "*"), action


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_passes_roles_only_to_their_services_and_attaches_only_known_policies(stack: str) -> None:
    workload = role(stack, "api-task-role-1a2b3c")
    boundary_arn = arn(stack, f"policy/platform-{stack}-workload-boundary")
    assert scoped_deploy_may(stack, "iam:CreateRole", workload, **{"iam:PermissionsBoundary": boundary_arn})
    assert not scoped_deploy_may(stack, "iam:CreateRole", workload)
    assert scoped_deploy_may(stack, "iam:PassRole", workload, **{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
    assert not scoped_deploy_may(stack, "iam:PassRole", workload, **{"iam:PassedToService": "ec2.amazonaws.com"})
    for guarded in ("sre", "plan", "drift", f"deploy-{stack}"):
        context = {"iam:PassedToService": "lambda.amazonaws.com"}
        assert not scoped_deploy_may(stack, "iam:PassRole", role(stack, guarded), **context), guarded
    admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert not scoped_deploy_may(stack, "iam:AttachRolePolicy", workload, **admin)
    monitoring = {"iam:PolicyARN": MANAGED_POLICIES_WORKLOADS_USE[0]}
    assert scoped_deploy_may(stack, "iam:AttachRolePolicy", workload, **monitoring)
    own = {"iam:PolicyARN": arn(stack, "policy/api-task-1a2b")}
    assert scoped_deploy_may(stack, "iam:AttachRolePolicy", workload, **own)


def test_every_role_of_the_stacks_is_made_for_a_service_the_deploy_may_pass_it_to() -> None:
    for variant in ("stg", "prd", "stg+readme", "prd+readme"):
        for resource in stack_run(variant).of_type("aws:iam/role:Role"):
            for trust in json.loads(resource.inputs["assumeRolePolicy"])["Statement"]:
                services = trust.get("Principal", {}).get("Service")
                if services is not None:
                    assert set(services if isinstance(services, list) else [services]) <= set(PASSED_TO_SERVICES)
    for attachment in stack_run("prd").of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        policy = str(attachment.inputs["policyArn"])
        assert policy in MANAGED_POLICIES_WORKLOADS_USE or (":policy/" in policy and ":aws:policy/" not in policy)


@pytest.mark.parametrize("stack", STACKS)
def test_the_bootstraps_policies_fit_iams_size_quotas(stack: str) -> None:
    """IAM refuses larger documents at `pulumi up`; the CI roles' policies grew with each guardrail."""
    run = bootstrap(stack)

    def size(document: str) -> int:
        return len("".join(document.split()))

    per_role: dict[str, int] = {}
    for inline in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        per_role[str(inline.inputs["role"])] = per_role.get(str(inline.inputs["role"]), 0) + size(
            inline.inputs["policy"]
        )
    assert per_role
    assert max(per_role.values()) <= IAM_ROLE_INLINE_POLICIES_MAX_CHARS, per_role
    for managed in run.of_type("aws:iam/policy:Policy"):
        assert size(managed.inputs["policy"]) <= IAM_MANAGED_POLICY_MAX_CHARS, managed.name
