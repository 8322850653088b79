"""Run one job of a workflow file the way a GitHub-hosted runner runs it, for tests.

What is real: the workflow file as committed, a fresh clone of the repository as the workspace, every
`run:` step executed by the shell GitHub uses (`bash -e {0}` by default, `bash --noprofile --norc -eo
pipefail {0}` for `shell: bash`), `${{ }}` expressions substituted into env and scripts, step `if:`
conditions with GitHub's status functions, `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH`,
`$GITHUB_STEP_SUMMARY` and `$GITHUB_EVENT_PATH` with the event payload.

`WorkflowRun` runs a whole workflow as GitHub schedules it: jobs in `needs` order, each on a fresh clone
of the commit, skipped when a job it needs did not succeed or its `if:` is false; matrix `include`
entries; local reusable workflows (`uses: ./.github/workflows/x.yml`) with their `inputs`; a job with an
`environment` waits for `approve(environment, jobs finished so far)`, as required reviewers do (a
rejection fails the job, its steps never run); artifacts pass between jobs only through
upload/download. Background processes a step leaves (the database tunnels) end with their job.

What is a STAND-IN (labelled as such, never evidence of a real engine or AWS run): the `uses:` actions.
`actions/checkout` clones the test repository; `actions/setup-python` links this project's installed
virtualenvs (GitHub's cache, warm); `pulumi/actions` puts `standins/` (pulumi, aws,
session-manager-plugin) on PATH; `aws-actions/configure-aws-credentials` hands out placeholder
credentials that name the role (as step outputs with `output-credentials`, in the job's environment
unless `output-env-credentials: false`), or fails when told to; `actions/upload-artifact` and
`actions/download-artifact` copy files through a directory shared by the jobs of one run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins"
DEFAULT_SHELL = ["bash", "-e"]
BASH_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def tunnel_base_port() -> int:
    """scripts/db-tunnels.sh's first local port, apart per pytest-xdist worker: each GitHub job has a
    machine to itself, but here two workers' jobs would otherwise listen on the same ports at once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return 15432 + 10 * (int(worker) if worker.isdigit() else 0)


@dataclass
class StepResult:
    name: str
    outcome: str
    """success, failure or skipped."""
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobResult:
    steps: list[StepResult]
    summary: str
    skipped: bool = False
    """The job never started (a job it needs failed, or its `if:` was false)."""
    rejected: bool = False
    """Its environment's reviewers rejected it."""

    @property
    def conclusion(self) -> str:
        if self.skipped:
            return "skipped"
        return "failure" if self.rejected or any(s.outcome == "failure" for s in self.steps) else "success"

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def ran(self, name: str) -> bool:
        return self.step(name).outcome != "skipped"


@dataclass
class Job:
    """A job of `workflow` in `workspace`, with an event payload and stand-in settings."""

    workflow: str
    job: str
    workspace: Path
    event: dict[str, Any]
    repository: str = "acme-payments/platform"
    matrix: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    """Extra process environment: the stand-ins' settings (API URL, fixture to replay, ...)."""
    fail_credentials: bool = False
    event_name: str = "pull_request"
    ref: str = "refs/pull/1/merge"
    sha: str = "0" * 40
    """GitHub's merge commit on a pull request: never what a comment should name."""
    inputs: dict[str, Any] = field(default_factory=dict)
    artifacts: Path | None = None
    approve: Callable[[str], bool] | None = None

    def run(self) -> JobResult:
        document = _load(self.workspace / ".github" / "workflows" / self.workflow)
        job = document["jobs"][self.job]
        runner = self.workspace.parent / f"runner-{self.job}"
        runner.mkdir(exist_ok=True)
        self._groups: list[int] = []
        try:
            return self._run(document, job, runner)
        finally:
            for group in self._groups:  # GitHub ends a job's leftover processes with the job
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)

    def _run(self, document: dict[str, Any], job: dict[str, Any], runner: Path) -> JobResult:
        files = {name: runner / name for name in ("output", "env", "path", "summary", "event.json")}
        files["summary"].write_text("")
        files["event.json"].write_text(json.dumps(self.event))
        process_env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "DB_TUNNEL_BASE_PORT": str(tunnel_base_port()),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(files["event.json"]),
            "GITHUB_SHA": self.sha,
            "GITHUB_REF": self.ref,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(files["summary"]),
            "RUNNER_TEMP": str(runner),
            **self.env,
        }
        context = {
            "github": {"event": self.event, "repository": self.repository, "token": "workflow-token",
                       "ref": self.ref, "sha": self.sha, "event_name": self.event_name,
                       "server_url": "https://github.com", "run_id": "4242"},
            "matrix": self.matrix,
            "inputs": self.inputs,
            "steps": {},
            "env": {},
        }  # fmt: skip
        shell = BASH_SHELL if (document.get("defaults") or {}).get("run", {}).get("shell") == "bash" else DEFAULT_SHELL
        env = {**_evaluate_env(document.get("env"), context), **_evaluate_env(job.get("env"), context)}
        context["env"] = env
        environment = job.get("environment")
        if environment is not None:
            name = substitute(str(environment.get("name") if isinstance(environment, dict) else environment), context)
            if self.approve is not None and not self.approve(name):
                return JobResult([StepResult(s.get("name") or s.get("uses") or "run", "skipped") for s in job["steps"]],
                                 files["summary"].read_text(), rejected=True)  # fmt: skip
        extra_path: list[str] = []
        results: list[StepResult] = []
        failed = False
        for index, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
            condition = str(step.get("if", "success()"))
            status = {"failed": failed}
            if not truthy(evaluate(condition, context, status)):
                results.append(StepResult(name, "skipped"))
                continue
            step_env = {**env, **_evaluate_env(step.get("env"), context)}
            for path in (files["output"], files["env"], files["path"]):
                path.write_text("")
            full_env = {**process_env, **step_env, "GITHUB_OUTPUT": str(files["output"]),
                        "GITHUB_ENV": str(files["env"]), "GITHUB_PATH": str(files["path"])}  # fmt: skip
            full_env["PATH"] = os.pathsep.join([*reversed(extra_path), process_env["PATH"]])
            action_outputs: dict[str, str] = {}
            if "uses" in step:
                outcome, output, action_outputs = self._action(step, context, full_env, extra_path, files["env"])
            else:
                script = runner / f"step-{index}.sh"
                script.write_text(substitute(step["run"], context))
                with subprocess.Popen([*shell, str(script)], cwd=self.workspace, env=full_env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True) as process:  # fmt: skip
                    self._groups.append(process.pid)
                    output, _ = process.communicate(timeout=600)
                outcome = "success" if process.returncode == 0 else "failure"
            outputs = {**_key_values(files["output"].read_text()), **action_outputs}
            env.update(_key_values(files["env"].read_text()))
            extra_path += [line for line in files["path"].read_text().splitlines() if line]
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
            failed = failed or outcome == "failure"
            results.append(StepResult(name, outcome, output, outputs))
        return JobResult(results, files["summary"].read_text())

    def _action(
        self, step: dict[str, Any], context: dict[str, Any], env: dict[str, str], extra_path: list[str], env_file: Path
    ) -> tuple[str, str, dict[str, str]]:
        """STAND-INS for the actions a job uses (see the module docstring)."""
        action = step["uses"].split("@", 1)[0]
        inputs = {k: substitute(_to_string(v), context) for k, v in (step.get("with") or {}).items()}
        standins: dict[str, Callable[[dict[str, str], list[str], Path], tuple[str, str, dict[str, str]]]] = {
            "actions/checkout": self._checkout,
            "actions/setup-python": self._setup_python,
            "pulumi/actions": self._pulumi,
            "aws-actions/configure-aws-credentials": self._credentials,
            "actions/upload-artifact": self._upload,
            "actions/download-artifact": self._download,
        }
        if action not in standins:
            raise AssertionError(f"no stand-in for {action}")
        return standins[action](inputs, extra_path, env_file)

    def _checkout(
        self, inputs: dict[str, str], extra_path: list[str], env_file: Path
    ) -> tuple[str, str, dict[str, str]]:
        if "path" not in inputs:
            return "success", "stand-in: the workspace is already a fresh clone", {}
        target = self.workspace / inputs["path"]
        clone = subprocess.run(["git", "clone", "-q", str(self.workspace / ".git"), str(target)],
                               capture_output=True, text=True, check=False)  # fmt: skip
        checkout = subprocess.run(["git", "-C", str(target), "checkout", "-q", inputs.get("ref", "HEAD")],
                                  capture_output=True, text=True, check=False)  # fmt: skip
        ok = clone.returncode == 0 and checkout.returncode == 0
        if not ok:  # as actions/checkout leaves it: a directory without the files
            subprocess.run(["rm", "-rf", str(target)], check=True)
            target.mkdir()
        return ("success" if ok else "failure"), clone.stderr + checkout.stderr, {}

    def _setup_python(
        self, inputs: dict[str, str], extra_path: list[str], env_file: Path
    ) -> tuple[str, str, dict[str, str]]:
        link = self.workspace / "venv"
        if not link.exists():
            link.symlink_to(ROOT / "venv")
        policy_venv = self.workspace / "policies" / "venv"
        if not policy_venv.exists():
            policy_venv.symlink_to(ROOT / "venv")  # it has pulumi-policy (requirements-dev.txt)
        # the warm cache: installed and newer than the clone's requirements and locks
        for stamp in (".installed", ".installed-runtime"):
            (link / stamp).touch()
        for stamp in (".installed-policy", ".installed-runtime"):
            (policy_venv / stamp).touch()
        extra_path.append(str(ROOT / "venv" / "bin"))
        return "success", "stand-in: this project's virtualenv, already installed", {}

    def _pulumi(self, inputs: dict[str, str], extra_path: list[str], env_file: Path) -> tuple[str, str, dict[str, str]]:
        extra_path.append(str(STANDINS))
        return "success", f"stand-in: {STANDINS}/{{pulumi,aws,session-manager-plugin}} on PATH", {}

    def _credentials(
        self, inputs: dict[str, str], extra_path: list[str], env_file: Path
    ) -> tuple[str, str, dict[str, str]]:
        if self.fail_credentials:
            return "failure", "stand-in: Not authorized to perform sts:AssumeRoleWithWebIdentity", {}
        role = inputs["role-to-assume"].rsplit("/", 1)[-1]
        account = inputs["role-to-assume"].split(":")[4]
        allowed = [a.strip() for a in inputs.get("allowed-account-ids", "").split(",") if a.strip()]
        if allowed and account not in allowed:
            return "failure", f"stand-in: the credentials are for account {account}, not {allowed}", {}
        credentials = {"aws-access-key-id": f"STANDIN-{role}", "aws-secret-access-key": "stand-in-secret",
                       "aws-session-token": "stand-in-token", "aws-account-id": account}  # fmt: skip
        if inputs.get("output-env-credentials", "true") != "false":
            with env_file.open("a") as out:
                out.write(f"AWS_ACCESS_KEY_ID=STANDIN-{role}\nAWS_SECRET_ACCESS_KEY=stand-in-secret\n")
        outputs = credentials if inputs.get("output-credentials") == "true" else {}
        return "success", f"stand-in: placeholder credentials of {role}", outputs

    def _upload(self, inputs: dict[str, str], extra_path: list[str], env_file: Path) -> tuple[str, str, dict[str, str]]:
        assert self.artifacts is not None, "artifacts need a WorkflowRun"
        files = [self.workspace / line.strip() for line in inputs["path"].splitlines() if line.strip()]
        found = [f for f in files if f.is_file()]
        if not found:
            outcome = "failure" if inputs.get("if-no-files-found", "warn") == "error" else "success"
            return outcome, f"stand-in: no files found at {inputs['path']}", {}
        root = Path(os.path.commonpath([f.parent for f in found]))  # the least common ancestor, as upload does
        store = self.artifacts / inputs["name"]
        for file in found:
            (store / file.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(file, store / file.relative_to(root))
        return "success", f"stand-in: uploaded {len(found)} file(s) as {inputs['name']}", {}

    def _download(
        self, inputs: dict[str, str], extra_path: list[str], env_file: Path
    ) -> tuple[str, str, dict[str, str]]:
        assert self.artifacts is not None, "artifacts need a WorkflowRun"
        store = self.artifacts / inputs["name"]
        if not store.is_dir():
            return "failure", f"stand-in: Artifact not found for name: {inputs['name']}", {}
        shutil.copytree(store, self.workspace / inputs.get("path", "."), dirs_exist_ok=True)
        return "success", f"stand-in: downloaded {inputs['name']}", {}


@dataclass
class WorkflowRun:
    """A whole workflow, every job on its own fresh clone of `sha` from `origin` (see the module docstring)."""

    workflow: str
    origin: Path
    sha: str
    root: Path
    event_name: str = "push"
    ref: str = "refs/heads/main"
    event: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    approve: Callable[[str, dict[str, JobResult]], bool] = lambda _environment, _done: True
    approvals: list[str] = field(default_factory=list)
    """Environments approval was asked for, in order."""

    def run(self) -> dict[str, JobResult]:
        plan = self._expand(self.workflow, prefix="", inputs={})
        results: dict[str, JobResult] = {}
        artifacts = self.root / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        pending = dict(plan)
        while pending:
            # Of the jobs whose needs are done, the last one in the file first: GitHub may run independent
            # jobs in any order (or at once), so a missing `needs:` must not be hidden by file order.
            key = [k for k, spec in pending.items() if all(n in results for n in spec["needs"])][-1]
            spec = pending.pop(key)
            needs_ok = all(results[n].conclusion == "success" for n in spec["needs"])
            context = {"github": {"ref": self.ref, "sha": self.sha, "event_name": self.event_name,
                                  "event": self.event, "repository": "acme-payments/platform"},
                       "inputs": spec["inputs"], "matrix": spec["matrix"], "needs": {}}  # fmt: skip
            # A job's `if:` sees its needs' results through the status functions (`!cancelled()` runs after
            # a failed need); without an `if:`, a job runs only when every need succeeded.
            conditions = [str(c) for c in spec["if"]]
            allowed = all(truthy(evaluate(c, context, {"failed": not needs_ok})) for c in conditions)
            if not allowed or (not conditions and not needs_ok):
                results[key] = JobResult([], "", skipped=True)
                continue
            workspace = self.root / key.replace("/", "--").replace("[", "-").replace("]", "") / "repo"
            workspace.parent.mkdir(parents=True)
            subprocess.run(["git", "clone", "-q", str(self.origin), str(workspace)], check=True)
            subprocess.run(["git", "-C", str(workspace), "checkout", "-q", self.sha], check=True)

            def approve(environment: str) -> bool:
                self.approvals.append(environment)
                return self.approve(environment, dict(results))

            job = Job(spec["file"], spec["job"], workspace, self.event, matrix=spec["matrix"], env=self.env,
                      event_name=self.event_name, ref=self.ref, sha=self.sha, inputs=spec["inputs"],
                      artifacts=artifacts, approve=approve)  # fmt: skip
            results[key] = job.run()
        return results

    def _expand(self, workflow: str, *, prefix: str, inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Job key -> what to run: called workflows' jobs as `caller/job`, matrix entries as `job[value]`."""
        document = _load(self.origin / ".github" / "workflows" / workflow)
        expanded: dict[str, dict[str, Any]] = {}
        keys: dict[str, list[str]] = {}
        for name, job in document["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            after = [k for n in needs for k in keys[n]]
            condition = [job["if"]] if "if" in job else []
            if str(job.get("uses", "")).startswith("./.github/workflows/"):
                called = self._expand(job["uses"].rsplit("/", 1)[1], prefix=f"{prefix}{name}/",
                                      inputs=dict(job.get("with") or {}))  # fmt: skip
                for spec in called.values():
                    spec["needs"] = [*after, *spec["needs"]]
                    spec["if"] = [*condition, *spec["if"]]
                expanded.update(called)
                keys[name] = list(called)
                continue
            entries = (job.get("strategy") or {}).get("matrix", {}).get("include") or [{}]
            keys[name] = []
            for entry in entries:
                key = f"{prefix}{name}" + (f"[{next(iter(entry.values()))}]" if entry else "")
                expanded[key] = {"file": workflow, "job": name, "needs": after, "if": condition, "inputs": inputs,
                                 "matrix": entry}  # fmt: skip
                keys[name].append(key)
        return expanded


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))
    return document


def _evaluate_env(values: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, str]:
    return {str(k): substitute(_to_string(v), context) for k, v in (values or {}).items()}


def _key_values(text: str) -> dict[str, str]:
    """GitHub's file commands: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


# ----------------------------------------------------------------------------------------- expressions


def substitute(text: str, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: _to_string(evaluate(m.group(1), context, {"failed": False})), text)


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", "0") if not isinstance(value, str) else value != ""


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\))|('(?:[^']|'')*')|([A-Za-z_][\w.\-]*(?:\(\))?)|(\d+))")


def evaluate(expression: str, context: dict[str, Any], status: dict[str, bool]) -> Any:
    """GitHub's expression language, the part the workflows use: literals, context paths, `!`, `==`, `!=`,
    `&&`, `||`, parentheses and the status functions. A bare condition without a status function gets
    an implicit `success() &&`, as GitHub does."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    tokens = _tokenize(text)
    functions: dict[str, Callable[[], bool]] = {
        "success()": lambda: not status["failed"],
        "failure()": lambda: status["failed"],
        "always()": lambda: True,
        "cancelled()": lambda: False,
    }
    uses_status = any(t in functions for t in tokens)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def primary() -> Any:
        token = take()
        if token == "!":
            return not truthy(primary())
        if token == "(":
            value = disjunction()
            assert take() == ")"
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in functions:
            return functions[token]()
        if token.isdigit():
            return int(token)
        if token in ("true", "false"):
            return token == "true"
        value: Any = context
        for part in token.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def comparison() -> Any:
        left = primary()
        while peek() in ("==", "!="):
            operator, right = take(), primary()
            equal = _to_string(left).lower() == _to_string(right).lower() if left is not None or right is not None \
                else True  # fmt: skip
            left = equal if operator == "==" else not equal
        return left

    def conjunction() -> Any:
        left = comparison()
        while peek() == "&&":
            take()
            right = comparison()
            left = right if truthy(left) else left
        return left

    def disjunction() -> Any:
        left = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            left = left if truthy(left) else right
        return left

    value = disjunction()
    assert position == len(tokens), f"cannot read {expression!r}"
    if not uses_status and expression.strip() != "" and status is not None and "failed" in status:
        return value if not status["failed"] else False
    return value


def _tokenize(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise AssertionError(f"cannot read {text!r} at {position}")
        tokens.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    return tokens


if __name__ == "__main__":
    sys.exit("a test helper: see tests/workflows/test_pull_request.py")
