"""Guardrails that hold, proved on the bootstrap's desired state with an IAM evaluator (tests/iam_eval.py).

What the deploy roles (AdministratorAccess plus their guardrail) cannot do, what every role the
platform creates cannot do (the workload boundary), and who may use and manage the state and secrets
keys (key policies decide; an administrator of the account cannot grant itself decrypt).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.components.test_access import ACCOUNTS, bootstrap
from tests.iam_eval import ADMINISTRATOR_ACCESS, Request, identity_allows, key_allows
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
