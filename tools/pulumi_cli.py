"""The `pulumi` commands the workflows run, built in one place, and one way to run them.

Standard library only: the workflow steps that call it run with the runner's `python3` too. Formats
and flags are those of the pinned CLI (`PULUMI_VERSION` in the workflows), read in pulumi/pulumi's
sources at v3.259.0 (the newest tag this project could read; see tests/tools/fixtures/README.md):

- `preview --json` with `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true` prints one apitype.EngineEvent per
  line, policy events included (pkg/backend/display/display.go); without the variable it prints one
  digest document that drops them.
- `refresh --preview-only --json` prints the same event stream; `--exclude`/`--target` take URNs or
  globs (pkg/cmd/pulumi/operations/refresh.go, deploy.NewUrnTargets). A refreshed resource's
  `resOutputsEvent` carries the refresh's *result* op (`same`, `update`, `delete`) with the drifted
  property keys in `diffs`/`detailedDiff` (pkg/engine/update.go, RefreshStep.ResultOp in
  pkg/resource/deploy/step.go). `--run-program` runs the program, so the providers are configured as
  the program configures them today (not as recorded in state by the last update).
- `preview --save-plan` is marked [PREVIEW] and `up --plan` [EXPERIMENTAL], hidden unless
  PULUMI_EXPERIMENTAL is set (pkg/cmd/pulumi/operations/up.go): so a deploy's plan is the preview's
  output plus the commit and a fingerprint of the stack's state, and `apply` refuses when either
  changed (tools/deploy.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TIMEOUT_SECONDS = 3_000
STREAMING = {"PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true", "PULUMI_SKIP_UPDATE_CHECK": "true"}


def policy_flags(stack: str) -> list[str]:
    return ["--policy-pack", "policies", "--policy-pack-config", f"policies/config/{stack}.json"]


def preview_command(stack: str) -> list[str]:
    """The real preview, with the policy pack and its per-stack config, as JSON engine events."""
    return ["pulumi", "preview", "--stack", stack, "--json", "--non-interactive", "--color", "never",
            *policy_flags(stack)]  # fmt: skip


def up_command(stack: str) -> list[str]:
    """The update, after its plan was confirmed (so without the CLI's own second preview)."""
    return ["pulumi", "up", "--stack", stack, "--yes", "--skip-preview", "--non-interactive", "--color", "never",
            *policy_flags(stack)]  # fmt: skip


DRIFT_ROLE_CANNOT_READ = ("postgresql:index/", "aws:secretsmanager/secretVersion:SecretVersion")
"""Types whose refresh reads a secret value: Postgres objects (the provider logs in as the master user)
and SecretVersions (their value). The look-only drift role leaves them out; the `databases` part,
with the plan role and the database tunnels, reads only them."""
DRIFT_PARTS = ("resources", "databases")


def refresh_preview_command(stack: str, *, project: str = "platform", part: str = "resources") -> list[str]:
    """What a refresh would change, and nothing else: no state is written (a `--preview-only` refresh
    takes no lock either). Without `--expect-no-changes`: drift is read from the events, and a
    non-zero exit means the check itself failed. URN globs: `*` within a URN segment, `**` across.

    - `resources`: every resource but `DRIFT_ROLE_CANNOT_READ` (`--exclude`), the providers as the
      state records them (no `--run-program`: the program would read secret values).
    - `databases`: only those (`--target`), with `--run-program`, so the postgresql provider is
      configured as the program configures it today (the tunnels of this run)."""
    command = ["pulumi", "refresh", "--stack", stack, "--preview-only", "--json", "--non-interactive",
               "--color", "never"]  # fmt: skip
    globs = [f"urn:pulumi:{stack}::{project}::**{token}**" for token in DRIFT_ROLE_CANNOT_READ]
    if part == "databases":
        return [*command, "--run-program", *(arg for glob in globs for arg in ("--target", glob))]
    if part != "resources":
        raise ValueError(f"part {part!r}: one of {DRIFT_PARTS}")
    return [*command, *(arg for glob in globs for arg in ("--exclude", glob))]


def export_command(stack: str) -> list[str]:
    return ["pulumi", "stack", "export", "--stack", stack]


@dataclass(frozen=True)
class Result:
    code: int
    stdout: Path
    log: Path

    @property
    def output(self) -> str:
        return self.stdout.read_text(errors="replace") if self.stdout.is_file() else ""

    @property
    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def run(
    command: list[str], *, stdout: Path, log: Path, cwd: Path, timeout: int = TIMEOUT_SECONDS, live: bool = False
) -> Result:
    """Run `command` with stdout and stderr each to a file (`live`: stdout is also copied to this process's
    stdout as it comes, for an `up` an SRE watches); a missing CLI or a timeout is an exit code (127, 124)
    with its reason in the log, never an exception."""
    stdout.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **STREAMING}
    try:
        with stdout.open("wb") as out, log.open("wb") as err:
            if not live:
                code = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      timeout=timeout, check=False).returncode  # fmt: skip
            else:
                code = _tee(command, cwd=cwd, env=env, out=out, err=err, timeout=timeout)
    except FileNotFoundError:
        log.write_text(f"{command[0]}: not on PATH\n")
        code = 127
    except subprocess.TimeoutExpired:
        with log.open("a") as err:
            err.write(f"\n`{' '.join(command[:2])}` did not finish within {timeout} s\n")
        code = 124
    return Result(code, stdout, log)


def _tee(command: list[str], *, cwd: Path, env: dict[str, str], out: IO[bytes], err: IO[bytes], timeout: int) -> int:
    deadline = time.monotonic() + timeout
    with subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=err) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            if time.monotonic() > deadline:
                process.kill()
                raise subprocess.TimeoutExpired(command, timeout)
        return process.wait()
