"""The deploy workflows run whole, as GitHub schedules them (runner.WorkflowRun; see runner.py for the stand-ins).

A push to main plans and applies stg, then plans prd and waits for the `prd` environment's approval,
then applies prd only if the approved plan still holds. The stand-in CLI records every call with the
role its credentials came from, so the tests can say which role did what, and in which order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.repo import commit, git
from tests.workflows.runner import ROOT, JobResult, WorkflowRun

FIXTURES = ROOT / "tests" / "tools" / "fixtures"
Approver = Callable[[str, dict[str, JobResult]], bool]


def state_dir(tmp: Path) -> Path:
    states = tmp / "states"
    states.mkdir(parents=True, exist_ok=True)
    for stack in ("stg", "prd"):
        deployment = {"version": 3, "deployment": {"manifest": {"time": "2026-12-01T00:00:00Z"}, "resources": []}}
        (states / f"{stack}.json").write_text(json.dumps(deployment))
    return states


def deploy(
    origin: Path, tmp: Path, *, workflow: str = "deploy.yml", ref: str = "refs/heads/main", sha: str | None = None,
    approve: Approver | None = None, **env: str,
) -> tuple[dict[str, JobResult], WorkflowRun, list[dict[str, Any]]]:  # fmt: skip
    calls = tmp / "pulumi-calls.jsonl"
    settings = {"STANDIN_PULUMI_FIXTURE": str(FIXTURES / "engine_clean.jsonl"), "STANDIN_PULUMI_CALLS": str(calls),
                "STANDIN_PULUMI_STATE_DIR": str(state_dir(tmp)), **env}  # fmt: skip
    run = WorkflowRun(workflow, origin, sha or git(origin, "rev-parse", "main"), tmp / "run", ref=ref, env=settings,
                      approve=approve or (lambda _environment, _done: True))  # fmt: skip
    results = run.run()
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] if calls.is_file() else []
    return results, run, recorded


def engine_calls(calls: list[dict[str, Any]], stack: str) -> list[tuple[str, str]]:
    """(command, role) of each call for `stack` that touched the engine or the state."""
    return [(" ".join(c["args"][:2]) if c["args"][0] == "stack" else c["args"][0], c["role"])
            for c in calls if stack in c["args"] and c["args"][0] in {"stack", "preview", "up"}]  # fmt: skip


def failures(results: dict[str, JobResult]) -> list[tuple[str, str, str]]:
    return [(job, s.name, s.output[-1500:]) for job, r in results.items() for s in r.steps if s.outcome == "failure"]


def test_a_prd_deploy_plans_waits_for_approval_of_that_plan_then_applies_it(origin: Path, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    def approve(environment: str, done: dict[str, JobResult]) -> bool:
        if environment == "prd":  # what an SRE reads before approving: the plan job's summary
            assert done["prd/plan"].conclusion == "success"
            seen["summary"] = done["prd/plan"].summary
        return True

    results, run, calls = deploy(origin, tmp_path, approve=approve)
    assert {job: r.conclusion for job, r in results.items()} == {
        "stg/plan": "success", "stg/apply": "success", "prd/plan": "success", "prd/apply": "success",
    }, failures(results)  # fmt: skip
    assert run.approvals == ["stg-plan", "stg", "prd-plan", "prd"]
    assert "<!-- platform-preview:prd:plan -->" in seen["summary"]
    assert "### Pulumi preview of `prd` (deploy plan)" in seen["summary"]
    assert f"commit `{run.sha[:12]}`" in seen["summary"]
    assert "**Policy pack** `platform-standards` :white_check_mark: passes" in seen["summary"]
    # the plan job reads with the plan role; the apply job checks the state and the plan, then updates
    assert engine_calls(calls, "prd") == [
        ("stack export", "platform-prd-plan"), ("preview", "platform-prd-plan"),
        ("stack export", "platform-prd-deploy-prd"), ("preview", "platform-prd-deploy-prd"),
        ("up", "platform-prd-deploy-prd"),
    ]  # fmt: skip
    up = next(c for c in calls if c["args"][0] == "up" and "prd" in c["args"])
    assert up["args"][-4:] == ["--policy-pack", "policies", "--policy-pack-config", "policies/config/prd.json"]
    # prd starts only after stg applied the same commit
    order = [(c["args"][0], c["args"][c["args"].index("--stack") + 1]) for c in calls if "--stack" in c["args"]]
    assert order.index(("up", "stg")) < min(i for i, (_, stack) in enumerate(order) if stack == "prd")
    # the databases were reached through the tunnels, the same way in every job
    tunnels = [c["args"] for c in calls if c["args"][:2] == ["config", "set"] and "prd" in c["args"]]
    assert ["config", "set", "--stack", "prd", "--path", "platform:databases.card.adminHost", "localhost"] in tunnels
    assert len(tunnels) == 8  # two databases x host and port x plan and apply
    assert ":white_check_mark: applied" in results["prd/apply"].summary


def test_a_failed_prd_preview_never_reaches_approval_or_up(origin: Path, tmp_path: Path) -> None:
    results, run, calls = deploy(
        origin, tmp_path, STANDIN_PULUMI_FIXTURE_PRD=str(FIXTURES / "engine_program_error.jsonl"),
        STANDIN_PULUMI_EXIT="0",
    )  # fmt: skip
    assert results["stg/apply"].conclusion == "success"
    assert results["prd/plan"].conclusion == "failure"
    assert results["prd/apply"].conclusion == "skipped"
    assert "prd" not in run.approvals
    assert ":x: **The preview failed.**" in results["prd/plan"].summary
    assert ("up", "platform-prd-deploy-prd") not in engine_calls(calls, "prd")


def test_a_mandatory_policy_violation_fails_the_plan(origin: Path, tmp_path: Path) -> None:
    results, _, calls = deploy(origin, tmp_path, workflow="deploy-stg.yml", ref="refs/heads/feature",
                               STANDIN_PULUMI_FIXTURE=str(FIXTURES / "engine_mandatory.jsonl"))  # fmt: skip
    assert results["stg/plan"].conclusion == "failure"
    assert results["stg/apply"].conclusion == "skipped"
    assert "| mandatory | `s3-versioning` | `mail-bucket` |" in results["stg/plan"].summary
    assert not [c for c in calls if c["args"][0] == "up"]


def test_a_rejected_prd_approval_applies_nothing(origin: Path, tmp_path: Path) -> None:
    results, _, calls = deploy(origin, tmp_path, approve=lambda environment, _done: environment != "prd")
    assert results["prd/apply"].rejected
    assert not any(s.outcome != "skipped" for s in results["prd/apply"].steps)
    assert [c for c in calls if c["args"][0] == "up"] == [
        next(c for c in calls if c["args"][:3] == ["up", "--stack", "stg"])
    ]


@pytest.mark.parametrize("what", ["state", "changes"])
def test_apply_refuses_when_the_approved_plan_no_longer_holds(origin: Path, tmp_path: Path, what: str) -> None:
    states = tmp_path / "states"

    def approve(environment: str, _done: dict[str, JobResult]) -> bool:
        if environment == "stg" and what == "state":  # another update landed while the plan waited
            (states / "stg.json").write_text((states / "stg.json").read_text().replace("12-01", "12-02"))
        return True

    changed = {"STANDIN_PULUMI_CHANGED_FIXTURE": str(FIXTURES / "engine_replace.jsonl")} if what == "changes" else {}
    results, _, calls = deploy(origin, tmp_path, workflow="deploy-stg.yml", ref="refs/heads/feature",
                               approve=approve, **changed)  # fmt: skip
    assert results["stg/plan"].conclusion == "success"
    assert results["stg/apply"].conclusion == "failure"
    summary = results["stg/apply"].summary
    assert ":no_entry: **Not applied.**" in summary
    assert ("changed since the plan" if what == "state" else "something else than the approved plan") in summary
    assert not [c for c in calls if c["args"][0] == "up"]


def test_a_branch_reaches_stg_only_and_main_s_deploy_only_runs_on_main(origin: Path, tmp_path: Path) -> None:
    git(origin, "checkout", "-q", "-B", "feature")
    (origin / "README.md").write_text((origin / "README.md").read_text() + "\n")
    sha = commit(origin, "feature")
    git(origin, "checkout", "-q", "main")
    results, _, calls = deploy(origin, tmp_path / "branch", workflow="deploy-stg.yml", ref="refs/heads/feature",
                                 sha=sha)  # fmt: skip
    assert set(results) == {"stg/plan", "stg/apply"}
    assert results["stg/apply"].conclusion == "success", failures(results)
    assert not [c for c in calls if "prd" in c["args"]]
    elsewhere, _, calls = deploy(origin, tmp_path / "main-file", ref="refs/heads/feature", sha=sha)
    assert all(r.conclusion == "skipped" for r in elsewhere.values())
    assert not calls


def test_no_running_task_to_tunnel_through_fails_the_plan_clearly(origin: Path, tmp_path: Path) -> None:
    results, _, calls = deploy(origin, tmp_path, workflow="deploy-stg.yml", ref="refs/heads/feature",
                               STANDIN_AWS_NO_TASKS="1")  # fmt: skip
    assert results["stg/plan"].conclusion == "failure"
    assert "no running platform-stg-api task to tunnel through to app" in results["stg/plan"].summary
    assert not [c for c in calls if c["args"][0] in {"preview", "up"}]
