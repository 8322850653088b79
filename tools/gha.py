"""What a step knows of its GitHub Actions run: the event, the commit, a link to the run, the job summary.

Standard library only. Outside Actions every function degrades to "nothing known" (an empty event,
the working tree's commit, no link, no summary), so the same entry points run on a laptop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tools.pr import working_commit


def event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    loaded = json.loads(Path(path).read_text())
    return loaded if isinstance(loaded, dict) else {}


def commit() -> str:
    """The commit a step describes: a PR's head (not GitHub's merge commit), else the pushed commit."""
    pull = event().get("pull_request") or {}
    return str((pull.get("head") or {}).get("sha") or os.environ.get("GITHUB_SHA") or working_commit())


def run_url() -> str:
    server, repo, run_id = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
    attempt = os.environ.get("GITHUB_RUN_ATTEMPT", "")
    if url and attempt and attempt != "1":
        url += f"/attempts/{attempt}"
    return url


def append_summary(markdown: str) -> None:
    """Add to the job's summary page (what a reviewer of a deployment sees before approving it)."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(markdown.rstrip("\n") + "\n\n")


def from_fork(payload: dict[str, Any]) -> bool:
    """A fork's pull_request token is read-only: it cannot comment (403), so the job summary carries the body."""
    pull = payload.get("pull_request") or {}
    head_repo = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    base_repo = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
    return bool(pull) and head_repo != base_repo
