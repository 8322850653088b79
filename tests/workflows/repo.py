"""Test repositories for workflow-step tests: this working tree as the first commit of a fresh repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.workflows.runner import ROOT


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def copy_of_this_tree(repo: Path) -> Path:
    """A repository whose first commit is this working tree as it is (committed or not)."""
    files = git(ROOT, "ls-files", "-co", "--exclude-standard").splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(source.read_bytes())
            (repo / name).chmod(source.stat().st_mode)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base")
    return repo
