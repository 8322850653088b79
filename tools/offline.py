"""Run one stack of the project offline: its stack file's config, the platform mocks, the real program."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

from tools.mock_runtime import ProgramRun, run_program
from tools.mocks import PlatformMocks
from tools.stack_config import StackConfig, load_stack_config, secret_placeholder

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLACEHOLDER_ACCOUNT = "000000000000"


def with_declared_secrets(config: StackConfig) -> tuple[StackConfig, list[str]]:
    """The config with a placeholder for every secure key the program declares but the file lacks.

    Secure values are set by an SRE with `pulumi config set --secret` (encrypted with the stack's KMS
    key), so a fresh stack file may not have them yet. Offline they become placeholders, reported
    back so the preview can say so; a real run fails on the missing key.
    """
    declared = declared_secrets(config.project, config.stack)
    missing = sorted(key for key in declared if key not in config.values)
    values = {**config.values, **{key: declared[key] or secret_placeholder(key) for key in missing}}
    secret_keys = sorted({*config.secret_keys, *missing})
    return StackConfig(project=config.project, stack=config.stack, values=values, secret_keys=secret_keys), missing


def declared_secrets(project: str, stack: str) -> dict[str, str]:
    """The secure config keys a project's program reads, each with its offline placeholder ("": the
    generic one). The bootstrap's differ per stack."""
    if project == "platform-bootstrap":
        from platform_config.bootstrap import SECRET_KEYS as BOOTSTRAP_SECRET_KEYS

        return dict(BOOTSTRAP_SECRET_KEYS.get(stack, {}))
    from platform_config import NAMESPACE, SECRET_KEYS

    return {f"{NAMESPACE}:{key}": "" for key in SECRET_KEYS}


GC_THRESHOLDS = (100_000, 50, 100)
"""Collect young objects every 100k allocations instead of 700: a preview allocates millions of
short-lived Outputs and tasks, and at the default rate the collector's passes over the growing set
of live resources made the cost per resource grow with the stack."""


def prepare_runtime() -> None:
    """Move everything alive now (the imported SDKs: hundreds of thousands of objects) out of the
    garbage collector's reach, and collect less often. The process lives for one preview; without
    this every full collection walks the SDKs again: about a third of a preview's time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_stack(stack: str, *, project_dir: Path = PROJECT_DIR, config: StackConfig | None = None) -> ProgramRun:
    """The program of `project_dir` with `stack`'s config on the mock runtime (a preview, no cloud)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    prepare_runtime()
    stack_config, _ = with_declared_secrets(config or load_stack_config(project_dir, stack))
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
