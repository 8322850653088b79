"""The one open drift issue of a stack, through GitHub's REST API: opened, rewritten, or closed.

Standard library only. Open issues are paged through in full (the list also returns pull requests,
which are skipped) and an issue is ours only when its body starts with the stack's marker *and* the
workflow's own token wrote it, as for PR comments (tools/github_comment.py).
"""

from __future__ import annotations

from typing import Any

from tools.github_comment import WORKFLOW_TOKEN_AUTHOR, Request


def find_open(
    request: Request, repo: str, marker: str, *, author: str = WORKFLOW_TOKEN_AUTHOR
) -> dict[str, Any] | None:
    """The newest open issue of `author` whose body starts with `marker`."""
    found: dict[str, Any] | None = None
    page = 1
    while True:
        issues = request("GET", f"/repos/{repo}/issues?state=open&per_page=100&page={page}", None)
        for issue in issues:
            login = str((issue.get("user") or {}).get("login", ""))
            body = str(issue.get("body") or "")
            if "pull_request" in issue or login != author or not body.startswith(marker + "\n"):
                continue
            if found is None or int(issue["number"]) > int(found["number"]):
                found = issue
        if len(issues) < 100:
            return found
        page += 1


def open_or_update(request: Request, repo: str, *, title: str, body: str) -> str:
    """`opened #n`, `updated #n` or `unchanged #n`."""
    issue = find_open(request, repo, body.splitlines()[0])
    if issue is None:
        created = request("POST", f"/repos/{repo}/issues", {"title": title, "body": body})
        return f"opened #{created['number']}"
    if issue.get("body") == body:
        return f"unchanged #{issue['number']}"
    request("PATCH", f"/repos/{repo}/issues/{issue['number']}", {"title": title, "body": body})
    return f"updated #{issue['number']}"


def close(request: Request, repo: str, *, marker: str, comment: str) -> str:
    """`closed #n`, or `none open`."""
    issue = find_open(request, repo, marker)
    if issue is None:
        return "none open"
    request("POST", f"/repos/{repo}/issues/{issue['number']}/comments", {"body": comment})
    request("PATCH", f"/repos/{repo}/issues/{issue['number']}", {"state": "closed", "state_reason": "completed"})
    return f"closed #{issue['number']}"
