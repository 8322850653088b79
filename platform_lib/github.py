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
