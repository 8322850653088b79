"""Create or update the one PR comment that starts with a marker (the sticky preview comment).

`python -m tools.github_comment --repo org/repo --pr 12 --body build/comment.md` with GH_TOKEN set.
Standard library only. Pages through every comment, unlike actions that read the first page and post
duplicates on long pull requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

API = "https://api.github.com"
Request = Callable[[str, str, dict[str, Any] | None], Any]


def github(token: str) -> Request:
    def request(method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - a fixed https API
            f"{API}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    return request


def upsert(request: Request, repo: str, pr: int, body: str) -> str:
    """Update the comment whose first line is the body's marker, or create it. Returns `created`/`updated`."""
    marker = body.splitlines()[0]
    page = 1
    while True:
        comments = request("GET", f"/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", None)
        for comment in comments:
            if str(comment.get("body", "")).startswith(marker):
                request("PATCH", f"/repos/{repo}/issues/comments/{comment['id']}", {"body": body})
                return "updated"
        if len(comments) < 100:
            break
        page += 1
    request("POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
    return "created"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.github_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--pr", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args(argv)
    token = os.environ.get("GH_TOKEN")
    if not token:
        print("GH_TOKEN is not set", file=sys.stderr)
        return 2
    print(upsert(github(token), args.repo, args.pr, args.body.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
