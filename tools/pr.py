"""The offline PR preview of one stack: base and head, each built from its own tree in its own process.

Used by `python -m tools.ci pr-offline` (the workflow), `make pr-comment BASE=<ref>` (a developer before
pushing) and `make preview` (its change summary). Nothing here imports the program: each run is a child
process (`tools.run_tree`) whose `components` package comes from the tree it builds, so a change to
`components/` alone shows in the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.pr_comment import EvidenceChange, Preview, from_snapshots, offline_verdict

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_DIR / "build" / "pr"
RUN_TIMEOUT_SECONDS = 600
EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_USAGE, EXIT_POLICY = 0, 1, 2, 3


@dataclass
class TreeRun:
    """One offline run of one stack of one tree, started as a child process."""

    tree: Path
    stack: str
    out_dir: Path
    policy: bool
    process: subprocess.Popen[bytes] | None = None
    code: int | None = None

    @property
    def log(self) -> Path:
        return self.out_dir / f"{self.stack}.log"

    @property
    def snapshot(self) -> dict[str, Any] | None:
        path = self.out_dir / f"{self.stack}.json"
        return json.loads(path.read_text()) if self.code in (EXIT_OK, EXIT_POLICY) and path.exists() else None

    @property
    def policy_report(self) -> dict[str, Any] | None:
        path = self.out_dir / f"{self.stack}.policy.json"
        return json.loads(path.read_text()) if self.policy and self.snapshot is not None and path.exists() else None

    def start(self) -> TreeRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.out_dir.glob(f"{self.stack}.*"):
            stale.unlink()
        options = ["--out-dir", str(self.out_dir), "--no-base-diff", *([] if self.policy else ["--no-policy"])]
        command = [
            sys.executable,
            "-m",
            "tools.run_tree",
            "--project-dir",
            str(self.tree),
            "--stack",
            self.stack,
            *options,
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait(self) -> TreeRun:
        assert self.process is not None
        try:
            self.code = self.process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            with self.log.open("a") as log:
                log.write(f"\nerror: the run did not finish within {RUN_TIMEOUT_SECONDS} s and was stopped\n")
            self.code = EXIT_PROGRAM_FAILED
        return self

    def error_text(self) -> str:
        """The end of the run's output, which holds its error message (never a traceback: see tools.preview)."""
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        return "\n".join(lines[-30:])


def offline_preview(stack: str, *, base_tree: Path | None, head_tree: Path = PROJECT_DIR,
                    out_dir: Path = BUILD_DIR) -> tuple[Preview, TreeRun]:  # fmt: skip
    """Build base and head at once, each judged by its own policy pack, and diff them into the offline preview."""
    base, head = start_pair(stack, base_tree=base_tree, head_tree=head_tree, out_dir=out_dir)
    return diff_pair(stack, base.wait() if base else None, head.wait())


def start_pair(
    stack: str, *, base_tree: Path | None, head_tree: Path = PROJECT_DIR, out_dir: Path = BUILD_DIR
) -> tuple[TreeRun | None, TreeRun]:
    base = TreeRun(base_tree, stack, out_dir / stack / "base", policy=True).start() if base_tree else None
    head = TreeRun(head_tree, stack, out_dir / stack / "head", policy=True).start()
    return base, head


def diff_pair(
    stack: str, base: TreeRun | None, head: TreeRun, *, evidence_dir: Path = BUILD_DIR / "compliance"
) -> tuple[Preview, TreeRun]:
    head_snapshot = head.snapshot
    if head_snapshot is None:
        preview = Preview(stack, "offline", errors=[head.error_text() or f"the offline preview exited {head.code}"])
        return preview, head
    base_snapshot = base.snapshot if base else None
    preview = from_snapshots(base_snapshot, head_snapshot)
    if base is not None and base_snapshot is None:
        if base.code == EXIT_USAGE:
            preview.base_failure = f"the base has no stack `{stack}` (Pulumi.{stack}.yaml): every resource is new."
        else:
            preview.base_failure = base.error_text() or f"the base's offline preview exited {base.code}"
    report = head.policy_report
    preview.verdict = offline_verdict(report) if report is not None else None
    base_report = base.policy_report if base else None
    if report is not None and base_report is not None:
        preview.evidence, preview.evidence_report = evidence(base_report, report, evidence_dir)
    return preview, head


def evidence(base: dict[str, Any], head: dict[str, Any], out_dir: Path) -> tuple[list[EvidenceChange], str]:
    """The rules whose verdict differs from the base's and, when any does, the head's evidence report
    (`<out_dir>/<stack>.md`). Imported here: it needs the pack, which the comment step (standard library
    only) does not have."""
    from tools import compliance
    from tools.policy_eval import PolicyReport

    head_report = PolicyReport.from_json(head)
    changes = compliance.verdict_changes(PolicyReport.from_json(base), head_report)
    if not changes:
        return [], ""
    markdown, _ = compliance.write(head_report, out_dir, commit=working_commit() or "unknown")
    return changes, str(markdown.relative_to(PROJECT_DIR) if markdown.is_relative_to(PROJECT_DIR) else markdown)


# ------------------------------------------------------------------------------------------- base trees


class GitError(RuntimeError):
    pass


def git(*args: str, cwd: Path = PROJECT_DIR) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(result.stderr.strip() or f"git {' '.join(args)} exited {result.returncode}")
    return result.stdout.strip()


def resolve(ref: str, cwd: Path = PROJECT_DIR) -> str:
    return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=cwd)


def materialise(ref: str, *, cwd: Path = PROJECT_DIR, trees: Path = BUILD_DIR / "trees") -> tuple[str, Path]:
    """The files of commit `ref` in a directory of their own (kept per commit: a second call is free)."""
    sha = resolve(ref, cwd)
    tree = trees / sha
    if (tree / ".complete").exists():
        return sha, tree
    trees.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=trees) as scratch:
        archive = Path(scratch) / "tree.tar"
        with archive.open("wb") as out:
            done = subprocess.run(["git", "archive", "--format=tar", sha], cwd=cwd, stdout=out, check=False)
        if done.returncode != 0:
            raise GitError(f"git archive {sha} failed")
        unpacked = Path(scratch) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        (unpacked / ".complete").write_text(sha + "\n")
        if tree.exists():  # an interrupted earlier copy
            subprocess.run(["rm", "-rf", str(tree)], check=True)
        os.replace(unpacked, tree)
    return sha, tree


def working_commit(cwd: Path = PROJECT_DIR) -> str:
    """HEAD's sha, marked `+changes` when the working tree differs from it (what `make pr-comment` shows)."""
    try:
        sha = git("rev-parse", "HEAD", cwd=cwd)
        dirty = git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    except GitError:
        return ""
    return f"{sha}+changes" if dirty else sha
