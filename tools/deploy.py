"""Plan, approve, apply; and the nightly drift check. The entry points of the deploy and drift workflows.

    python -m tools.ci plan --stack prd --tunnels          preview, plan record, job summary
    python -m tools.ci apply --stack prd --plan-dir DIR --tunnels   confirm the plan still holds, then up
    python -m tools.ci drift --stack prd                   what a refresh would change (build/drift/<check>.json)
    python -m tools.ci drift --stack prd --part databases --tunnels    the Postgres objects and secret values
    python -m tools.ci drift-report --stack prd            open, update or close the stack's drift issue

A deploy's plan is what its preview showed, in the PR comment's rendering (the job summary an SRE
reads before approving the `prd` environment), and a record of what it was computed from: the commit
and a SHA-256 of the stack's exported state. The pinned CLI has no supported saved plans (`up --plan`
is experimental: tools/pulumi_cli.py), so `apply` re-establishes the plan's premises instead: it refuses
when the commit differs, when the state changed since the plan (another update, a refresh, a `pulumi
state` edit), or when a fresh preview no longer shows exactly the approved changes (same op, resource
and properties); only then does it run `pulumi up`. Anything else an update could still depend on
(an AWS API answer read by an invoke between that preview and the update) is not covered.

`--tunnels` runs scripts/db-tunnels.sh first: the postgresql provider reaches the databases through
SSM port forwarding, and plan, apply and drift must configure it identically.

Standard library only: every step runs with the runner's `python3`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import drift as drift_check
from tools import gha, pulumi_cli
from tools.github_comment import DEFAULT_API, GitHubError, github
from tools.github_issues import close, open_or_update
from tools.pr import PROJECT_DIR
from tools.pr_comment import Preview, RunInfo, from_engine_events, render

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEPLOY_DIR = PROJECT_DIR / "build" / "deploy"
DRIFT_DIR = PROJECT_DIR / "build" / "drift"
RECORD_VERSION = 1


@dataclass(frozen=True)
class Paths:
    out_dir: Path
    stack: str

    def __call__(self, suffix: str) -> Path:
        return self.out_dir / f"{self.stack}.{suffix}"


class Refused(Exception):
    """The plan cannot be applied; the message says why and what to do."""


# ------------------------------------------------------------------------------------------------ pieces


def open_tunnels(stack: str, log: Path, *, cwd: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        done = subprocess.run(["scripts/db-tunnels.sh", stack], cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=600, check=False)  # fmt: skip
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise Refused(f"the database tunnels did not open (exit {done.returncode}): " + " / ".join(tail))


def state_fingerprint(stack: str, paths: Paths, *, cwd: Path) -> str:
    """SHA-256 of `pulumi stack export`: any update, refresh or state edit since changes it."""
    result = pulumi_cli.run(pulumi_cli.export_command(stack), stdout=paths("state.json"), log=paths("export.log"),
                            cwd=cwd, timeout=600)  # fmt: skip
    if result.code != 0:
        raise Refused(f"cannot read the state of {stack} (pulumi stack export exited {result.code}): "
                      + result.log_text.strip()[-500:])  # fmt: skip
    digest = hashlib.sha256(paths("state.json").read_bytes()).hexdigest()
    paths("state.json").unlink()  # it holds the stack's (encrypted) secrets; the digest is enough
    return digest


def preview(stack: str, paths: Paths, *, cwd: Path, source: str) -> Preview:
    result = pulumi_cli.run(pulumi_cli.preview_command(stack), stdout=paths(f"{source}.jsonl"),
                            log=paths(f"{source}.log"), cwd=cwd)  # fmt: skip
    found = from_engine_events(result.output, stack)
    found.source = source
    if result.code != 0:
        if not found.failed:
            found.errors.append(f"pulumi preview exited {result.code}")
        found.log_tail = result.log_text
    return found


def change_set(preview: Preview) -> list[list[Any]]:
    return sorted([c.op, c.urn, list(c.keys)] for c in preview.changes)


def current_commit(cwd: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head.stdout.strip()


# ---------------------------------------------------------------------------------------------- commands


def plan(stack: str, *, tunnels: bool, out_dir: Path = DEPLOY_DIR, cwd: Path = PROJECT_DIR) -> int:
    """Preview `stack` and write its plan: `<stack>.plan.md` (also the job summary) and `<stack>.plan.json`.
    Exits 1 when the preview failed (a program error or a mandatory policy violation): nothing to approve."""
    paths = Paths(out_dir, stack)
    out_dir.mkdir(parents=True, exist_ok=True)
    commit = current_commit(cwd)
    run = RunInfo(commit=commit, run_url=gha.run_url())
    try:
        if tunnels:
            open_tunnels(stack, paths("tunnels.log"), cwd=cwd)
        fingerprint = state_fingerprint(stack, paths, cwd=cwd)
    except Refused as why:
        gha.append_summary(f"### Plan of `{stack}`\n\n:x: {why}")
        print(f"::error::{why}", file=sys.stderr)
        return EXIT_FAILED
    found = preview(stack, paths, cwd=cwd, source="plan")
    body = render(found, run)
    paths("plan.md").write_text(body)
    gha.append_summary(body)
    reason = "; ".join(found.errors) or ("mandatory policy violations" if found.failed else "")
    record = {"version": RECORD_VERSION, "stack": stack, "commit": commit, "state_sha256": fingerprint,
              "changes": change_set(found), "ok": not found.failed, "reason": reason[:2_000]}  # fmt: skip
    paths("plan.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    if found.failed:
        print(f"::error::the plan of {stack} failed: {reason}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{stack}: planned {len(found.changes)} change(s) at {commit[:12]}; wrote {paths('plan.json')}")
    return EXIT_OK


def load_record(stack: str, plan_dir: Path) -> dict[str, Any]:
    path = plan_dir / f"{stack}.plan.json"
    if not path.is_file():
        raise Refused(f"no plan for {stack} in {plan_dir}: the plan job did not produce one")
    record: dict[str, Any] = json.loads(path.read_text())
    if record.get("version") != RECORD_VERSION or record.get("stack") != stack:
        raise Refused(f"{path} is not a plan of {stack} in this format (version {RECORD_VERSION})")
    if record.get("ok") is not True:
        raise Refused(f"the plan of {stack} failed ({record.get('reason')}); there is nothing to apply")
    return record


def check_still_holds(stack: str, record: dict[str, Any], paths: Paths, *, cwd: Path) -> Preview:
    commit = current_commit(cwd)
    if commit != record["commit"]:
        raise Refused(f"the plan is of commit {record['commit'][:12]}, this job has {commit[:12] or 'no commit'}")
    if state_fingerprint(stack, paths, cwd=cwd) != record["state_sha256"]:
        raise Refused(f"the state of {stack} changed since the plan (another update, refresh or state edit): "
                      "start a new run (or 'Re-run all jobs') to plan again")  # fmt: skip
    fresh = preview(stack, paths, cwd=cwd, source="plan")
    if fresh.failed:
        raise Refused(f"the confirming preview of {stack} failed: {'; '.join(fresh.errors) or 'policy violations'}")
    approved, now = record["changes"], change_set(fresh)
    if now != approved:
        added = [c for c in now if c not in approved]
        gone = [c for c in approved if c not in now]
        lines = [f"+ {op} {urn} {keys}" for op, urn, keys in added] + [f"- {op} {urn} {keys}" for op, urn, keys in gone]
        raise Refused(f"{stack} would now do something else than the approved plan; start a new run to plan "
                      "again:\n" + "\n".join(lines[:50]))  # fmt: skip
    return fresh


def apply(stack: str, plan_dir: Path, *, tunnels: bool, out_dir: Path = DEPLOY_DIR, cwd: Path = PROJECT_DIR) -> int:
    """`pulumi up` of `stack`, only when the approved plan still holds."""
    paths = Paths(out_dir, stack)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        record = load_record(stack, plan_dir)
        if tunnels:
            open_tunnels(stack, paths("tunnels.log"), cwd=cwd)
        check_still_holds(stack, record, paths, cwd=cwd)
    except Refused as why:
        gha.append_summary(f"### Apply of `{stack}`\n\n:no_entry: **Not applied.** {why}")
        print(f"::error::not applied: {why}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{stack}: the approved plan still holds ({len(record['changes'])} change(s)); pulumi up")
    result = pulumi_cli.run(pulumi_cli.up_command(stack), stdout=paths("up.log"), log=paths("up.err"), cwd=cwd,
                            live=True)  # fmt: skip
    sys.stderr.write(result.log_text)
    outcome = ":white_check_mark: applied" if result.code == 0 else f":x: `pulumi up` exited {result.code}"
    gha.append_summary(f"### Apply of `{stack}`\n\n{outcome} (commit `{record['commit'][:12]}`).")
    return EXIT_OK if result.code == 0 else EXIT_FAILED


PROJECTS = {"platform": ".", "platform-bootstrap": "bootstrap"}
"""Pulumi project name -> its directory (the drift check reads both)."""


def drift(
    stack: str,
    *,
    tunnels: bool,
    part: str = "resources",
    project: str = "platform",
    out_dir: Path = DRIFT_DIR,
    cwd: Path = PROJECT_DIR,
) -> int:
    """Write `<check>.json` (clean, drift or failed). Exits 1 only when the check itself failed."""
    name = drift_check.check_name(stack, part=part, project=project)
    paths = Paths(out_dir, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths("json").unlink(missing_ok=True)
    try:
        if tunnels:
            open_tunnels(stack, paths("tunnels.log"), cwd=cwd)
    except Refused as why:
        print(f"::error::the drift check of {name} could not run: {why}", file=sys.stderr)
        return EXIT_FAILED
    command = pulumi_cli.refresh_preview_command(stack, project=project, part=part)
    result = pulumi_cli.run(command, stdout=paths("jsonl"), log=paths("log"), cwd=cwd / PROJECTS[project])
    check = drift_check.from_refresh_events(result.output, name, exit_code=result.code)
    paths("json").write_text(json.dumps(check.to_json(), indent=2, sort_keys=True) + "\n")
    if check.status == drift_check.FAILED:
        sys.stderr.write(result.log_text[-20_000:])
        print(f"::error::the drift check of {name} failed: {'; '.join(check.errors)}", file=sys.stderr)
        gha.append_summary(f"### Drift check of `{name}`\n\n:x: The check failed: {'; '.join(check.errors)}")
        return EXIT_FAILED
    if check.status == drift_check.DRIFT:
        print(f"::warning::{name}: {len(check.resources)} resource(s) drifted")
    else:
        print(f"{name}: no drift ({check.checked} resources checked)")
    gha.append_summary(drift_check.issue_body(check, commit=current_commit(cwd), run_url=gha.run_url())
                       if check.resources else f"### Drift check of `{name}`\n\nNo drift.")  # fmt: skip
    return EXIT_OK


def drift_report(
    stack: str,
    *,
    part: str = "resources",
    project: str = "platform",
    out_dir: Path = DRIFT_DIR,
    cwd: Path = PROJECT_DIR,
) -> int:
    """Open or update the check's drift issue, or close it when drift is gone. A failed check touches no issue."""
    name = drift_check.check_name(stack, part=part, project=project)
    path = out_dir / f"{name}.json"
    if not path.is_file():
        print(f"::error::no drift result for {name}: the check did not run", file=sys.stderr)
        return EXIT_FAILED
    check = drift_check.DriftCheck.from_json(json.loads(path.read_text()))
    if check.status == drift_check.FAILED:
        print(f"::error::the drift check of {name} failed; no issue is changed", file=sys.stderr)
        return EXIT_FAILED
    repo, token = os.environ.get("GITHUB_REPOSITORY", ""), os.environ.get("GH_TOKEN", "")
    if not repo or not token:
        print("error: GITHUB_REPOSITORY and GH_TOKEN must be set", file=sys.stderr)
        return EXIT_USAGE
    request = github(token, os.environ.get("GITHUB_API_URL") or DEFAULT_API)
    try:
        if check.status == drift_check.DRIFT:
            body = drift_check.issue_body(check, commit=current_commit(cwd), run_url=gha.run_url())
            print(f"{name}: drift issue {open_or_update(request, repo, title=drift_check.title(name), body=body)}")
        else:
            comment = drift_check.resolved_comment(name, run_url=gha.run_url())
            print(f"{name}: drift issue {close(request, repo, marker=drift_check.marker(name), comment=comment)}")
    except GitHubError as error:
        print(f"::error::{error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
