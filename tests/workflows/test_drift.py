"""The nightly drift workflow run whole (runner.WorkflowRun), night after night, against a stand-in of
GitHub's issues API: drift opens one issue per stack, the next night updates that same issue, a night
without drift closes it, and a check that fails is a red run that touches no issue."""

from __future__ import annotations

import json
from pathlib import Path

from tests.workflows.repo import git
from tests.workflows.runner import ROOT, JobResult, WorkflowRun
from tests.workflows.standins.github_api import FakeGitHub

FIXTURES = ROOT / "tests" / "tools" / "fixtures"


def night(origin: Path, tmp: Path, api_url: str, fixture: str, exit_code: int = 0) -> dict[str, JobResult]:
    calls = tmp / "pulumi-calls.jsonl"
    env = {"STANDIN_PULUMI_REFRESH_FIXTURE": str(FIXTURES / fixture), "STANDIN_PULUMI_REFRESH_EXIT": str(exit_code),
           "STANDIN_PULUMI_CALLS": str(calls), "GITHUB_API_URL": api_url}  # fmt: skip
    run = WorkflowRun("drift.yml", origin, git(origin, "rev-parse", "main"), tmp, event_name="schedule", env=env)
    results = run.run()
    refreshes = [json.loads(line) for line in calls.read_text().splitlines() if '"refresh"' in line]
    assert {(c["args"][2], c["role"]) for c in refreshes} == {
        ("stg", "platform-stg-plan"),
        ("prd", "platform-prd-plan"),
    }
    assert all("--run-program" in c["args"] and "--preview-only" in c["args"] for c in refreshes)
    assert all("--expect-no-changes" not in c["args"] for c in refreshes)
    return results


def drift_issues(github: FakeGitHub, stack: str) -> list[dict[str, object]]:
    return [i for i in github.issues.values() if str(i["body"]).startswith(f"<!-- platform-drift:{stack} -->\n")]


def test_no_drift_is_green_and_opens_nothing(origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]) -> None:
    github, url = api
    results = night(origin, tmp_path, url, "refresh_clean.jsonl")
    assert {k: r.conclusion for k, r in results.items()} == {"drift[stg]": "success", "drift[prd]": "success"}
    assert not github.issues


def test_drift_opens_one_issue_per_stack_updates_it_then_closes_it(
    origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]
) -> None:
    github, url = api
    github.add_issue("Drift in prd", "<!-- platform-drift:prd -->\npasted by a person", "mallory")
    github.add_issue("a pull request", "<!-- platform-drift:prd -->\n", "github-actions[bot]", pull_request=True)
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
    assert [i["state"] for i in ours] == ["closed", "closed"]
    assert all(i["state_reason"] == "completed" for i in ours)
    assert github.issues[1]["state"] == "open", "a person's issue with the marker is never touched"
    assert any("found no drift" in str(c["body"]) for c in github.comments.get(int(str(prd["number"])), []))


def test_a_failed_check_is_red_and_touches_no_issue(origin: Path, tmp_path: Path, api: tuple[FakeGitHub, str]) -> None:
    github, url = api
    night(origin, tmp_path / "1", url, "refresh_drift.jsonl")
    before = json.dumps(github.issues, sort_keys=True)
    results = night(origin, tmp_path / "2", url, "refresh_error.jsonl", exit_code=255)
    assert {r.conclusion for r in results.values()} == {"failure"}
    for result in results.values():
        assert result.step("what would a refresh change").outcome == "failure"
        assert not result.ran("open, update or close the drift issue")
        assert "connection refused" in result.step("what would a refresh change").output
    assert json.dumps(github.issues, sort_keys=True) == before, "an open drift issue stays as it was"
