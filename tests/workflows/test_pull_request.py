"""The pull-request workflow, every job's steps run as GitHub runs them (see runner.py for what is a stand-in).

Each test builds a repository from this working tree (the base commit) plus one scenario commit (the
head), then runs a job twice, as two pushes would, each time in a fresh clone, against a stand-in of
GitHub's comment API. It checks the job's result, that exactly one comment per stack and source exists
afterwards, and that the comment names the commit it describes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workflows.repo import commit, git
from tests.workflows.runner import ROOT, STANDINS, Job, JobResult, evaluate
from tests.workflows.standins.github_api import FakeGitHub

FIXTURES = ROOT / "tests" / "tools" / "fixtures"
PR = 7


Change = Callable[[Path], None]


def head_commit(origin: Path, branch: str, change: Change) -> tuple[str, str]:
    """Base and head shas: `change` applied on a branch from main."""
    base = git(origin, "rev-parse", "main")
    git(origin, "checkout", "-q", "-B", branch, base)
    change(origin)
    head = commit(origin, branch)
    git(origin, "checkout", "-q", "main")
    return base, head


def event(base: str, head: str, *, fork: bool = False) -> dict[str, object]:
    return {
        "number": PR,
        "pull_request": {
            "number": PR,
            "base": {"sha": base, "repo": {"full_name": "acme-payments/platform"}},
            "head": {"sha": head, "repo": {"full_name": "someone/platform" if fork else "acme-payments/platform"}},
        },
    }


def run_job(origin: Path, tmp: Path, job: str, *, base: str, head: str, api_url: str, **options: object) -> JobResult:
    workspace = tmp / "work" / "repo"
    workspace.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(workspace)], check=True)
    git(workspace, "checkout", "-q", head)
    env = {"GITHUB_API_URL": api_url, **{k: str(v) for k, v in dict(options.pop("env", {})).items()}}  # type: ignore[call-overload]
    return Job("pull-request.yml", job, workspace, event(base, head, fork=bool(options.pop("fork", False))),
               env=env, artifacts=tmp / "artifacts", **options).run()  # type: ignore[arg-type]  # fmt: skip


def comments(github: FakeGitHub, source: str, stack: str = "stg") -> list[dict[str, object]]:
    marker = f"<!-- platform-preview:{stack}:{source} -->"
    return [c for c in github.comments.get(PR, []) if str(c["body"]).startswith(marker)]


def engine_env(tmp: Path, fixture: str, exit_code: int = 0) -> dict[str, str]:
    return {"STANDIN_PULUMI_FIXTURE": str(FIXTURES / fixture), "STANDIN_PULUMI_EXIT": str(exit_code),
            "STANDIN_PULUMI_CALLS": str(tmp / "pulumi-calls.jsonl")}  # fmt: skip


OFFLINE = {"matrix": {"stack": "stg"}}
STEPS_OFFLINE = ("offline preview of base and head", "post or update the comment",
                 "fail on a program failure or a mandatory policy violation")  # fmt: skip


def longer_log_retention(repo: Path) -> None:
    path = repo / "components" / "cluster.py"
    text = path.read_text()
    assert "retention_in_days=ctx.profile.log_retention_days," in text
    path.write_text(text.replace("retention_in_days=ctx.profile.log_retention_days,", "retention_in_days=3653,", 1))


def disable_a_rule_on_stg(repo: Path) -> None:
    path = repo / "policies" / "config" / "stg.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "elb-tls": "disabled"}, indent=2) + "\n")


def rename_card_database(repo: Path) -> None:
    path = repo / "Pulumi.stg.yaml"
    path.write_text(path.read_text().replace("databaseName: card\n", "databaseName: cards\n", 1))


def break_stack_config(repo: Path) -> None:
    path = repo / "Pulumi.stg.yaml"
    path.write_text(path.read_text().replace("databaseName: card\n", "databaseName: 'card; drop'\n", 1))


# --------------------------------------------------------------------------------------------- offline


def test_a_component_only_change_shows_in_the_offline_comment_one_comment_after_two_pushes(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    base, head = head_commit(origin, "component-change", longer_log_retention)
    first = run_job(origin, tmp_path / "1", "offline-preview", base=base, head=head, api_url=url, **OFFLINE)
    assert first.conclusion == "success", [(s.name, s.outcome, s.output[-2000:]) for s in first.steps]
    git(origin, "checkout", "-q", "component-change")
    (origin / "README.md").write_text((origin / "README.md").read_text() + "\n")
    second_head = commit(origin, "second push")
    git(origin, "checkout", "-q", "main")
    second = run_job(origin, tmp_path / "2", "offline-preview", base=base, head=second_head, api_url=url, **OFFLINE)
    assert second.conclusion == "success"
    (only,) = comments(github, "offline")
    body = str(only["body"])
    assert f"commit `{second_head[:12]}`" in body
    assert "actions/runs/4242" in body
    assert "| ~ update | `aws:cloudwatch/logGroup:LogGroup` |" in body
    assert "`retentionInDays`" in body
    assert "No changes." not in body
    assert body in second.summary
    assert "PCI DSS evidence changes" not in body  # no verdict changed: nothing to link, nothing kept
    assert not (tmp_path / "2" / "artifacts" / "compliance-stg").exists()


def test_a_changed_verdict_links_the_evidence_report_kept_as_an_artifact(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    """The base is judged by its own policy config: disabling a rule in the head's shows as a change."""
    github, url = api
    base, head = head_commit(origin, "disable-rule", disable_a_rule_on_stg)
    result = run_job(origin, tmp_path, "offline-preview", base=base, head=head, api_url=url, **OFFLINE)
    assert result.conclusion == "success", [(s.name, s.outcome, s.output[-2000:]) for s in result.steps]
    (only,) = comments(github, "offline")
    body = str(only["body"])
    assert "**PCI DSS evidence changes**: 1 rule verdict(s) differ from the base" in body
    assert "| `elb-tls` | passes | **disabled** | 4.2.1 |" in body
    assert "kept as artifact `compliance-stg` of the [workflow run](" in body
    kept = tmp_path / "artifacts" / "compliance-stg"
    assert "`elb-tls` (disabled): **disabled**" in (kept / "stg.md").read_text()
    assert json.loads((kept / "stg.json").read_text())["stack"] == "stg"


def test_renaming_the_card_database_replaces_its_schemas_with_a_caution(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    base, head = head_commit(origin, "rename-card-db", rename_card_database)
    result = run_job(origin, tmp_path, "offline-preview", base=base, head=head, api_url=url, **OFFLINE)
    assert result.conclusion == "success"
    (only,) = comments(github, "offline")
    caution = str(only["body"]).split("> [!CAUTION]")[1].split("\n\n")[0]
    assert "**replace** `postgresql:index/schema:Schema` `card-pg-schema-clearing` because of `database`" in caution
    assert "| ~ update | `postgresql:index/database:Database` | `card-pg-database` | `name` |" in str(only["body"])


def test_a_program_error_is_commented_and_fails_the_job_twice_one_comment(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    base, head = head_commit(origin, "broken-config", break_stack_config)
    for attempt in ("1", "2"):
        result = run_job(origin, tmp_path / attempt, "offline-preview", base=base, head=head, api_url=url, **OFFLINE)
        assert [result.step(name).outcome for name in STEPS_OFFLINE] == ["success", "success", "failure"]
    (only,) = comments(github, "offline")
    assert ":x: **The preview failed.**" in str(only["body"])
    assert "databaseName" in str(only["body"])
    assert f"commit `{head[:12]}`" in str(only["body"])


def test_a_base_that_was_not_checked_out_still_yields_the_heads_verdict(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    _, head = head_commit(origin, "bad-base", longer_log_retention)
    result = run_job(origin, tmp_path, "offline-preview", base="f" * 40, head=head, api_url=url, **OFFLINE)
    assert result.step("check out the base branch into base/").outcome == "failure"
    assert result.ran("offline preview of base and head")
    assert result.ran("post or update the comment")
    (only,) = comments(github, "offline")
    body = str(only["body"])
    assert "The base could not be built" in body
    assert "was not checked out" in body
    assert "**Policy pack** `platform-standards` :white_check_mark: passes" in body


# ---------------------------------------------------------------------------------------------- engine


@pytest.mark.parametrize(
    ("fixture", "exit_code", "conclusion", "expected"),
    [
        ("engine_clean.jsonl", 0, "success", "| 1 | 1 | 0 | 0 | 1 |"),
        ("engine_replace.jsonl", 0, "success", "**replace** `aws:rds/instance:Instance` `card-instance`"),
        ("engine_mandatory.jsonl", 1, "failure", "| mandatory | `s3-versioning` | `mail-bucket` |"),
        ("engine_program_error.jsonl", 1, "failure", "memory=3000 does not fit cpu=1024"),
    ],
)
def test_real_preview_comment_from_the_engine_events_one_comment_after_two_runs(  # noqa: PLR0917 - pytest parameters
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str], fixture: str, exit_code: int, conclusion: str,
    expected: str,
) -> None:  # fmt: skip
    github, url = api
    base, head = head_commit(origin, f"engine-{fixture}", longer_log_retention)
    for attempt in ("1", "2"):
        env = engine_env(tmp_path, fixture, exit_code)
        result = run_job(origin, tmp_path / attempt, "preview-stg", base=base, head=head, api_url=url, env=env)
        assert result.conclusion == conclusion, [(s.name, s.outcome, s.output[-1500:]) for s in result.steps]
        assert result.step("post or update the comment").outcome == "success"
    (only,) = comments(github, "engine")
    assert expected in str(only["body"])
    assert f"commit `{head[:12]}`" in str(only["body"])
    calls = [json.loads(line) for line in (tmp_path / "pulumi-calls.jsonl").read_text().splitlines()]
    preview = [c for c in calls if c["args"][:1] == ["preview"]]
    assert len(preview) == 2
    assert all(c["streaming"] == "true" and c["backend"].startswith("s3://") for c in preview)
    assert preview[0]["args"][-4:] == ["--policy-pack", "policies", "--policy-pack-config", "policies/config/stg.json"]


def test_a_failure_before_the_preview_still_comments_and_fails(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    base, head = head_commit(origin, "oidc-refused", longer_log_retention)
    for attempt in ("1", "2"):
        env = engine_env(tmp_path, "engine_clean.jsonl")
        result = run_job(
            origin, tmp_path / attempt, "preview-stg", base=base, head=head, api_url=url, env=env, fail_credentials=True
        )
        assert not result.ran("pulumi preview of stg with the policy pack")
        assert result.step("post or update the comment").outcome == "success"
        assert result.step("fail when the preview failed").outcome == "failure"
    (only,) = comments(github, "engine")
    assert "an earlier step of the job failed" in str(only["body"])
    assert f"commit `{head[:12]}`" in str(only["body"])


def test_a_marker_in_somebody_elses_comment_is_never_edited(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    base, head = head_commit(origin, "impostor", longer_log_retention)
    impostor = github.add(PR, "<!-- platform-preview:stg:engine -->\nlooks official", "mallory")
    result = run_job(
        origin,
        tmp_path,
        "preview-stg",
        base=base,
        head=head,
        api_url=url,
        env=engine_env(tmp_path, "engine_clean.jsonl"),
    )
    assert result.conclusion == "success"
    assert impostor["body"] == "<!-- platform-preview:stg:engine -->\nlooks official"
    assert [c["user"]["login"] for c in comments(github, "engine")] == ["mallory", "github-actions[bot]"]  # type: ignore[index]


def test_a_fork_gets_the_job_summary_and_no_real_preview(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    github.read_only = True
    base, head = head_commit(origin, "fork", break_stack_config)
    document = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "if: github.event.pull_request.head.repo.full_name == github.repository" in document
    context = {"github": {"event": event(base, head, fork=True), "repository": "acme-payments/platform"}}
    assert (
        evaluate("github.event.pull_request.head.repo.full_name == github.repository", context, {"failed": False})
        is False
    )
    result = run_job(origin, tmp_path, "offline-preview", base=base, head=head, api_url=url, fork=True, **OFFLINE)
    assert result.step("post or update the comment").outcome == "success"
    assert not github.comments.get(PR)
    assert ("POST", f"/repos/acme-payments/platform/issues/{PR}/comments") not in github.requests
    assert "<!-- platform-preview:stg:offline -->" in result.summary
    assert ":x: **The preview failed.**" in result.summary


def test_the_stand_in_cli_is_labelled_as_such() -> None:
    assert "STAND-IN" in (STANDINS / "pulumi").read_text().split("\n", 3)[1]
