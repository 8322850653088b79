"""IAM policy documents as JSON: one statement per purpose, scoped to ARNs, keys sorted.

Built with `pulumi.Output.json_dumps` (no `getPolicyDocument` invoke), so a document renders the
same under mocks and for real, and two runs produce byte-identical JSON (no spurious diffs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

Statement = dict[str, Any]
Conditions = Mapping[str, Mapping[str, Any]]

_SID = re.compile(r"^[A-Za-z0-9]+$")
VERSION = "2012-10-17"


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]] | None = None,
    *,
    effect: str = "Allow",
    principals: Mapping[str, Any] | None = None,
    conditions: Conditions | None = None,
    not_actions: bool = False,
    not_resources: bool = False,
) -> Statement:
    """One statement. An Allow with a bare `*` or `service:*` action is refused: least privilege is not
    optional here. (A Deny may be broad: denying more is the safe direction.) `not_actions` and
    `not_resources` (Deny only: an Allow of "all but" is a wildcard) write NotAction / NotResource."""
    if (not_actions or not_resources) and effect != "Deny":
        raise ValueError(f"statement {sid}: NotAction/NotResource only in a Deny")
    if not _SID.match(sid):
        raise ValueError(f"Sid {sid!r} must be alphanumeric (IAM rejects other characters)")
    broad = [a for a in actions if a == "*" or a.endswith(":*")]
    if broad and effect == "Allow":
        raise ValueError(f"statement {sid}: wildcard actions {broad} are not allowed; list the actions")
    if not actions:
        raise ValueError(f"statement {sid}: no actions")
    result: Statement = {"Sid": sid, "Effect": effect, ("NotAction" if not_actions else "Action"): sorted(set(actions))}
    if resources is not None:
        result["NotResource" if not_resources else "Resource"] = list(resources)
    if principals is not None:
        result["Principal"] = dict(principals)
    if conditions:
        result["Condition"] = {test: dict(values) for test, values in conditions.items()}
    return result


def policy_document(*statements: Statement) -> pulumi.Output[str]:
    """A policy document whose values may be Outputs (ARNs); keys sorted for stable diffs."""
    return pulumi.Output.json_dumps({"Version": VERSION, "Statement": list(statements)}, sort_keys=True)


def static_policy_document(*statements: Statement) -> str:
    """Same as policy_document, for documents with no Outputs in them (trust policies)."""
    return json.dumps({"Version": VERSION, "Statement": list(statements)}, sort_keys=True)


def service_trust_policy(service: str, *, source_account: str, source_arn: str | None = None) -> str:
    """Trust for an AWS service principal, pinned to our account (and source ARN) against confused deputies."""
    conditions: dict[str, dict[str, Any]] = {"StringEquals": {"aws:SourceAccount": source_account}}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return static_policy_document(
        statement(
            "TrustService",
            ["sts:AssumeRole"],
            principals={"Service": service},
            conditions=conditions,
        )
    )


def logs_may_encrypt(sid: str, region: str, log_groups: str) -> Statement:
    """The key-policy statement that lets CloudWatch Logs encrypt the named log groups (an ARN, or an
    ARN pattern) with the key: the encryption context names the group (CloudWatch Logs guide,
    "Encrypt log data using AWS KMS")."""
    return statement(
        sid,
        ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        ["*"],
        principals={"Service": f"logs.{region}.amazonaws.com"},
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
    )


def key_policy(account_id: str, *statements: Statement) -> pulumi.Output[str]:
    """A KMS key policy: the account administers the key through IAM (AWS's default, and what keeps a key
    from becoming unmanageable), plus the service statements a key needs (who may encrypt, decrypt)."""
    account = {
        "Sid": "AccountAdministersThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return policy_document(account, *statements)


KEY_ADMINISTRATION = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]  # fmt: skip
"""Managing a key without using it: no Decrypt, Encrypt, GenerateDataKey or CreateGrant."""
KEY_USE_THROUGH_SERVICES = [
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*",
]  # fmt: skip


def exec_session_statements(account_id: str, *, task_roles: str, operators: list[str]) -> list[Statement]:
    """Who uses an ECS Exec session key directly (not through a service): the SSM agent in a task decrypts
    with the task role's credentials, and whoever starts a session asks KMS for its data key (ECS guide,
    "Monitor ECS Exec": `kms:Decrypt` for the task role, `kms:GenerateDataKey` for the caller). Both are
    named by `aws:PrincipalArn` over the account root, so the roles need not exist when the key is made
    and their identity policies must allow it too."""
    root = {"AWS": f"arn:aws:iam::{account_id}:root"}
    return [
        statement("TaskRolesDecryptExecSessions", ["kms:Decrypt"], ["*"], principals=root,
                  conditions={"ArnLike": {"aws:PrincipalArn": task_roles}}),
        statement("OperatorsOpenExecSessions", ["kms:GenerateDataKey"], ["*"], principals=root,
                  conditions={"ArnEquals": {"aws:PrincipalArn": sorted(operators)}}),
    ]  # fmt: skip


def service_only_key_policy(
    account_id: str, region: str, services: list[str], *statements: Statement
) -> pulumi.Output[str]:
    """A data key that the account administers through IAM but uses only through the named services
    (`kms:ViaService`): an IAM principal may decrypt a database's secrets through Secrets Manager (with
    secretsmanager:GetSecretValue on that secret), never by calling KMS itself, so kms:* in an identity
    policy no longer reaches the data. Grants, which RDS makes for storage and backups, only for AWS
    resources. Service principals (CloudWatch Logs) come as `statements`, scoped by encryption context."""
    root = {"AWS": f"arn:aws:iam::{account_id}:root"}
    via = {"kms:CallerAccount": account_id, "kms:ViaService": sorted(f"{s}.{region}.amazonaws.com" for s in services)}
    return policy_document(
        statement("AccountAdministersThroughIam", KEY_ADMINISTRATION, ["*"], principals=root),
        statement(
            "AccountUsesOnlyThroughServices", KEY_USE_THROUGH_SERVICES, ["*"], principals=root,
            conditions={"StringEquals": via},
        ),
        statement(
            "ServicesGrantOnlyForAwsResources", ["kms:CreateGrant", "kms:ListGrants"], ["*"], principals=root,
            conditions={"StringEquals": via, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        *statements,
    )  # fmt: skip


ENDPOINT_RESOURCELESS_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "ecr.api": ("ecr:GetAuthorizationToken",),
    "logs": ("logs:DescribeLogGroups",),
    "ssmmessages": ("ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"),
    "sts": ("sts:GetCallerIdentity",),
}  # fmt: skip
"""Actions the tasks call through an endpoint that name no resource, so carry no resource account: allowed
to this account's principals by name, in case `aws:ResourceAccount` is absent from their request."""
ENDPOINT_AWS_OWNED: Mapping[str, tuple[str, ...]] = {"s3": ("arn:aws:s3:::prod-{region}-starport-layer-bucket/*",)}
"""AWS-owned resources the tasks read through an endpoint: ECR keeps image layers in this bucket, read
through the S3 gateway endpoint at every image pull (ECR guide, "Amazon ECR interface VPC endpoints")."""


def endpoint_policy(account_id: str, region: str, service: str) -> str:
    """The policy of a VPC endpoint: only this account's principals, and only to this account's resources
    (plus the AWS-owned ones listed above). Stolen or foreign credentials used inside the VPC, and uploads
    to another account's bucket or queue, stop at the endpoint. It limits who and where, not what: identity
    policies grant the actions (so `Action: *` here, which `statement` refuses for identity policies).
    After the resource perimeter of aws-samples/data-perimeter-policy-examples, per account (no organization)."""
    ours = {"aws:PrincipalAccount": account_id}
    anyone = {"AWS": "*"}
    statements: list[Statement] = [
        {"Sid": "OurPrincipalsToOurResources", "Effect": "Allow", "Principal": anyone, "Action": "*",
         "Resource": "*", "Condition": {"StringEquals": {**ours, "aws:ResourceAccount": account_id}}},
    ]  # fmt: skip
    if service in ENDPOINT_RESOURCELESS_ACTIONS:
        statements.append(
            {"Sid": "OurPrincipalsActionsWithoutAResource", "Effect": "Allow", "Principal": anyone,
             "Action": sorted(ENDPOINT_RESOURCELESS_ACTIONS[service]), "Resource": "*",
             "Condition": {"StringEquals": ours}}
        )  # fmt: skip
    if service in ENDPOINT_AWS_OWNED:
        statements.append(
            {"Sid": "OurPrincipalsReadAwsOwnedResources", "Effect": "Allow", "Principal": anyone,
             "Action": "s3:GetObject", "Resource": [r.format(region=region) for r in ENDPOINT_AWS_OWNED[service]],
             "Condition": {"StringEquals": ours}}
        )  # fmt: skip
    return static_policy_document(*statements)
