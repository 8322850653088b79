"""IAM documents: sorted, scoped, and wildcard actions refused at build time."""

from __future__ import annotations

import json

import pytest

from platform_lib.iam import service_trust_policy, statement, static_policy_document
from tests.conftest import config_of
from tools.mock_runtime import ProgramRun


def test_statement_sorts_and_dedupes_actions() -> None:
    built = statement("Read", ["s3:GetObject", "s3:GetObject", "s3:GetBucketLocation"], ["arn:aws:s3:::b/*"])
    assert built["Action"] == ["s3:GetBucketLocation", "s3:GetObject"]


@pytest.mark.parametrize("action", ["*", "s3:*"])
def test_wildcard_actions_are_refused(action: str) -> None:
    with pytest.raises(ValueError, match="wildcard actions"):
        statement("All", [action], ["*"])


@pytest.mark.parametrize("sid", ["has-dash", "has space", ""])
def test_sid_must_be_alphanumeric(sid: str) -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        statement(sid, ["s3:GetObject"], ["arn:aws:s3:::b/*"])


def test_documents_are_byte_stable() -> None:
    one = static_policy_document(
        statement("B", ["sqs:SendMessage"], ["arn:q"]), statement("A", ["sqs:ReceiveMessage"], ["arn:q"])
    )
    assert one == static_policy_document(
        statement("B", ["sqs:SendMessage"], ["arn:q"]), statement("A", ["sqs:ReceiveMessage"], ["arn:q"])
    )
    assert list(json.loads(one)) == ["Statement", "Version"]


def test_service_trust_is_pinned_to_the_account() -> None:
    trust = json.loads(
        service_trust_policy("states.amazonaws.com", source_account="123456789012", source_arn="arn:aws:states:*")
    )
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Service": "states.amazonaws.com"}
    assert stmt["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:states:*"},
    }


def test_every_role_the_program_creates_carries_the_workload_boundary(platform: ProgramRun) -> None:
    """The deploy role may create no role without it (bootstrap guardrails), so a role without it fails
    `pulumi up` half-way: this catches it offline, for any new component."""
    general = config_of(platform).general
    boundary = f"arn:aws:iam::{general.account_id}:policy/platform-{general.environment}-workload-boundary"
    roles = platform.of_type("aws:iam/role:Role")
    assert roles
    for role in roles:
        assert role.inputs.get("permissionsBoundary") == boundary, role.name
