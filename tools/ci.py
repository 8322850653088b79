"""The entry points the workflows and `make` call: all logic of the PR path lives here, tested; YAML only calls it.

    python -m tools.ci pr-offline --stack stg --base-dir base   offline base-vs-head comment (no credentials)
    python -m tools.ci pr-engine --stack stg                    real `pulumi preview` with the policy pack
    python -m tools.ci comment --stack stg --source offline     post or update the sticky comment
    python -m tools.ci verdict --stack stg --source offline     fail the job when that preview failed
    python -m tools.ci pr-comment --base origin/main [--stack stg]   the offline comments, locally
    python -m tools.ci plan | apply | drift | drift-report ...   deploys and drift (tools/deploy.py)
    python -m tools.ci environments-check                     GitHub's environments as declared (nightly)

Every render command writes `build/pr/<stack>.md` (offline) or `build/pr/<stack>.engine.md` (engine): the
exact body that is posted, and a verdict file beside it; it exits 0 whenever a body was written,
whatever the verdict, so the comment is posted even when the preview failed. `verdict` turns the
verdict into the job's result last. Exit codes: 0 ok, 1 the preview failed (verdict) or the command could
not do its job, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tools import deploy, gha, github_environments, pulumi_cli
from tools.github_comment import DEFAULT_API, GitHubError, github, upsert
from tools.pr import BUILD_DIR, PROJECT_DIR, GitError, diff_pair, materialise, start_pair, working_commit
from tools.pr_comment import SOURCES, Preview, RunInfo, from_engine_events, from_preview_digest, render

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Outputs:
    """Where a stack's comment, verdict and raw output go."""

    stack: str
    source: str
    out_dir: Path = BUILD_DIR

    @property
    def body(self) -> Path:
        return self.out_dir / (f"{self.stack}.md" if self.source == "offline" else f"{self.stack}.{self.source}.md")

    @property
    def verdict(self) -> Path:
        return self.body.with_suffix(".verdict.json")

    def raw(self, suffix: str) -> Path:
        return self.out_dir / f"{self.stack}.{self.source}.{suffix}"


def run_info() -> RunInfo:
    """The commit the comment describes (a PR's head, not GitHub's merge commit) and a link to this run."""
    return RunInfo(commit=gha.commit(), run_url=gha.run_url())


def write_result(outputs: Outputs, preview: Preview, run: RunInfo) -> str:
    body = render(preview, run)
    outputs.out_dir.mkdir(parents=True, exist_ok=True)
    outputs.body.write_text(body)
    reason = "; ".join(preview.errors) or (
        f"{len(preview.verdict.of('mandatory'))} mandatory policy violation(s)" if preview.failed and preview.verdict
        else ""
    )  # fmt: skip
    verdict = {"stack": outputs.stack, "source": outputs.source, "ok": not preview.failed, "reason": reason[:2_000]}
    outputs.verdict.write_text(json.dumps(verdict, indent=2, sort_keys=True) + "\n")
    gha.append_summary(body)
    return body


# ------------------------------------------------------------------------------------------------ commands


def pr_offline(stack: str, base_dir: Path | None, *, head_dir: Path = PROJECT_DIR, out_dir: Path = BUILD_DIR) -> int:
    """The offline comment of one stack: base and head each from its own tree, in parallel processes."""
    missing_base = base_dir is not None and not (base_dir / "Pulumi.yaml").is_file()
    base_tree = None if missing_base else base_dir
    base, head = start_pair(stack, base_tree=base_tree, head_tree=head_dir, out_dir=out_dir / "runs")
    preview, head_run = diff_pair(
        stack, base.wait() if base else None, head.wait(), evidence_dir=out_dir / "compliance"
    )
    if missing_base:
        preview.base_failure = f"the base tree `{base_dir}` was not checked out (an earlier step failed)."
    if preview.errors:
        preview.log_tail = head_run.log.read_text(errors="replace")
    write_result(Outputs(stack, "offline", out_dir), preview, run_info())
    print(f"{stack}: wrote {Outputs(stack, 'offline', out_dir).body}")
    return EXIT_OK


def pr_comment(base_ref: str, stacks: list[str], *, out_dir: Path = BUILD_DIR) -> int:
    """`make pr-comment`: the offline comment of the working tree against `base_ref`, for each stack."""
    try:
        sha, base_tree = materialise(base_ref)
    except GitError as error:
        print(f"error: cannot read the base {base_ref!r}: {error}", file=sys.stderr)
        return EXIT_USAGE
    pairs = {stack: start_pair(stack, base_tree=base_tree, out_dir=out_dir / "runs") for stack in stacks}
    run = RunInfo(commit=working_commit())
    for stack, (base, head) in pairs.items():
        preview, head_run = diff_pair(
            stack, base.wait() if base else None, head.wait(), evidence_dir=out_dir / "compliance"
        )
        if preview.errors:
            preview.log_tail = head_run.log.read_text(errors="replace")
        outputs = Outputs(stack, "offline", out_dir)
        write_result(outputs, preview, run)
        verdict = "fails" if preview.failed else "passes"
        print(f"{stack}: {outputs.body} ({verdict}; base {base_ref} = {sha[:12]})")
    (out_dir / "base.json").write_text(json.dumps({"ref": base_ref, "sha": sha}, sort_keys=True) + "\n")
    return EXIT_OK


def pr_engine(stack: str, *, out_dir: Path = BUILD_DIR, cwd: Path = PROJECT_DIR) -> int:
    """Run the real `pulumi preview` (credentials come from the environment) and write its comment."""
    outputs = Outputs(stack, "engine", out_dir)
    result = pulumi_cli.run(pulumi_cli.preview_command(stack), stdout=outputs.raw("jsonl"), log=outputs.raw("log"),
                            cwd=cwd)  # fmt: skip
    text = result.output
    preview = from_engine_events(text, stack)
    if not preview.changes and preview.verdict is None and text.lstrip().startswith("{") and "\n{" not in text:
        preview = from_preview_digest(text, stack)  # a CLI that ignores the streaming variable
    if result.code != 0:
        if not preview.failed:  # a mandatory violation explains the exit code by itself
            preview.errors.append(f"pulumi preview exited {result.code}")
        preview.log_tail = result.log_text
    write_result(outputs, preview, run_info())
    print(f"{stack}: pulumi preview exited {result.code}; wrote {outputs.body}")
    return EXIT_OK


def fallback_body(outputs: Outputs, run: RunInfo) -> str:
    """The comment when no body was rendered: an earlier step failed before the preview could run."""
    preview = Preview(
        outputs.stack,
        outputs.source,
        errors=["an earlier step of the job failed before this preview could run; the run's log says which"],
    )
    return render(preview, run)


def comment(stack: str, source: str, *, out_dir: Path = BUILD_DIR) -> int:
    outputs = Outputs(stack, source, out_dir)
    run = run_info()
    body = outputs.body.read_text() if outputs.body.is_file() else fallback_body(outputs, run)
    payload = gha.event()
    number = (payload.get("pull_request") or {}).get("number")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if not number or not repo:
        print("error: no pull request in GITHUB_EVENT_PATH, or GITHUB_REPOSITORY unset", file=sys.stderr)
        return EXIT_USAGE
    if gha.from_fork(payload):
        print(f"::notice::a fork's token cannot comment; the {SOURCES[source]} of {stack} is in the job summary")
        if not outputs.body.is_file():
            gha.append_summary(body)
        return EXIT_OK
    token = os.environ.get("GH_TOKEN", "")
    if not token:
        print("error: GH_TOKEN is not set", file=sys.stderr)
        return EXIT_USAGE
    request = github(token, os.environ.get("GITHUB_API_URL") or DEFAULT_API)
    try:
        print(f"{stack} ({source}): comment {upsert(request, repo, int(number), body)}")
    except GitHubError as error:
        if error.status == 403:
            print(f"::warning::the token may not comment ({error}); the job summary has the preview")
            return EXIT_OK
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def verdict(stack: str, source: str, *, out_dir: Path = BUILD_DIR) -> int:
    path = Outputs(stack, source, out_dir).verdict
    if not path.is_file():
        print(f"::error::no verdict for {stack} ({source}): an earlier step failed", file=sys.stderr)
        return EXIT_FAILED
    result = json.loads(path.read_text())
    if result.get("ok") is True:
        print(f"{stack} ({source}): the preview passed")
        return EXIT_OK
    print(f"::error::{stack} ({source}): {result.get('reason') or 'the preview failed'}", file=sys.stderr)
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ci", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    offline = commands.add_parser("pr-offline", help="offline base-vs-head comment of one stack")
    offline.add_argument("--stack", required=True)
    offline.add_argument("--base-dir", type=Path, required=True, help="the base branch's checkout")
    local = commands.add_parser("pr-comment", help="the offline comments of the working tree against a base")
    local.add_argument("--base", default="origin/main", help="git ref of the base (default origin/main)")
    local.add_argument("--stack", action="append", help="a stack (repeatable; default: every stack file)")
    engine = commands.add_parser("pr-engine", help="real pulumi preview of one stack, with the policy pack")
    engine.add_argument("--stack", required=True)
    for name in ("comment", "verdict"):
        sub = commands.add_parser(name)
        sub.add_argument("--stack", required=True)
        sub.add_argument("--source", choices=["engine", "offline"], required=True)
    for name, text in (("plan", "preview a deploy and record its plan"), ("drift", "what a refresh would change")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--stack", required=True)
        sub.add_argument("--tunnels", action="store_true", help="open the database tunnels first")
    applying = commands.add_parser("apply", help="pulumi up, when the approved plan still holds")
    applying.add_argument("--stack", required=True)
    applying.add_argument("--plan-dir", type=Path, required=True, help="where the plan job's record was downloaded")
    applying.add_argument("--tunnels", action="store_true", help="open the database tunnels first")
    commands.add_parser("environments-check", help="GitHub's environment rules against platform_lib/github.py")
    report = commands.add_parser("drift-report", help="open, update or close the check's drift issue")
    report.add_argument("--stack", required=True)
    for sub in (report, commands.choices["drift"]):
        sub.add_argument(
            "--part",
            choices=pulumi_cli.DRIFT_PARTS,
            default="resources",
            help="resources (the look-only drift role) or databases (the plan role, tunnels)",
        )
        sub.add_argument("--project", choices=sorted(deploy.PROJECTS), default="platform")
    args = parser.parse_args(argv)
    if args.command == "plan":
        return deploy.plan(args.stack, tunnels=args.tunnels)
    if args.command == "apply":
        return deploy.apply(args.stack, args.plan_dir, tunnels=args.tunnels)
    if args.command == "drift":
        return deploy.drift(args.stack, tunnels=args.tunnels, part=args.part, project=args.project)
    if args.command == "environments-check":
        return github_environments.main(["check"])
    if args.command == "drift-report":
        return deploy.drift_report(args.stack, part=args.part, project=args.project)
    if args.command == "pr-offline":
        return pr_offline(args.stack, args.base_dir)
    if args.command == "pr-comment":
        stacks = args.stack or sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
        return pr_comment(args.base, stacks)
    if args.command == "pr-engine":
        return pr_engine(args.stack)
    if args.command == "comment":
        return comment(args.stack, args.source)
    return verdict(args.stack, args.source)


if __name__ == "__main__":
    sys.exit(main())
