"""The delivery workflows: who can deploy what, from where, with which permissions and pins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from platform_lib.github import environments

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


ACTIONS = json.loads((ROOT / "tests" / "workflows" / "actions.json").read_text())["actions"]
ROLE_STEP = "aws-actions/configure-aws-credentials@"


def all_steps(name: str) -> list[dict[str, Any]]:
    return [step for job in load(name)["jobs"].values() for step in job.get("steps", [])]


def test_the_workflows_exist() -> None:
    assert all_workflows() == ["deploy-stack.yml", "deploy-stg.yml", "deploy.yml", "drift.yml", "pull-request.yml"]


@pytest.mark.parametrize("name", all_workflows())
def test_every_action_is_pinned_to_the_recorded_commit_of_its_exact_tag(name: str) -> None:
    uses = re.findall(r"uses: (\S+)(.*)", (WORKFLOWS / name).read_text())
    for reference, comment in uses:
        if reference.startswith("./.github/workflows/"):
            assert (ROOT / reference).is_file(), reference
            continue
        assert PINNED.match(reference), f"{reference} is not pinned to a full commit SHA"
        action, sha = reference.split("@")
        recorded = ACTIONS[action]
        assert sha == recorded["commit"], f"{action}: {sha} is not the commit of {recorded['tag']}"
        assert comment.strip() == f"# {recorded['tag']}", f"{action}: the comment must name the exact tag"
        assert recorded["runs.using"] == "node24", f"{action} {recorded['tag']} does not run on node24"


@pytest.mark.parametrize("name", all_workflows())
def test_every_input_passed_to_an_action_is_declared_by_its_pinned_version(name: str) -> None:
    for step in all_steps(name):
        if "uses" in step:
            action = step["uses"].split("@")[0]
            unknown = set(step.get("with") or {}) - set(ACTIONS[action]["inputs"])
            assert not unknown, f"{action} {ACTIONS[action]['tag']} has no input(s) {sorted(unknown)}"


def test_the_input_check_would_catch_an_undeclared_input() -> None:
    """allowed-account-ids arrived in configure-aws-credentials v5.0.0: v4.2.1's inputs lack it."""
    v4_inputs = set(ACTIONS["aws-actions/configure-aws-credentials"]["inputs"]) - {"allowed-account-ids"}
    assert "allowed-account-ids" not in v4_inputs
    used = {k for s in all_steps("deploy-stack.yml") if s.get("uses", "").startswith(ROLE_STEP) for k in s["with"]}
    assert "allowed-account-ids" in used


@pytest.mark.parametrize("name", all_workflows())
def test_permissions_are_minimal(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}, "workflow-level permissions must be empty; grant per job"
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        assert set(permissions) <= {"actions", "contents", "id-token", "pull-requests", "issues"}
        assert all(value in {"read", "write"} for value in permissions.values())
        if "uses" in job:  # a reusable workflow: the caller grants what its jobs need
            assert permissions == {"contents": "read", "id-token": "write"}, job_name
            continue
        uses = [s.get("uses", "") for s in steps(job)]
        runs = " ".join(s.get("run", "") for s in steps(job))
        assert (permissions.get("id-token") == "write") is any(u.startswith(ROLE_STEP) for u in uses), job_name
        assert (permissions.get("pull-requests") == "write") is ("tools.ci comment" in runs), job_name
        assert (permissions.get("issues") == "write") is ("tools.ci drift-report" in runs), job_name
        assert (permissions.get("actions") == "read") is ("tools.ci environments-check" in runs), job_name
        assert permissions.get("actions") != "write", job_name


@pytest.mark.parametrize("name", all_workflows())
def test_every_run_step_is_one_command_under_pipefail(name: str) -> None:
    workflow = load(name)
    if any("steps" in job for job in workflow["jobs"].values()):
        assert workflow["defaults"] == {"run": {"shell": "bash"}}, "bash --noprofile --norc -eo pipefail"
    for step in all_steps(name):
        if "run" in step:
            command = step["run"].strip()
            assert "\n" not in command, command
            assert command.startswith(("make ", "venv/bin/python -m tools.ci ", "python3 -m tools.ci ")), command


@pytest.mark.parametrize("name", all_workflows())
def test_credentials_come_after_every_install_and_reach_one_step_only(name: str) -> None:
    for job_name, job in load(name)["jobs"].items():
        job_steps = steps(job) if "steps" in job else []
        indexes = [i for i, s in enumerate(job_steps) if s.get("uses", "").startswith(ROLE_STEP)]
        if not indexes:
            continue
        (index,) = indexes
        credentials = job_steps[index]
        assert credentials["with"]["output-credentials"] is True
        assert credentials["with"]["output-env-credentials"] is False, "never in the job's environment"
        assert credentials["with"]["allowed-account-ids"], "the account pin"
        installs = [i for i, s in enumerate(job_steps) if s.get("run", "").startswith("make ")]
        assert installs, f"{job_name}: nothing installed before the credentials"
        assert max(installs) < index, f"{job_name}: an install runs after the credentials"
        assert [s.get("run") for s in job_steps if s.get("run", "").startswith("make ")] == ["make runtime"], (
            f"{job_name}: only the hash-checked runtime is installed where credentials are used"
        )
        users = [s for s in job_steps if "steps.aws.outputs" in json.dumps(s)]
        assert len(users) == 1, f"{job_name}: the credentials must reach exactly one step"
        assert set(users[0]["env"]) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def test_the_runtime_lock_pins_every_requirement_with_hashes() -> None:
    for requirements, lock in (("requirements.txt", "requirements.lock"),
                               ("policies/requirements.txt", "policies/requirements.lock")):  # fmt: skip
        pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / requirements).read_text(), re.M))
        locked_text = (ROOT / lock).read_text()
        locked = {
            name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", locked_text, re.M)
        }
        assert pins
        for name, version in pins.items():
            assert locked.get(name.lower()) == version, f"{lock}: {name} is not locked at {version} (run `make lock`)"
        entries = re.split(r"\n(?=[A-Za-z])", locked_text.split("\n\n", 1)[-1].strip())
        assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in makefile


def stack_account(stack: str) -> str:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return str(config["platform:general"]["accountId"])


def test_main_deploys_stg_then_prd_and_only_from_main() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": {}}
    stg, prd = workflow["jobs"]["stg"], workflow["jobs"]["prd"]
    assert prd["needs"] == "stg", "prd deploys a commit only after stg deployed it"
    for stack, job in (("stg", stg), ("prd", prd)):
        assert job["uses"] == "./.github/workflows/deploy-stack.yml"
        assert job["if"] == "github.ref == 'refs/heads/main'"
        assert job["with"] == {"stack": stack, "account": stack_account(stack)}


def test_a_branch_deploys_to_stg_only() -> None:
    workflow = load("deploy-stg.yml")
    assert workflow["on"] == {"workflow_dispatch": {}}
    (job,) = workflow["jobs"].values()
    assert job["with"] == {"stack": "stg", "account": stack_account("stg")}


def test_each_stack_plans_with_the_plan_role_and_applies_in_its_environment() -> None:
    workflow = load("deploy-stack.yml")
    assert set(workflow["on"]) == {"workflow_call"}
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert plan["environment"] == "${{ inputs.stack }}-plan"
    assert apply["environment"] == "${{ inputs.stack }}"
    assert apply["needs"] == "plan"
    for job, role in ((plan, "plan"), (apply, "deploy-${{ inputs.stack }}")):
        assert job["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
        credentials = next(s for s in steps(job) if s.get("uses", "").startswith(ROLE_STEP))
        assert credentials["with"]["role-to-assume"] == (
            f"arn:aws:iam::${{{{ inputs.account }}}}:role/platform-${{{{ inputs.stack }}}}-{role}"
        )
        assert credentials["with"]["allowed-account-ids"] == "${{ inputs.account }}"
    runs = [s.get("run", "") for s in steps(plan) + steps(apply)]
    assert 'python3 -m tools.ci plan --stack "$STACK" --tunnels' in runs
    assert 'python3 -m tools.ci apply --stack "$STACK" --plan-dir plan --tunnels' in runs


def test_drift_runs_nightly_with_the_look_only_role_and_the_databases_with_the_plan_role() -> None:
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"] == [{"cron": "30 18 * * *"}]
    jobs = workflow["jobs"]
    look, databases = jobs["drift"], jobs["drift-databases"]
    checks = {e["check"]: e for e in look["strategy"]["matrix"]["include"]}
    assert set(checks) == {"stg", "prd", "bootstrap-stg", "bootstrap-prd"}
    for name, entry in checks.items():
        stack, account = entry["stack"], entry["account"]
        assert account == stack_account(stack)
        bucket = "bootstrap-state" if entry["project"] == "platform-bootstrap" else "pulumi-state"
        assert entry["backend"] == f"s3://platform-{stack}-{bucket}-{account}", name
        assert entry["group"] == (f"pulumi-{stack}" if entry["project"] == "platform" else f"bootstrap-{stack}")
    assert look["environment"] == "${{ matrix.stack }}-drift"
    assert look["concurrency"] == {"group": "${{ matrix.group }}", "cancel-in-progress": False}
    role = next(s for s in steps(look) if s.get("uses", "").startswith(ROLE_STEP))["with"]["role-to-assume"]
    assert role.endswith(":role/platform-${{ matrix.stack }}-drift")
    runs = [s.get("run", "") for s in steps(look)]
    assert 'python3 -m tools.ci drift --stack "$STACK" --project "$PROJECT"' in runs
    assert not any("--tunnels" in run for run in runs), "the look-only role opens no session"
    assert {e["stack"]: e["account"] for e in databases["strategy"]["matrix"]["include"]} == {
        stack: stack_account(stack) for stack in ("stg", "prd")
    }
    assert databases["environment"] == "${{ matrix.stack }}-plan"
    assert (databases["needs"], databases["if"]) == ("drift", "${{ !cancelled() }}"), "never two waiting in a group"
    assert databases["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}
    runs = [s.get("run", "") for s in steps(databases)]
    assert 'python3 -m tools.ci drift --stack "$STACK" --part databases --tunnels' in runs
    assert 'python3 -m tools.ci drift-report --stack "$STACK" --part databases' in runs


def test_every_environment_a_job_uses_is_declared_and_unlocks_the_role_the_job_assumes() -> None:
    """A job's environment decides which role GitHub lets it assume (the trust names the environment):
    every job that assumes a role runs in the environment platform_lib/github.py declares for it."""
    declared = {e.name: e for stack in ("stg", "prd") for e in environments(stack)}
    for name in all_workflows():
        for job in load(name)["jobs"].values():
            credentials = [s for s in job.get("steps", []) if s.get("uses", "").startswith(ROLE_STEP)]
            if not credentials or "environment" not in job:
                continue
            role_arn = credentials[0]["with"]["role-to-assume"]
            for stack in ("stg", "prd"):
                environment = job["environment"].replace("${{ matrix.stack }}", stack).replace(
                    "${{ inputs.stack }}", stack)  # fmt: skip
                role = role_arn.split(":role/platform-")[1].replace("${{ matrix.stack }}", stack).replace(
                    "${{ inputs.stack }}", stack)  # fmt: skip
                assert environment in declared, (name, environment)
                assert f"{stack}-{declared[environment].role}" == role, (name, environment, role)


def test_workflows_assume_only_roles_the_bootstrap_creates() -> None:
    text = "".join((WORKFLOWS / name).read_text() for name in all_workflows())
    text = re.sub(r"\$\{\{ (?:inputs|matrix)\.stack \}\}", "<stack>", text)
    suffixes = set(re.findall(r":role/platform-(?:\w+|<stack>)-(\S+)", text))
    assert suffixes == {"plan", "deploy-<stack>", "preview", "drift"}
    access = (ROOT / "components" / "access.py").read_text()
    assert 'self._role("plan"' in access
    assert 'self._role("drift"' in access
    assert 'f"deploy-{env}"' in access
    assert '"preview", github_trust' in access


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


def test_comment_and_verdict_steps_run_after_a_failure_but_not_after_a_cancel() -> None:
    for job in (load("pull-request.yml")["jobs"][name] for name in ("offline-preview", "preview-stg")):
        for step in steps(job):
            if "tools.ci comment" in step.get("run", "") or "tools.ci verdict" in step.get("run", ""):
                assert step["if"] == "${{ !cancelled() }}"


def test_codeowners_give_sre_the_production_levers() -> None:
    owners = dict(
        line.split(None, 1)
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line and not line.startswith("#")
    )
    # Everything a prd deploy runs or installs: the program, its defaults, its requirements, the workflows.
    for path in ("/Pulumi.prd.yaml", "/policies/", "/.github/", "/components/", "/platform_config/",
                 "/platform_lib/", "/bootstrap/", "/Makefile", "/requirements.lock", "/requirements.txt",
                 "/pyproject.toml", "/functions/", "/tools/"):  # fmt: skip
        assert owners[path].strip() == "@acme-payments/sre", path
    assert "/Pulumi.stg.yaml" not in owners  # developers change staging themselves


def test_zizmor_finds_nothing() -> None:
    zizmor = shutil.which("zizmor") or str(Path(__file__).resolve().parent.parent / "venv" / "bin" / "zizmor")
    result = subprocess.run([zizmor, "--offline", str(WORKFLOWS)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr
