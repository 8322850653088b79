"""Create or update the one sticky PR comment of a stack and source, through GitHub's REST API.

Standard library only. Pages through every comment (actions that read only the first page post
duplicates on long pull requests) and matches a comment only when it starts with the body's marker
*and* was written by the workflow's own token (`github-actions[bot]`), so a marker pasted by anybody
else is never edited. The API base comes from `GITHUB_API_URL`, as GitHub sets it on its runners (and
GitHub Enterprise Server needs it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

DEFAULT_API = "https://api.github.com"
WORKFLOW_TOKEN_AUTHOR = "github-actions[bot]"  # noqa: S105 - a login, not a secret
"""The login of comments written with a workflow's GITHUB_TOKEN."""
Request = Callable[[str, str, dict[str, Any] | None], Any]


class GitHubError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status


def github(token: str, api: str = DEFAULT_API) -> Request:
    if not api.startswith(("https://", "http://")):
        raise ValueError(f"GITHUB_API_URL must be an http(s) URL, not {api!r}")

    def request(method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            f"{api.rstrip('/')}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - http(s) only
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise GitHubError(error.code, detail) from None

    return request


def upsert(request: Request, repo: str, pr: int, body: str, *, author: str = WORKFLOW_TOKEN_AUTHOR) -> str:
    """Update the comment of `author` whose first line is the body's marker, or create it.

    Returns `created`, `updated` or `unchanged`. When several such comments exist (from an older
    version of this tool), the newest is updated and the others are left for a person to delete.
    """
    marker = body.splitlines()[0]
    found: dict[str, Any] | None = None
    page = 1
    while True:
        comments = request("GET", f"/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", None)
        for comment in comments:
            login = str((comment.get("user") or {}).get("login", ""))
            if login == author and str(comment.get("body", "")).startswith(marker + "\n"):
                found = comment
        if len(comments) < 100:
            break
        page += 1
    if found is None:
        request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
        return "created"
    if found.get("body") == body:
        return "unchanged"
    request("PATCH", f"/repos/{repo}/issues/comments/{found['id']}", {"body": body})
    return "updated"
