"""References to Secrets Manager secrets and the IAM statements that read them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pulumi

from platform_lib.iam import Statement, statement


@dataclass(frozen=True)
class SecretRef:
    """A secret and the KMS key it is encrypted with: reading it needs both."""

    arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None = None
    """None for secrets encrypted with the AWS managed key (aws/secretsmanager)."""


def secret_read_statements(refs: Sequence[SecretRef], *, region: str) -> list[Statement]:
    """GetSecretValue on exactly these secrets; Decrypt on their keys, only through Secrets Manager."""
    statements = [statement("ReadSecrets", ["secretsmanager:GetSecretValue"], [ref.arn for ref in refs])]
    keys = [ref.kms_key_arn for ref in refs if ref.kms_key_arn is not None]
    if keys:
        conditions = {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}
        statements.append(statement("DecryptSecrets", ["kms:Decrypt"], keys, conditions=conditions))
    return statements


def as_secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`value` marked secret, typed (Output.secret's own annotation does not infer)."""
    return cast(pulumi.Output[str], pulumi.Output.secret(value))
