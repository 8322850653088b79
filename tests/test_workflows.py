"""The delivery workflows: who can deploy what, from where, with which permissions and pins."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job["steps"]
    return result


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_four_workflows_exist() -> None:
    assert all_workflows() == ["deploy-prd.yml", "deploy-stg.yml", "drift.yml", "pull-request.yml"]


@pytest.mark.parametrize("name", all_workflows())
def test_every_action_is_pinned_by_commit_sha_with_its_version(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for reference, comment in uses:
        assert PINNED.match(reference), f"{reference} is not pinned to a full commit SHA"
        assert re.search(r"# v\d", comment), f"{reference} has no version comment"


@pytest.mark.parametrize("name", all_workflows())
def test_permissions_are_minimal(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}, "workflow-level permissions must be empty; grant per job"
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        uses = [s.get("uses", "") for s in steps(job)]
        runs = " ".join(s.get("run", "") for s in steps(job))
        assumes_role = any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
        assert (permissions.get("id-token") == "write") is assumes_role, job_name
        assert (permissions.get("pull-requests") == "write") is ("tools.ci comment" in runs), job_name
        assert set(permissions) <= {"contents", "id-token", "pull-requests", "issues"}
        assert all(value in {"read", "write"} for value in permissions.values())


@pytest.mark.parametrize("name", all_workflows())
def test_checkouts_do_not_keep_credentials(name: str) -> None:
    for job in load(name)["jobs"].values():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", all_workflows())
def test_pulumi_cli_is_pinned_to_the_sdk_version(name: str) -> None:
    workflow = load(name)
    pulumi_sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pulumi_sdk is not None
    if "pulumi " in (WORKFLOWS / name).read_text():
        assert workflow["env"]["PULUMI_VERSION"] == pulumi_sdk.group(1)


def test_prd_deploys_only_from_main_in_the_prd_environment() -> None:
    workflow = load("deploy-prd.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": {}}
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "prd"
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert workflow["concurrency"] == {"group": "pulumi-prd", "cancel-in-progress": False}
    credentials = next(s for s in steps(job) if s.get("uses", "").startswith("aws-actions/"))
    assert credentials["with"]["role-to-assume"] == "arn:aws:iam::123456789012:role/platform-prd-deploy-prd"
    assert credentials["with"]["allowed-account-ids"] == "123456789012"
    runs = " ".join(s.get("run", "") for s in steps(job))
    assert "pulumi preview --stack prd" in runs
    assert "pulumi up --stack prd" in runs
    assert runs.count("--policy-pack policies --policy-pack-config policies/config/prd.json") == 2


def test_stg_is_self_serve_one_update_at_a_time() -> None:
    workflow = load("deploy-stg.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": {}}
    (job,) = workflow["jobs"].values()
    assert job["environment"] == "stg"
    assert workflow["concurrency"] == {"group": "pulumi-stg", "cancel-in-progress": False}
    credentials = next(s for s in steps(job) if s.get("uses", "").startswith("aws-actions/"))
    assert credentials["with"]["role-to-assume"].endswith(":role/platform-stg-deploy-stg")


def test_pull_requests_get_offline_previews_of_both_stacks_and_a_real_stg_preview() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}, "never pull_request_target: PR code must not get secrets"
    assert workflow["defaults"] == {"run": {"shell": "bash"}}, "pipefail in every run: step"
    offline = workflow["jobs"]["offline-preview"]
    assert offline["strategy"]["matrix"]["stack"] == ["stg", "prd"]
    assert "id-token" not in offline["permissions"], "the offline preview needs no credentials"
    real = workflow["jobs"]["preview-stg"]
    credentials = next(s for s in steps(real) if s.get("uses", "").startswith("aws-actions/"))
    assert credentials["with"]["role-to-assume"].endswith(":role/platform-stg-preview")
    runs = " ".join(s.get("run", "") for s in steps(real))
    assert "tools.ci pr-engine --stack stg" in runs
    assert "prd" not in runs
    assert workflow["jobs"]["checks"]["steps"][-1]["run"] == "make lint test"


def test_pull_request_steps_hold_no_logic() -> None:
    """Every run: step of the PR workflow is one command: `make ...` or a `tools.ci` entry point."""
    for job in load("pull-request.yml")["jobs"].values():
        for step in steps(job):
            if "run" in step:
                command = step["run"].strip()
                assert "\n" not in command, command
                assert command.startswith(("make ", "venv/bin/python -m tools.ci ", "python3 -m tools.ci ")), command


def test_comment_and_verdict_steps_run_after_a_failure_but_not_after_a_cancel() -> None:
    for job in (load("pull-request.yml")["jobs"][name] for name in ("offline-preview", "preview-stg")):
        for step in steps(job):
            if "tools.ci comment" in step.get("run", "") or "tools.ci verdict" in step.get("run", ""):
                assert step["if"] == "${{ !cancelled() }}"


def test_drift_runs_nightly_for_both_stacks_and_reports_an_issue() -> None:
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"] == [{"cron": "30 18 * * *"}]
    (job,) = workflow["jobs"].values()
    assert {entry["stack"] for entry in job["strategy"]["matrix"]["include"]} == {"stg", "prd"}
    assert job["environment"] == "${{ matrix.stack }}-drift"
    runs = " ".join(s.get("run", "") for s in steps(job))
    assert 'pulumi refresh --stack "$STACK" --preview-only --expect-no-changes' in runs
    assert "gh issue create" in runs
    assert "gh issue comment" in runs


def test_codeowners_give_sre_the_production_levers() -> None:
    owners = dict(
        line.split(None, 1)
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for path in ("/Pulumi.prd.yaml", "/policies/", "/.github/", "/components/access.py", "/bootstrap/"):
        assert owners[path].strip() == "@acme-payments/sre", path


def test_zizmor_finds_nothing() -> None:
    zizmor = shutil.which("zizmor") or str(Path(__file__).resolve().parent.parent / "venv" / "bin" / "zizmor")
    result = subprocess.run([zizmor, "--offline", str(WORKFLOWS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr
