"""Run one job of a workflow file the way a GitHub-hosted runner runs it, for tests.

What is real: the workflow file as committed, a fresh clone of the repository as the workspace, every
`run:` step executed by the shell GitHub uses (`bash -e {0}` by default, `bash --noprofile --norc -eo
pipefail {0}` for `shell: bash`), `${{ }}` expressions substituted into env and scripts, step `if:`
conditions with GitHub's status functions, `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH`,
`$GITHUB_STEP_SUMMARY` and `$GITHUB_EVENT_PATH` with the event payload.

What is a STAND-IN (labelled as such, never evidence of a real engine or AWS run): the `uses:` actions.
`actions/checkout` clones the test repository; `actions/setup-python` links this project's installed
virtualenv (GitHub's pip cache, warm); `pulumi/actions` puts `standins/pulumi` on PATH; and
`aws-actions/configure-aws-credentials` exports placeholder credentials (or fails, when told to).
"""

from __future__ import annotations

import json
import os
import re
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

    @property
    def conclusion(self) -> str:
        return "failure" if any(s.outcome == "failure" for s in self.steps) else "success"

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

    def run(self) -> JobResult:
        document = _load(self.workspace / ".github" / "workflows" / self.workflow)
        job = document["jobs"][self.job]
        runner = self.workspace.parent / f"runner-{self.job}"
        runner.mkdir(exist_ok=True)
        files = {name: runner / name for name in ("output", "env", "path", "summary", "event.json")}
        files["summary"].write_text("")
        files["event.json"].write_text(json.dumps(self.event))
        process_env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(files["event.json"]),
            "GITHUB_SHA": "0" * 40,  # GitHub's merge commit: never what the comment should name
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_STEP_SUMMARY": str(files["summary"]),
            "RUNNER_TEMP": str(runner),
            **self.env,
        }
        context = {
            "github": {"event": self.event, "repository": self.repository, "token": "workflow-token",
                       "ref": "refs/pull/1/merge", "server_url": "https://github.com", "run_id": "4242"},
            "matrix": self.matrix,
            "steps": {},
            "env": {},
        }  # fmt: skip
        shell = BASH_SHELL if (document.get("defaults") or {}).get("run", {}).get("shell") == "bash" else DEFAULT_SHELL
        env = {**_evaluate_env(document.get("env"), context), **_evaluate_env(job.get("env"), context)}
        context["env"] = env
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
            if "uses" in step:
                outcome, output = self._action(step, context, full_env, extra_path)
            else:
                script = runner / f"step-{index}.sh"
                script.write_text(substitute(step["run"], context))
                done = subprocess.run([*shell, str(script)], cwd=self.workspace, env=full_env, capture_output=True,
                                      text=True, stdin=subprocess.DEVNULL, timeout=600, check=False)  # fmt: skip
                outcome, output = ("success" if done.returncode == 0 else "failure"), done.stdout + done.stderr
            outputs = _key_values(files["output"].read_text())
            env.update(_key_values(files["env"].read_text()))
            extra_path += [line for line in files["path"].read_text().splitlines() if line]
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
            failed = failed or outcome == "failure"
            results.append(StepResult(name, outcome, output, outputs))
        return JobResult(results, files["summary"].read_text())

    def _action(
        self, step: dict[str, Any], context: dict[str, Any], env: dict[str, str], extra_path: list[str]
    ) -> tuple[str, str]:
        """STAND-INS for the actions a job uses (see the module docstring)."""
        action = step["uses"].split("@", 1)[0]
        inputs = {k: substitute(str(v), context) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            if "path" not in inputs:
                return "success", "stand-in: the workspace is already a fresh clone"
            target = self.workspace / inputs["path"]
            clone = subprocess.run(["git", "clone", "-q", str(self.workspace / ".git"), str(target)],
                                   capture_output=True, text=True, check=False)  # fmt: skip
            checkout = subprocess.run(["git", "-C", str(target), "checkout", "-q", inputs.get("ref", "HEAD")],
                                      capture_output=True, text=True, check=False)  # fmt: skip
            ok = clone.returncode == 0 and checkout.returncode == 0
            if not ok:  # as actions/checkout leaves it: a directory without the files
                subprocess.run(["rm", "-rf", str(target)], check=True)
                target.mkdir()
            return ("success" if ok else "failure"), clone.stderr + checkout.stderr
        if action == "actions/setup-python":
            link = self.workspace / "venv"
            if not link.exists():
                link.symlink_to(ROOT / "venv")
            (link / ".installed").touch()  # the warm cache: installed and newer than the clone's requirements
            policy_venv = self.workspace / "policies" / "venv"
            if not policy_venv.exists():
                policy_venv.symlink_to(ROOT / "venv")  # it has pulumi-policy (requirements-dev.txt)
            (policy_venv / ".installed-policy").touch()
            extra_path.append(str(ROOT / "venv" / "bin"))
            return "success", "stand-in: this project's virtualenv, already installed"
        if action == "pulumi/actions":
            extra_path.append(str(STANDINS))
            return "success", f"stand-in: {STANDINS / 'pulumi'} on PATH"
        if action == "aws-actions/configure-aws-credentials":
            if self.fail_credentials:
                return "failure", "stand-in: Not authorized to perform sts:AssumeRoleWithWebIdentity"
            return "success", "stand-in: placeholder credentials"
        raise AssertionError(f"no stand-in for {action}")


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))
    return document


def _evaluate_env(values: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, str]:
    return {str(k): substitute(str(v), context) for k, v in (values or {}).items()}


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
