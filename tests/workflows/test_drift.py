"""The nightly drift workflow run whole (runner.WorkflowRun), night after night, against a stand-in of
GitHub's issues API: drift opens one issue per stack, the next night updates that same issue, a night
without drift closes it, and a check that fails is a red run that touches no issue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflows.repo import git
from tests.workflows.runner import ROOT, JobResult, WorkflowRun
from tests.workflows.standins.github_api import FakeGitHub
from tools import github_environments
from tools.github_comment import GitHubError, github

FIXTURES = ROOT / "tests" / "tools" / "fixtures"


CHECKS = ("stg", "prd", "bootstrap-stg", "bootstrap-prd", "stg-databases", "prd-databases")
DRIFT_JOBS = {f"drift[{check}]" for check in CHECKS[:4]} | {"drift-databases[stg]", "drift-databases[prd]"}


def declare_environments(api_url: str) -> None:
    """What an SRE does once (`python -m tools.github_environments apply`), with an admin token."""
    github_environments.apply(github("sre-admin-token", api_url), "acme-payments/platform",
                              github_environments.declared())  # fmt: skip


def night(origin: Path, tmp: Path, api_url: str, fixture: str, exit_code: int = 0) -> dict[str, JobResult]:
    calls = tmp / "pulumi-calls.jsonl"
    env = {"STANDIN_PULUMI_REFRESH_FIXTURE": str(FIXTURES / fixture), "STANDIN_PULUMI_REFRESH_EXIT": str(exit_code),
           "STANDIN_PULUMI_CALLS": str(calls), "GITHUB_API_URL": api_url}  # fmt: skip
    run = WorkflowRun("drift.yml", origin, git(origin, "rev-parse", "main"), tmp, event_name="schedule", env=env)
    results = run.run()
    refreshes = [json.loads(line) for line in calls.read_text().splitlines() if '"refresh"' in line]
    seen = {(c["args"][2], c["project"], c["role"], c["backend"], "--target" in c["args"]) for c in refreshes}
    assert seen == {
        ("stg", "platform", "platform-stg-drift", "s3://platform-stg-pulumi-state-210987654321", False),
        ("prd", "platform", "platform-prd-drift", "s3://platform-prd-pulumi-state-123456789012", False),
        ("stg", "platform-bootstrap", "platform-stg-drift", "s3://platform-stg-bootstrap-state-210987654321", False),
        ("prd", "platform-bootstrap", "platform-prd-drift", "s3://platform-prd-bootstrap-state-123456789012", False),
        ("stg", "platform", "platform-stg-plan", "s3://platform-stg-pulumi-state-210987654321", True),
        ("prd", "platform", "platform-prd-plan", "s3://platform-prd-pulumi-state-123456789012", True),
    }
    for call in refreshes:
        look_only = call["role"].endswith("-drift")
        assert ("--run-program" in call["args"]) is not look_only, "only the databases part runs the program"
        assert ("--exclude" in call["args"]) is look_only
        globs = [call["args"][i + 1] for i, a in enumerate(call["args"]) if a in ("--exclude", "--target")]
        assert all(g.startswith(f"urn:pulumi:{call['args'][2]}::{call['project']}::") for g in globs), globs
        assert "--preview-only" in call["args"]
        assert "--expect-no-changes" not in call["args"]
    return results


def drift_issues(github: FakeGitHub, stack: str) -> list[dict[str, object]]:
    return [i for i in github.issues.values() if str(i["body"]).startswith(f"<!-- platform-drift:{stack} -->\n")]


def test_no_drift_is_green_and_opens_nothing(origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]) -> None:
    github, url = api
    declare_environments(url)
    results = night(origin, tmp_path, url, "refresh_clean.jsonl")
    assert {k: r.conclusion for k, r in results.items()} == dict.fromkeys({*DRIFT_JOBS, "environments"}, "success")
    assert not github.issues
    assert "6 environments match platform_lib/github.py" in results["environments"].steps[-1].output


def test_an_environment_that_lost_its_rules_turns_the_night_red(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    declare_environments(url)
    github.environments["prd-drift"]["deployment_branch_policy"] = None  # someone opened it to every branch
    github.branch_policies["prd-plan"].append({"id": 7, "name": "release/*", "type": "branch"})
    github.environments["prd"]["protection_rules"] = []
    del github.environments["stg-drift"]
    results = night(origin, tmp_path, url, "refresh_clean.jsonl")
    check = results["environments"]
    assert check.conclusion == "failure"
    output = check.steps[-1].output
    assert "prd-drift: every branch may deploy; only main should" in output
    assert "prd-plan: more than main may deploy: release/*" in output
    assert "prd: the team sre is not a required reviewer" in output
    assert "prd: self-review is not prevented" in output
    assert "stg-drift: missing" in output
    assert "stg-plan" not in output, "an environment as declared says nothing"
    assert all(results[k].conclusion == "success" for k in DRIFT_JOBS), "the drift checks still report"


def test_the_workflow_token_cannot_rewrite_the_environments(api: tuple[FakeGitHub, str]) -> None:
    github_api, url = api
    with pytest.raises(GitHubError, match="403"):
        github_environments.apply(github("workflow-token", url), "acme-payments/platform",
                                  github_environments.declared())  # fmt: skip
    assert not github_api.environments


def test_drift_opens_one_issue_per_stack_updates_it_then_closes_it(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    github.add_issue("Drift in prd", "<!-- platform-drift:prd -->\npasted by a person", "mallory")
    github.add_issue("a pull request", "<!-- platform-drift:prd -->\n", "github-actions[bot]", pull_request=True)
    declare_environments(url)
    first = night(origin, tmp_path / "1", url, "refresh_drift.jsonl")
    assert all(r.conclusion == "success" for r in first.values())
    (prd,) = [i for i in drift_issues(github, "prd") if i["user"] == {"login": "github-actions[bot]"} and
              "pull_request" not in i]  # fmt: skip
    body = str(prd["body"])
    assert prd["title"] == "Drift in prd"
    assert "found **3 resource(s)**" in body
    assert "| changed outside Pulumi | `aws:ec2/securityGroup:SecurityGroup` | `api-sg` | `ingress[0]` |" in body
    assert "`retentionInDays`, `tags.x`" in body
    assert "| deleted outside Pulumi | `aws:cloudwatch/metricAlarm:MetricAlarm` | `api-5xx` |" in body
    assert "card-users-reporting" not in body  # unchanged: not drift
    assert len(drift_issues(github, "stg")) == 1
    issues_after_first = len(github.issues)

    night(origin, tmp_path / "2", url, "refresh_drift.jsonl")
    assert len(github.issues) == issues_after_first, "the next night updates the same issue"

    third = night(origin, tmp_path / "3", url, "refresh_clean.jsonl")
    assert all(r.conclusion == "success" for r in third.values())
    ours = [
        i for i in github.issues.values() if i["user"] == {"login": "github-actions[bot]"} and "pull_request" not in i
    ]
    assert [i["state"] for i in ours] == ["closed"] * len(CHECKS)
    assert {i["title"] for i in ours} == {f"Drift in {check}" for check in CHECKS}
    assert all(i["state_reason"] == "completed" for i in ours)
    assert github.issues[1]["state"] == "open", "a person's issue with the marker is never touched"
    assert any("found no drift" in str(c["body"]) for c in github.comments.get(int(str(prd["number"])), []))


def test_a_failed_check_is_red_and_touches_no_issue(origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]) -> None:
    github, url = api
    declare_environments(url)
    night(origin, tmp_path / "1", url, "refresh_drift.jsonl")
    before = json.dumps(github.issues, sort_keys=True)
    results = night(origin, tmp_path / "2", url, "refresh_error.jsonl", exit_code=255)
    assert {results[k].conclusion for k in DRIFT_JOBS} == {"failure"}
    for key in DRIFT_JOBS:
        (refresh,) = [s for s in results[key].steps if s.name.startswith("what would a refresh")]
        assert refresh.outcome == "failure"
        assert not results[key].ran("open, update or close the drift issue")
        assert "connection refused" in refresh.output
    assert json.dumps(github.issues, sort_keys=True) == before, "an open drift issue stays as it was"
