"""Access and bootstrap on the mock runtime: who can assume which role, and who can decrypt prd secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from components.access import role_keys
from platform_config import ConfigError
from platform_config.bootstrap import ALARM_ENDPOINT_KEY, load_bootstrap_config
from platform_lib.github import environments
from platform_lib.github import subject as github_subject
from tools.mock_runtime import ProgramRun, run_program
from tools.mocks import PlatformMocks
from tools.offline import PROJECT_DIR
from tools.stack_config import load_stack_config

BOOTSTRAP = PROJECT_DIR / "bootstrap"
REPO = "acme-payments/platform"
ACCOUNTS = {"stg": "210987654321", "prd": "123456789012"}


ALARM_ENDPOINT = "https://events.pagerduty.com/integration/offline-placeholder/enqueue"


def with_alarm_endpoint(values: dict[str, str], stack: str) -> tuple[dict[str, str], list[str]]:
    """What an SRE sets with `pulumi config set --secret securityAlarmEndpoint` (prd requires it)."""
    if stack != "prd" or ALARM_ENDPOINT_KEY in values:
        return values, []
    return {**values, ALARM_ENDPOINT_KEY: ALARM_ENDPOINT}, [ALARM_ENDPOINT_KEY]


def bootstrap_run(stack: str, change: Callable[[dict[str, Any]], None] | None = None) -> ProgramRun:
    """The bootstrap of `stack` on the mock runtime, its settings first passed through `change`."""
    config = load_stack_config(BOOTSTRAP, stack)
    values = dict(config.values)
    if change is not None:
        settings = json.loads(values["platform-bootstrap:settings"])
        change(settings)
        values["platform-bootstrap:settings"] = json.dumps(settings)
    values, secret = with_alarm_endpoint(values, stack)
    mocks = PlatformMocks(account_id=ACCOUNTS[stack], default_region="ap-northeast-1")
    return run_program(
        BOOTSTRAP,
        project=config.project,
        stack=stack,
        config=values,
        secret_keys=[*config.secret_keys, *secret],
        mocks=mocks,
    )


@cache
def bootstrap(stack: str) -> ProgramRun:
    return bootstrap_run(stack)


def trust(run: ProgramRun, role: str) -> dict[str, Any]:
    (statement,) = json.loads(run.named(f"bootstrap-access-{role}").inputs["assumeRolePolicy"])["Statement"]
    assert isinstance(statement, dict)
    return statement


def subjects_allowed(statement: dict[str, Any]) -> set[str]:
    """Subjects the trust accepts: only exact StringEquals values count (no wildcard operator is used)."""
    conditions = statement["Condition"]
    assert set(conditions) == {"StringEquals"}, "GitHub trusts use StringEquals only"
    assert conditions["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    sub = conditions["StringEquals"]["token.actions.githubusercontent.com:sub"]
    return {sub} if isinstance(sub, str) else set(sub)


def people_and_ci_roles(run: ProgramRun) -> set[str]:
    """The roles people and CI assume (service roles of the account baseline aside)."""
    return {r.inputs["name"] for r in run.of_type("aws:iam/role:Role") if r.name.startswith("bootstrap-access-")}


def test_roles_per_account() -> None:
    assert people_and_ci_roles(bootstrap("stg")) == {
        "platform-stg-preview", "platform-stg-deploy-stg", "platform-stg-sre", "platform-stg-developer",
        "platform-stg-plan", "platform-stg-drift",
    }  # fmt: skip
    assert people_and_ci_roles(bootstrap("prd")) == {
        "platform-prd-deploy-prd", "platform-prd-sre", "platform-prd-plan", "platform-prd-drift",
    }  # fmt: skip


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_each_github_environment_unlocks_exactly_its_role(stack: str) -> None:
    run = bootstrap(stack)
    for environment in environments(stack):
        subject = github_subject(REPO, environment=environment.name)
        ci_roles = [key for key in role_keys(stack, developers=True) if key not in ("sre", "developer")]
        trusting = [key for key in ci_roles if subject in subjects_allowed(trust(run, key))]
        assert trusting == [environment.role], environment
    assert all(e.branches == ("main",) for e in environments(stack) if e.role == "drift" or stack == "prd")
    assert [e.reviewers for e in environments("prd") if e.name == "prd"] == [("sre",)]


def test_prd_deploy_role_trusts_only_the_prd_environment() -> None:
    allowed = subjects_allowed(trust(bootstrap("prd"), "deploy-prd"))
    assert allowed == {github_subject(REPO, environment="prd")}
    for attempt in (
        f"repo:{REPO}:pull_request",
        f"repo:{REPO}:ref:refs/heads/main",
        f"repo:{REPO}:ref:refs/heads/feature",
        f"repo:{REPO}:environment:stg",
        "repo:someone-else/platform:environment:prd",
    ):
        assert attempt not in allowed


def test_stg_deploy_role_trusts_only_the_stg_environment() -> None:
    assert subjects_allowed(trust(bootstrap("stg"), "deploy-stg")) == {f"repo:{REPO}:environment:stg"}


def test_preview_role_trusts_pull_requests_and_cannot_write() -> None:
    run = bootstrap("stg")
    assert subjects_allowed(trust(run, "preview")) == {f"repo:{REPO}:pull_request"}
    attached = [
        r.inputs["policyArn"]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name == "bootstrap-access-preview-managed"
    ]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    inline = json.loads(run.named("bootstrap-access-preview-inline").inputs["policy"])
    actions = {a for s in inline["Statement"] for a in s["Action"]}
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
        "kms:DescribeKey",
        "secretsmanager:GetSecretValue",
    }
    assert not any(a.split(":")[1].startswith(("Put", "Delete", "Create", "Update", "Encrypt")) for a in actions)
    assert "bootstrap-access-preview" not in {r.name for r in bootstrap("prd").resources}


def test_oidc_provider_and_session_length() -> None:
    run = bootstrap("prd")
    provider = run.named("bootstrap-access-github").inputs
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]
    for role in run.of_type("aws:iam/role:Role"):
        assert role.inputs["maxSessionDuration"] <= 3600


def test_people_come_from_the_identity_accounts_sso_roles() -> None:
    statement = trust(bootstrap("prd"), "sre")
    principals = statement["Principal"]["AWS"]
    assert all(p.startswith("arn:aws:iam::400000000001:role/") for p in principals)
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]


def test_state_bucket_is_versioned_encrypted_private_and_tls_only() -> None:
    run = bootstrap("prd")
    bucket = run.named("bootstrap-state")
    assert bucket.protect is True
    assert bucket.inputs["bucket"] == "platform-prd-pulumi-state-123456789012"
    assert run.named("bootstrap-state-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    sse = run.named("bootstrap-state-encryption").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse["sseAlgorithm"] == "aws:kms"
    assert run.named("bootstrap-state-public-access").inputs["restrictPublicBuckets"] is True
    statements = json.loads(run.named("bootstrap-state-policy").inputs["policy"])["Statement"]
    assert {s["Sid"] for s in statements} == {
        "DenyInsecureTransport", "OnlyNamedRolesReadOrWriteState", "ReadersNeverWriteState",
    }  # fmt: skip
    assert run.outputs["backendUrl"] == "s3://platform-prd-pulumi-state-123456789012"
    assert run.outputs["secretsProvider"] == "awskms://alias/pulumi-prd?region=ap-northeast-1&context_stack=prd"
    assert run.outputs["bootstrapSecretsProvider"].endswith("&context_stack=bootstrap-prd")


def test_bootstrap_config_errors_name_the_key() -> None:
    values = dict(load_stack_config(BOOTSTRAP, "prd").values)
    settings = json.loads(values["platform-bootstrap:settings"])
    settings["accountId"] = "12"
    values["platform-bootstrap:settings"] = json.dumps(settings)
    with pytest.raises(ConfigError, match=r"platform-bootstrap:settings\.accountId"):
        load_bootstrap_config(values, stack="prd")
    with pytest.raises(ConfigError, match="is 'prd' but the stack is 'stg'"):
        load_bootstrap_config(load_stack_config(BOOTSTRAP, "prd").values, stack="stg")


WRITE_PREFIXES = ("Put", "Delete", "Create", "Update", "Encrypt", "Attach", "Detach", "Modify", "Run", "Send")


def test_plan_role_reads_what_a_refresh_reads_and_writes_nothing() -> None:
    run = bootstrap("prd")
    attached = [
        r.inputs["policyArn"]
        for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name == "bootstrap-access-plan-managed"
    ]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    statements = {
        s["Sid"]: s for s in json.loads(run.named("bootstrap-access-plan-inline").inputs["policy"])["Statement"]
    }
    actions = {a for s in statements.values() for a in s["Action"]}
    assert not any(a.split(":")[1].startswith(WRITE_PREFIXES) for a in actions), actions
    secrets = statements["ReadPlatformAndDatabaseMasterSecrets"]["Resource"]
    # the SecretVersions the program manages (platform/<env>/...) and the RDS-managed master secrets
    assert secrets == [
        "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:platform/prd/*",
        "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!*",
    ]
    decrypt = statements["DecryptSecretsThroughSecretsManager"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.ap-northeast-1.amazonaws.com"}}
    tunnel = statements["PortForwardThroughClusterTasks"]["Resource"]
    assert "arn:aws:ecs:ap-northeast-1:123456789012:task/platform-prd/*" in tunnel
    assert "arn:aws:ssm:ap-northeast-1::document/AWS-StartPortForwardingSessionToRemoteHost" in tunnel
    assert not any(r.endswith("document/*") or r == "*" for r in tunnel)


IMMUTABLE = "acme-payments@4200001/platform@9100002"


def bootstrap_with(repository: str, stack: str = "prd") -> ProgramRun:
    return bootstrap_run(stack, lambda settings: settings.update(repository=repository))


def test_immutable_subjects_are_trusted_exactly() -> None:
    run = bootstrap_with(IMMUTABLE)
    assert subjects_allowed(trust(run, "deploy-prd")) == {f"repo:{IMMUTABLE}:environment:prd"}
    assert subjects_allowed(trust(run, "plan")) == {f"repo:{IMMUTABLE}:environment:prd-plan"}
    # the name-only form of the same repository is a different subject: not trusted
    assert "repo:acme-payments/platform:environment:prd" not in subjects_allowed(trust(run, "deploy-prd"))
    stg = bootstrap_with(IMMUTABLE, "stg")
    assert subjects_allowed(trust(stg, "preview")) == {f"repo:{IMMUTABLE}:pull_request"}


@pytest.mark.parametrize(
    "repository",
    ["acme-payments@4200001/platform", "acme-payments/platform@9100002", "acme@x/platform@1", "acme/*",
     "acme-payments@/platform@", "acme/platform:environment:prd", "acme/plat form"],
)  # fmt: skip
def test_repository_must_be_one_of_the_two_subject_forms(repository: str) -> None:
    values = dict(load_stack_config(BOOTSTRAP, "prd").values)
    settings = json.loads(values["platform-bootstrap:settings"])
    settings["repository"] = repository
    values["platform-bootstrap:settings"] = json.dumps(settings)
    with pytest.raises(ConfigError, match=r"platform-bootstrap:settings\.repository"):
        load_bootstrap_config(values, stack="prd")
    with pytest.raises(ValueError, match="neither OWNER/REPO nor"):
        github_subject(repository, environment="prd")


@pytest.mark.parametrize("stack", ["stg", "prd"])
def test_only_named_roles_read_the_state_and_only_administrators_the_bootstraps(stack: str) -> None:
    """Bucket policies deny object access to everyone else, whatever IAM grants (ReadOnlyAccess reads S3)."""
    from tests.iam_eval import Request, resource_policy_denies

    run = bootstrap(stack)
    account = ACCOUNTS[stack]
    platform_state = run.named("bootstrap-state-policy").inputs["policy"]
    own_state = run.named("bootstrap-bootstrap-state-policy").inputs["policy"]
    objects = {
        "platform": (
            f"arn:aws:s3:::platform-{stack}-pulumi-state-{account}/.pulumi/stacks/platform/{stack}.json",
            platform_state,
        ),
        "bootstrap": (f"arn:aws:s3:::platform-{stack}-bootstrap-state-{account}/.pulumi/stacks/x.json", own_state),
    }

    def denied(role: str, which: str) -> bool:
        resource, policy = objects[which]
        return resource_policy_denies(Request(f"arn:aws:iam::{account}:role/{role}", "s3:GetObject", resource), policy)

    for role in (f"platform-{stack}-plan", f"platform-{stack}-deploy-{stack}", f"platform-{stack}-sre"):
        assert not denied(role, "platform"), role
    assert denied("platform-" + stack + "-api-task", "platform")
    assert denied("some-readonly-auditor", "platform")
    assert denied(f"platform-{stack}-deploy-{stack}", "bootstrap")
    assert denied(f"platform-{stack}-plan", "bootstrap")
    assert not denied(f"platform-{stack}-sre", "bootstrap")
    applier = "aws-reserved/sso.amazonaws.com/ap-northeast-1/AWSReservedSSO_AdministratorAccess_abc"
    assert not denied(applier, "bootstrap")
    lock = run.named("bootstrap-bootstrap-state-object-lock").inputs["rule"]["defaultRetention"]
    assert lock == {"days": 90, "mode": "GOVERNANCE"}
    assert run.named("bootstrap-bootstrap-state-logging").inputs["targetPrefix"] == "bootstrap-state/"


def test_a_staging_developer_can_open_an_exec_session_and_never_decrypt_with_the_cluster_key() -> None:
    """The developer role (bootstrap) against the cluster key's policy (platform): both must allow."""
    from tests.conftest import stack_run
    from tests.iam_eval import Request, key_allows

    run, platform = bootstrap("stg"), stack_run("stg")
    account = "210987654321"
    policies = [r.inputs["policy"] for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
                if r.name == "bootstrap-access-developer-inline"]  # fmt: skip
    assert policies, "the developer role has its inline policy"
    key_policy = platform.named("cluster-key").inputs["policy"]
    developer = f"arn:aws:iam::{account}:role/platform-stg-developer"
    for action, tag, allowed in (("kms:GenerateDataKey", "cluster", True), ("kms:Decrypt", "cluster", False),
                                 ("kms:GenerateDataKey", "database-card", False)):  # fmt: skip
        request = Request(developer, action, f"arn:aws:kms:ap-northeast-1:{account}:key/mock-cluster-key",
                          {"kms:CallerAccount": account, "aws:ResourceTag/Component": tag})  # fmt: skip
        assert key_allows(request, key_policy, policies) is allowed, (action, tag)
