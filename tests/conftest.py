"""Shared fixtures: each stack runs once per test session on the mock runtime; tests assert on it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platform_config import ConfigError, load_platform_config
from tools.mock_runtime import ProgramRun
from tools.offline import PROJECT_DIR, run_stack
from tools.stack_config import StackConfig, load_stack_config

os.environ.pop("PYTHONUNBUFFERED", None)
"""Tests and every process they start run as on a machine that does not set it (it once hid a hang)."""

STACKS = ("stg", "prd")
README_EDITED = ("stg+readme", "prd+readme")
"""Each stack file with the README's "Adding a batch" and "Adding an app" steps applied
(tests/readme_changes.py): whole-stack tests must hold for them too, or following the README breaks CI."""
_RUNS: dict[str, ProgramRun] = {}
_CONFIGS: dict[int, Any] = {}


def stack_variant(variant: str) -> StackConfig:
    """The config map of a stack (`stg`) or of its README-edited copy (`stg+readme`)."""
    from tests.readme_changes import apply_readme_edits

    stack, _, edited = variant.partition("+")
    config = load_stack_config(PROJECT_DIR, stack)
    return apply_readme_edits(config) if edited else config


def stack_run(variant: str) -> ProgramRun:
    """The whole program for a stack variant, run once per process and shared by every test."""
    if variant not in _RUNS:
        config = stack_variant(variant)
        run = run_stack(config.stack, config=config)
        _RUNS[variant] = run
        _CONFIGS[id(run)] = load_platform_config(config.values, stack=config.stack)
    return _RUNS[variant]


def config_of(run: ProgramRun) -> Any:
    """The validated PlatformConfig the whole-stack `run` was built from."""
    return _CONFIGS[id(run)]


@pytest.fixture(params=STACKS + README_EDITED)
def platform(request: pytest.FixtureRequest) -> ProgramRun:
    """Every stack, as committed and as the README's steps leave it: tests of it check invariants."""
    return stack_run(request.param)


@pytest.fixture
def stg() -> ProgramRun:
    return stack_run("stg")


@pytest.fixture
def prd() -> ProgramRun:
    return stack_run("prd")


@pytest.fixture
def stack_values() -> Callable[[str], dict[str, str]]:
    """A fresh copy of a real stack file's config map, to break in a test."""

    def load(stack: str) -> dict[str, str]:
        return dict(load_stack_config(PROJECT_DIR, stack).values)

    return load


def with_area(values: dict[str, str], key: str, change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """`values` with the JSON object at `key` changed in place by `change`."""
    area = json.loads(values[key])
    change(area)
    return {**values, key: json.dumps(area)}


def assert_rejected(
    values: dict[str, str], key: str, change: Callable[[dict[str, Any]], None], expected: str, *, stack: str
) -> ConfigError:
    """Loading `values` with the area at `key` broken by `change` fails with an issue starting `expected`."""

    with pytest.raises(ConfigError) as raised:
        load_platform_config(with_area(values, key, change), stack=stack)
    assert any(str(issue).startswith(expected) for issue in raised.value.issues), str(raised.value)
    return raised.value


def policy_of(resource_inputs: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resource_inputs[key])
    return document


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project (program, its layers, stack files) to run with edited stack files."""
    import shutil

    for item in ("Pulumi.yaml", "Pulumi.stg.yaml", "Pulumi.prd.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / item, tmp_path / item)
    for package in ("platform_lib", "platform_config", "components", "composition"):
        shutil.copytree(PROJECT_DIR / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def stack_config(project_dir: Path, stack: str) -> StackConfig:
    return load_stack_config(project_dir, stack)


def run_component(build: Callable[[], None], *, stack: str = "stg") -> ProgramRun:
    """Run `build` (which creates components directly) on the mock runtime with the stack's account."""
    from tools.mock_runtime import run_program
    from tools.mocks import PlatformMocks

    account = {"stg": "210987654321", "prd": "123456789012"}[stack]
    mocks = PlatformMocks(account_id=account, default_region="ap-northeast-1")
    return run_program(build, project="platform", stack=stack, config={}, secret_keys=[], mocks=mocks)


def platform_config(stack: str) -> Any:
    """The validated PlatformConfig of a real stack file."""
    from platform_config import load_platform_config

    return load_platform_config(load_stack_config(PROJECT_DIR, stack).values, stack=stack)
