"""A small IAM policy evaluator for tests: enough of AWS's evaluation logic to prove guardrails.

Same-account only. An explicit Deny in any policy wins; otherwise an identity request needs an Allow
in an identity policy (and in the permissions boundary, if the role has one). For a KMS key the key
policy is authoritative: a statement naming the principal allows by itself; a statement naming the
account root delegates to IAM, so the identity policies must allow too. Wildcards (`*`, `?`) in
actions and ARNs; conditions with the String*, Arn* and Bool operators (a `Not` operator is true
when the key is absent, as in AWS; `...IfExists` too). Not modelled: SCPs, sessions policies, cross-account rules,
`NotPrincipal`, policy variables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

ADMINISTRATOR_ACCESS = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class Request:
    principal: str
    """The role ARN making the request."""
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    @property
    def account_root(self) -> str:
        return f"arn:aws:iam::{self.principal.split(':')[4]}:root"

    def keys(self) -> dict[str, str]:
        """As AWS fills them: the principal's ARN and account; the resource's account when its ARN names one
        (an S3 ARN does not: a test gives the bucket owner as `aws:ResourceAccount`)."""
        derived = {"aws:PrincipalArn": self.principal, "aws:PrincipalAccount": self.principal.split(":")[4]}
        parts = self.resource.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            derived["aws:ResourceAccount"] = parts[4]
        return {**derived, **self.context}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _document(policy: str | dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(policy) if isinstance(policy, str) else policy
    return parsed


def _matches_action(statement: dict[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(fnmatchcase(action.lower(), str(a).lower()) for a in _list(statement["Action"]))
    return not any(fnmatchcase(action.lower(), str(a).lower()) for a in _list(statement["NotAction"]))


def _matches_resource(statement: dict[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(fnmatchcase(resource, str(r)) for r in _list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(fnmatchcase(resource, str(r)) for r in _list(statement["NotResource"]))
    return True


def _condition_holds(operator: str, key: str, expected: Any, keys: dict[str, str]) -> bool:
    if operator.endswith("IfExists"):
        operator = operator.removesuffix("IfExists")
        if key not in keys:
            return True
    negated = "Not" in operator
    if key not in keys:
        return negated
    actual = keys[key]
    base = operator.replace("Not", "")
    if base in ("StringEquals", "ArnEquals"):
        hit = any(actual == str(v) for v in _list(expected))
    elif base in ("StringLike", "ArnLike"):
        hit = any(fnmatchcase(actual, str(v)) for v in _list(expected))
    elif base == "Bool":
        hit = any(actual.lower() == str(v).lower() for v in _list(expected))
    else:
        raise ValueError(f"operator {operator} is not modelled")
    return hit != negated


def _conditions_hold(statement: dict[str, Any], keys: dict[str, str]) -> bool:
    return all(
        _condition_holds(operator, key, expected, keys)
        for operator, block in statement.get("Condition", {}).items()
        for key, expected in block.items()
    )


def _applies(statement: dict[str, Any], request: Request) -> bool:
    return (
        _matches_action(statement, request.action)
        and _matches_resource(statement, request.resource)
        and _conditions_hold(statement, request.keys())
    )


def _effects(policies: list[str | dict[str, Any]], request: Request) -> set[str]:
    return {s["Effect"] for p in policies for s in _list(_document(p)["Statement"]) if _applies(s, request)}


def identity_allows(
    request: Request, policies: list[str | dict[str, Any]], boundary: str | dict[str, Any] | None = None
) -> bool:
    effects = _effects(policies, request)
    if "Deny" in effects or "Allow" not in effects:
        return False
    if boundary is not None:
        bounded = _effects([boundary], request)
        return "Allow" in bounded and "Deny" not in bounded
    return True


def key_allows(request: Request, key_policy: str | dict[str, Any], policies: list[str | dict[str, Any]]) -> bool:
    """A KMS request: the key policy decides, delegating to IAM only through the account root."""
    direct, delegated, denied = False, False, False
    for statement in _list(_document(key_policy)["Statement"]):
        if not _applies(statement, request):
            continue
        principals = (
            _list(statement.get("Principal", {}).get("AWS", [])) if isinstance(statement.get("Principal"), dict) else []
        )
        if statement.get("Principal") == "*" or "*" in principals:
            principals = [request.principal]
        if statement["Effect"] == "Deny" and request.principal in [*principals, request.account_root]:
            denied = True
        elif request.principal in principals:
            direct = True
        elif request.account_root in principals:
            delegated = True
    if denied or "Deny" in _effects(policies, request):
        return False
    return direct or (delegated and identity_allows(request, policies))


def resource_policy_denies(request: Request, policy: str | dict[str, Any]) -> bool:
    """Whether a resource policy (a bucket policy) explicitly denies the request: a Deny there beats any
    identity grant, ReadOnlyAccess's `s3:Get*` included."""
    for statement in _list(_document(policy)["Statement"]):
        if statement["Effect"] != "Deny" or not _applies(statement, request):
            continue
        principal = statement.get("Principal")
        aws = _list(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]
        if "*" in aws or request.principal in aws:
            return True
    return False


def endpoint_allows(request: Request, policy: str | dict[str, Any]) -> bool:
    """Whether a VPC endpoint's policy lets the request through (identity policies still decide after it)."""
    effects = _effects([policy], request)
    return "Allow" in effects and "Deny" not in effects
