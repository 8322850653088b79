"""IAM roles and policies, GitHub OIDC trust, KMS keys, Secrets Manager, CloudWatch Logs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from platform_policies.framework import Resource, Rule, Stack
from platform_policies.helpers import (
    as_list,
    condition_keys,
    number,
    obj,
    objs,
    principals,
    related,
    statements,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 - a type token
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
GITHUB = "token.actions.githubusercontent.com"
UNSCOPABLE = {
    # Actions AWS does not let you scope to a resource: `*` is the only resource they accept.
    "ecr:getauthorizationtoken", "logs:createlogdelivery", "logs:deletelogdelivery", "logs:describeloggroups",
    "logs:describeresourcepolicies", "logs:getlogdelivery", "logs:listlogdeliveries", "logs:putresourcepolicy",
    "logs:updatelogdelivery", "ssmmessages:createcontrolchannel", "ssmmessages:createdatachannel",
    "ssmmessages:opencontrolchannel", "ssmmessages:opendatachannel", "xray:getsamplingrules",
    "xray:getsamplingtargets", "xray:puttelemetryrecords", "xray:puttracesegments",
}  # fmt: skip
READ_ONLY_PREFIXES = ("describe", "list", "get", "batchget")
BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")


def _documents(r: Resource) -> list[Any]:
    if r.type == ROLE:
        return [p.get("policy") for p in objs(r.get("inlinePolicies"))]
    return [r.get("policy")]


def _no_wildcards(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for document in _documents(r):
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            sid = statement.get("Sid", "?")
            broad = [a for a in statement["Action"] if a == "*" or str(a).endswith(":*")]
            if broad:
                yield f"statement {sid} allows every action of {broad}"
            if "*" in statement["Resource"]:
                writable = [
                    a for a in statement["Action"]
                    if str(a).lower() not in UNSCOPABLE and not str(a).split(":")[-1].lower().startswith(READ_ONLY_PREFIXES)
                ]  # fmt: skip
                if writable:
                    yield f"statement {sid} allows {writable} on every resource"


def _pass_role(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for document in _documents(r):
        for statement in statements(document):
            if statement["Effect"] != "Allow" or not any(
                str(a).lower() in {"iam:passrole", "iam:*", "*"} for a in statement["Action"]
            ):
                continue
            if any("*" in str(resource) for resource in statement["Resource"]):
                yield f"statement {statement.get('Sid', '?')} may pass any role"
            if "iam:passedtoservice" not in condition_keys(statement):
                yield f"statement {statement.get('Sid', '?')} passes roles without an iam:PassedToService condition"


def _trust(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Service trusts pin the source account; GitHub OIDC trusts pin the audience and an exact subject."""
    for statement in statements(r.get("assumeRolePolicy")):
        if statement["Effect"] != "Allow":
            continue
        sid = statement.get("Sid", "?")
        who = principals(statement)
        if "*" in who:
            yield f"trust statement {sid} lets anyone assume the role"
        federated = [p for p in who if GITHUB in p]
        if federated:
            yield from _github_trust(r, statement, config)
        elif any(p.endswith(".amazonaws.com") for p in who) and not condition_keys(statement) & {
            "aws:sourceaccount", "aws:sourcearn",
        }:  # fmt: skip
            yield f"trust statement {sid} lets a service assume the role for any account (no aws:SourceAccount)"


def _github_trust(r: Resource, statement: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    conditions = obj(statement.get("Condition"))
    equals = {k.lower(): v for k, v in obj(conditions.get("StringEquals")).items()}
    if equals.get(f"{GITHUB}:aud") != "sts.amazonaws.com":
        yield "the GitHub OIDC trust does not pin aud to sts.amazonaws.com with StringEquals"
    subjects = as_list(equals.get(f"{GITHUB}:sub"))
    if not subjects:
        yield "the GitHub OIDC trust does not pin an exact sub with StringEquals (any repository could assume it)"
    for operator in conditions:
        if operator.startswith("ForAllValues") or operator == "StringLike":
            yield f"the GitHub OIDC trust uses {operator}, which wildcards or skips the subject"
    name = str(r.get("name") or r.name)
    for marker, required in obj(config.get("environmentRoles")).items():
        if marker in name and any(not str(s).endswith(f":environment:{required}") for s in subjects):
            yield f"role {name} must be assumable only from the GitHub environment {required!r}; subjects: {subjects}"


def _no_broad_managed(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    arn = str(r.get("policyArn", ""))
    if arn.startswith("arn:aws:iam::aws:policy/") and (
        arn.rsplit("/", 1)[-1] in BROAD_MANAGED or arn.endswith("FullAccess")
    ):
        yield f"the role gets the AWS-managed {arn.rsplit('/', 1)[-1]}"


def _key(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    """A key's own settings, and its policy whether inline or a standalone `aws.kms.KeyPolicy`."""
    if r.type == KEY_POLICY:
        yield from _key_policy(r)
        return
    symmetric = r.get("keyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT" and (
        r.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    )
    if symmetric and r.get("enableKeyRotation") is not True:
        yield "the key is not rotated"
    yield from _key_policy(r)


def _key_policy(r: Resource) -> Iterator[str]:
    if r.get("bypassPolicyLockoutSafetyCheck") is True:
        yield "the key bypasses the policy lockout safety check"
    for statement in statements(r.get("policy")):
        if statement["Effect"] == "Allow" and "*" in principals(statement) and not statement.get("Condition"):
            yield f"key policy statement {statement.get('Sid', '?')} allows anyone"


KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
           "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant")  # fmt: skip
"""What reads or writes data under a key (a grant lets its grantee do the same)."""


def _account_uses_unconditionally(policy: Any) -> Iterator[str]:
    """Statements that let the whole account use the key with no condition: the default key policy's
    `kms:*` to the root, which leaves the decision to every IAM policy in the account."""
    for statement in statements(policy):
        accounts = [p for p in principals(statement) if p.endswith(":root") or (p.isdigit() and len(p) == 12)]
        uses = [a for a in KEY_USE if any(fnmatchcase(a.lower(), x.lower()) for x in statement["Action"])]
        if statement["Effect"] == "Allow" and accounts and uses and not statement.get("Condition"):
            actions = ", ".join(a.removeprefix("kms:") for a in uses)
            sid = statement.get("Sid", "?")
            yield f"key policy statement {sid} lets any IAM principal of the account use the key ({actions}) unconditionally"


def _key_policy_scoped(stack: Stack, _: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in stack.of_type(KEY):
        with stack.deciding(key):
            standalone = related(stack, KEY_POLICY, "keyId", key, key.props.known("id"), key.props.known("arn"))
            documents = [p.get("policy") for p in standalone] or [key.get("policy")]
            if all(d is None for d in documents):
                yield key.urn, "the key has no policy of its own: the default gives the account's IAM policies its use"
            for document in documents:
                for finding in _account_uses_unconditionally(document):
                    yield key.urn, finding


def _secret(r: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if not r.get("kmsKeyId"):
        yield f"secret {r.get('name')} is encrypted with the AWS-managed key, not a customer-managed one"


def _retention(r: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    days = number(r.get("retentionInDays"), 0)
    minimum = number(config.get("minimumDays"), 30)
    if not days:
        yield f"log group {r.get('name')} keeps logs forever (no retention)"
    elif days < minimum:
        yield f"log group {r.get('name')} keeps logs {days} days; at least {minimum}"


RULES = [
    Rule(id="iam-least-privilege", description="IAM policies allow no `*` or `service:*` actions, and nothing "
         "that writes on every resource.", why="Wildcards grant far more than the code needs; a leaked role then "
         "reaches everything.", fix="List the actions and scope them to ARNs (platform_lib/iam.py refuses wildcards).",
         anchors="cdk-nag AwsSolutions-IAM5; FSBP IAM.1, IAM.21", types=(ROLE, ROLE_POLICY, POLICY), check=_no_wildcards),
    Rule(id="iam-passrole-scoped", description="iam:PassRole names the roles and the service they are passed to.",
         why="Passing any role to any service is privilege escalation.",
         fix="Scope Resource to the task/execution role ARNs and add StringEquals iam:PassedToService.",
         anchors="cdk-nag AwsSolutions-IAM5", types=(ROLE, ROLE_POLICY, POLICY), check=_pass_role),
    Rule(id="iam-trust-scoped", description="Role trust policies pin the source account for services, and the "
         "audience and an exact subject for GitHub OIDC (deploy-prd: only the prd environment).",
         why="Without them another account's service, or any GitHub repository or branch, could assume the role.",
         fix="Add aws:SourceAccount/aws:SourceArn; for GitHub StringEquals on aud and sub.",
         anchors="platform; AWS confused-deputy guidance; GitHub OIDC hardening", types=(ROLE,), check=_trust,
         config={"environmentRoles": {"type": "object", "default": {"deploy-prd": "prd", "deploy-stg": "stg"}}}),
    Rule(id="iam-no-broad-managed-policies", description="Roles get no AWS-managed administrator or *FullAccess "
         "policies.", why="They grant whole services or the whole account.", fix="Write a scoped inline policy.",
         anchors="cdk-nag AwsSolutions-IAM4", types=(ATTACHMENT,), check=_no_broad_managed),
    Rule(id="kms-key-hygiene", description="KMS keys rotate, keep the lockout check, and allow no one "
         "unconditionally (in the key's policy or a standalone key policy).",
         why="Rotation limits exposure; a public key policy lets anyone decrypt.",
         fix="enable_key_rotation=True; name principals in the key policy.",
         anchors="cdk-nag AwsSolutions-KMS5; FSBP KMS.5; checkov CKV_AWS_7", types=(KEY, KEY_POLICY), check=_key),
    Rule(id="kms-key-policy-scoped", description="Every key has its own policy, and no statement lets the whole "
         "account use it unconditionally: use is only through named services (kms:ViaService) or by named "
         "principals (aws:PrincipalArn, service principals with aws:SourceArn).",
         why="The default key policy hands the key to every IAM policy of the account: one role with kms:* on * "
         "then decrypts card data directly, outside the service that owns it.",
         fix="Build the policy with platform_lib.iam.service_only_key_policy (administration by the account, use "
         "through services) plus the statements naming who uses the key directly.",
         anchors="PCI DSS 3.6.1, 7.2.1; FSBP KMS.1, KMS.2 (the same exposure in identity policies); cdk-nag "
         "AwsSolutions-KMS5 (rotation) is kms-key-hygiene", types=(KEY, KEY_POLICY), stack_check=_key_policy_scoped),
    Rule(id="secrets-customer-key", description="Secrets are encrypted with a customer-managed KMS key.",
         why="The key policy and its audit trail then control who can read credentials.",
         fix="Set kms_key_id to the area's key.", anchors="checkov CKV_AWS_149", types=(SECRET,), check=_secret),
    Rule(id="log-retention", description="Log groups keep logs for a set time, at least the configured minimum.",
         why="Unbounded retention is cost and exposure; too short loses the evidence of an incident.",
         fix="Set retention_in_days (the environment profile decides it).",
         anchors="cdk-nag CloudWatchLogGroupRetentionPeriod; checkov CKV_AWS_66", types=(LOG_GROUP,),
         check=_retention, severity=Severity.MEDIUM, level=EnforcementLevel.MANDATORY,
         config={"minimumDays": {"type": "integer", "default": 30}}),
]  # fmt: skip
