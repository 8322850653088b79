"""GitHub's OIDC subjects: the one fact every CI trust policy of the platform is built from.

GitHub puts `repo:<repository>:<context>` in the token's `sub` claim, where `<repository>` is
`OWNER/REPO`, or, for repositories created, renamed or transferred after July 2026 (and those that opt
in), the immutable form `OWNER@OWNER_ID/REPO@REPO_ID`, which survives a rename and cannot be taken
over by whoever registers a freed name (GitHub docs, "OpenID Connect reference"; see
../shared/reference/pr_workflow_anchors.md 6.1). The repository's OIDC settings page shows which
form its tokens carry. Both are accepted here, and a trust policy names exactly one subject
(`StringEquals`), never a wildcard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"[A-Za-z0-9_.-]+"
REPOSITORY_PATTERN = rf"^(?:{_NAME}/{_NAME}|{_NAME}@[0-9]+/{_NAME}@[0-9]+)$"
"""`OWNER/REPO`, or `OWNER@OWNER_ID/REPO@REPO_ID` (both ids, or neither)."""


def subject(repository: str, *, environment: str | None = None, pull_request: bool = False) -> str:
    """The `sub` claim of a job of `repository` (a job's environment takes precedence over its event)."""
    if not re.fullmatch(REPOSITORY_PATTERN, repository):
        raise ValueError(f"{repository!r} is neither OWNER/REPO nor OWNER@OWNER_ID/REPO@REPO_ID")
    if environment is not None:
        return f"repo:{repository}:environment:{environment}"
    if pull_request:
        return f"repo:{repository}:pull_request"
    raise ValueError("give an environment or pull_request=True")


SRE_TEAM = "sre"
"""The team (in the repository owner's organisation) that approves production and owns its code."""


@dataclass(frozen=True)
class Environment:
    """A GitHub deployment environment, the only way a job reaches the role it unlocks.

    GitHub issues a token with `sub = repo:<repository>:environment:<name>` only to a job that passed
    the environment's rules, so these rules, not the workflow file, are the guardrail: the bootstrap
    builds each role's trust from this table, `python -m tools.github_environments apply` writes it to
    the repository, and the nightly drift workflow fails when GitHub's settings differ from it.
    """

    name: str
    role: str
    """The role key (`platform-<env>-<role>`) whose trust names this environment."""
    branches: tuple[str, ...] = ()
    """The only branches whose jobs may use it; empty: every branch (staging is self-serve)."""
    reviewers: tuple[str, ...] = ()
    """Team slugs of which one member must approve each job."""
    prevent_self_review: bool = False
    """Whoever triggered the run cannot approve it."""


def environments(env: str) -> list[Environment]:
    """The environments of one stack's account, sorted by name."""
    main = ("main",)
    if env == "prd":
        found = [
            Environment("prd", "deploy-prd", main, (SRE_TEAM,), prevent_self_review=True),
            Environment("prd-drift", "drift", main),
            Environment("prd-plan", "plan", main),
        ]
    else:
        found = [
            Environment(env, f"deploy-{env}"),
            Environment(f"{env}-drift", "drift", main),
            Environment(f"{env}-plan", "plan"),
        ]
    return sorted(found, key=lambda e: e.name)
