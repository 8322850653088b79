"""Run one stack of the project offline: its stack file's config, the platform mocks, the real program."""

from __future__ import annotations

import warnings
from pathlib import Path

from tools.mock_runtime import ProgramRun, run_program
from tools.mocks import PlatformMocks
from tools.stack_config import StackConfig, load_stack_config

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLACEHOLDER_ACCOUNT = "000000000000"


def run_stack(stack: str, *, project_dir: Path = PROJECT_DIR, config: StackConfig | None = None) -> ProgramRun:
    """The program of `project_dir` with `stack`'s config on the mock runtime (a preview, no cloud)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    stack_config = config or load_stack_config(project_dir, stack)
    general = stack_config.config_value(f"{stack_config.project}:general")
    account = general.get("accountId") if isinstance(general, dict) else None
    mocks = PlatformMocks(
        account_id=str(account or PLACEHOLDER_ACCOUNT),
        default_region=stack_config.values.get("aws:region", "ap-northeast-1"),
    )
    return run_program(
        project_dir,
        project=stack_config.project,
        stack=stack,
        config=stack_config.values,
        secret_keys=stack_config.secret_keys,
        mocks=mocks,
    )
